// Traces: the recent ones (newest first, paged), finding one by tag or id, and one trace as a
// tree from its events through rule firings to executions and their workflow tasks, with timings.

import * as api from '../api.js';
import * as live from '../live.js';
import { h, append, replace, link, time, badge, duration, elapsed, errorBox } from '../dom.js';
import { table, emptyRow, pager } from '../components.js';

/** Executions fetched per trace; a larger trace shows the rest as ids. */
const MAX_FETCH = 200;

/** Traces per page of the list. */
const PAGE_SIZE = 50;

const TRACE_COLUMNS = [
  { label: 'Trace' }, { label: 'Tag', class: 'wide' }, { label: 'Started' },
  { label: 'Events', class: 'num' }, { label: 'Rule firings', class: 'num' }, { label: 'Executions', class: 'num' },
];

function traceRow(trace) {
  return h('tr', { dataset: { id: trace.id } },
    h('td', {}, link(`/traces/${encodeURIComponent(trace.id)}`, h('code', {}, trace.id))),
    h('td', { class: 'wide break' }, trace.trace_tag),
    h('td', {}, time(trace.start_timestamp)),
    h('td', { class: 'num' }, String(trace.trigger_instances.length)),
    h('td', { class: 'num' }, String(trace.rules.length)),
    h('td', { class: 'num' }, String(trace.action_executions.length)));
}

/**
 * A server-paged list of traces, newest first, optionally only those with `tag`. On its first
 * page it reloads shortly after an execution starts, since that execution's trace changed.
 */
function traceList(ctx, { tag, caption }) {
  const box = h('div', { class: 'trace-list' });
  let offset = tag ? 0 : Number(ctx.query.offset || 0);
  let timer = null;
  async function load() {
    try {
      const { data, total } = await api.get('/traces', { trace_tag: tag, limit: PAGE_SIZE, offset }, ctx.signal);
      const empty = tag ? `No trace has the tag or id ${tag}.` : 'No traces yet: every event and every run starts one.';
      replace(box,
        table(TRACE_COLUMNS, data.length ? data.map(traceRow) : emptyRow(TRACE_COLUMNS.length, empty),
          { id: 'trace-list', 'aria-label': caption }),
        total > PAGE_SIZE ? pager({
          offset, limit: PAGE_SIZE, total, label: `${caption} pages`,
          onPage: (next) => { offset = next; if (!tag) ctx.setQuery({ offset: next || '' }); load(); },
        }) : null);
    } catch (error) {
      if (!api.isAbort(error)) replace(box, errorBox(error));
    }
  }
  const soon = () => {
    if (offset !== 0) return;
    clearTimeout(timer);
    timer = setTimeout(load, 1000);
  };
  ctx.onCleanup(() => clearTimeout(timer));
  ctx.onCleanup(live.subscribe({ create: soon, reconnect: load }));
  load();
  return box;
}

async function search(ctx) {
  const tag = ctx.query.trace_tag || '';
  const input = h('input', { id: 'trace-tag', type: 'search', value: tag, placeholder: 'trace tag or trace id' });
  const box = h('section', { 'aria-labelledby': 'traces-heading' });
  ctx.main.append(h('h1', {}, 'Traces'),
    h('form', {
      class: 'filters', role: 'search',
      onsubmit: (event) => { event.preventDefault(); ctx.navigate('/traces', { trace_tag: input.value.trim() }); },
    }, h('label', { for: 'trace-tag' }, 'Trace tag or id'), input, h('button', { type: 'submit' }, 'Find')),
    h('p', { class: 'muted' }, 'Every execution and event page links to its trace.'),
    box);
  if (!tag) {
    append(box, [h('h2', { id: 'traces-heading' }, 'Recent traces'), traceList(ctx, { caption: 'Recent traces' })]);
    return;
  }
  // A tag first (a run's own trace is tagged with its id), then an id; one trace opens directly.
  const { data: tagged, total } = await api.get('/traces', { trace_tag: tag, limit: 2 }, ctx.signal);
  let only = total === 1 && tagged[0].id === tag ? tagged[0] : null;
  if (total === 0) {
    only = await api.get(`/traces/${encodeURIComponent(tag)}`, {}, ctx.signal).then((r) => r.data).catch((error) => {
      if (api.isAbort(error)) throw error;
      return null;
    });
  }
  if (only) {
    ctx.navigate(`/traces/${encodeURIComponent(only.id)}`);
    return;
  }
  append(box, [h('h2', { id: 'traces-heading' }, `Traces tagged ${tag}`),
    traceList(ctx, { tag, caption: 'Traces' }),
    h('p', {}, link('/traces', 'All recent traces'))]);
}

async function fetchAll(ids, fetchOne) {
  const results = new Map();
  const queue = ids.slice(0, MAX_FETCH);
  const workers = Array.from({ length: 6 }, async () => {
    while (queue.length) {
      const id = queue.shift();
      try {
        results.set(id, await fetchOne(id));
      } catch (error) {
        if (api.isAbort(error)) throw error;
      }
    }
  });
  await Promise.all(workers);
  return results;
}

function timing(start, end) {
  const took = elapsed(start, end);
  return h('span', { class: 'timing' }, time(start), took === null ? '' : ` · ${end ? '' : 'running '}${duration(took)}`);
}

async function detail(ctx) {
  const id = ctx.params.id;
  const { data: trace } = await api.get(`/traces/${encodeURIComponent(id)}`, {}, ctx.signal);
  const executionIds = trace.action_executions.map((c) => c.object_id);
  const eventIds = trace.trigger_instances.map((c) => c.object_id);
  const [executions, events] = await Promise.all([
    fetchAll(executionIds, (x) => api.get(`/executions/${x}`, { max_result_bytes: 0 }, ctx.signal).then((r) => r.data)),
    fetchAll(eventIds, (x) => api.get(`/triggerinstances/${x}`, {}, ctx.signal).then((r) => r.data)),
  ]);
  // children[kind:id] = components caused by it.
  const children = new Map();
  const add = (parent, node) => {
    const key = parent ? `${parent.type}:${parent.id}` : 'root';
    if (!children.has(key)) children.set(key, []);
    children.get(key).push(node);
  };
  for (const c of trace.trigger_instances) add(c.caused_by, { kind: 'trigger_instance', c });
  for (const c of trace.rules) add(c.caused_by, { kind: 'rule', c });
  for (const c of trace.action_executions) {
    const execution = executions.get(c.object_id);
    // A workflow task hangs under its parent execution even when the trace says the rule.
    const parent = execution && execution.parent ? { type: 'execution', id: execution.parent } : c.caused_by;
    add(parent, { kind: 'execution', c });
  }
  const seen = new Set();
  function nodeView(node) {
    const { kind, c } = node;
    const key = `${kind}:${c.object_id}`;
    if (seen.has(key)) return null;
    seen.add(key);
    let label;
    if (kind === 'trigger_instance') {
      const ti = events.get(c.object_id);
      label = [h('span', { class: 'kind' }, 'event'), link(`/events/${c.object_id}`, c.ref.split('?')[0]), ' ',
        h('span', { class: 'timing' }, time(ti ? ti.occurrence_time : c.updated_at))];
    } else if (kind === 'rule') {
      label = [h('span', { class: 'kind' }, 'rule'), link(`/rules/${encodeURIComponent(c.ref)}`, c.ref), ' ', time(c.updated_at)];
    } else {
      const e = executions.get(c.object_id);
      label = [h('span', { class: 'kind' }, 'execution'), link(`/executions/${c.object_id}`, c.ref), ' ',
        e ? [badge(e.status), ' ', timing(e.start_timestamp, e.end_timestamp)] : time(c.updated_at)];
    }
    const keys = kind === 'trigger_instance' ? [`trigger_instance:${c.object_id}`]
      : kind === 'rule' ? [`rule:${c.object_id}`, `rule_enforcement:${c.object_id}`]
        : [`execution:${c.object_id}`, `action_execution:${c.object_id}`];
    // Rules are recorded by enforcement id; their executions name it.
    const kids = keys.flatMap((k) => children.get(k) || []);
    return h('li', { dataset: { kind } }, h('div', { class: 'node' }, label),
      kids.length ? h('ul', {}, kids.map(nodeView)) : null);
  }
  const roots = children.get('root') || [];
  const tree = h('ul', { class: 'tree', id: 'trace-tree', role: 'tree', 'aria-label': 'Trace' }, roots.map(nodeView));
  // Components whose cause is not in this trace are shown at the top level, so nothing is lost.
  for (const [key, nodes] of children) {
    if (key === 'root') continue;
    for (const node of nodes) {
      const view = nodeView(node);
      if (view) tree.append(view);
    }
  }
  ctx.main.append(h('h1', {}, `Trace ${trace.trace_tag || trace.id}`),
    h('p', {}, 'Started ', time(trace.start_timestamp), ` · ${eventIds.length} events, ${trace.rules.length} rule firings, ${executionIds.length} executions`),
    ...(executionIds.length > MAX_FETCH ? [h('p', { class: 'notice warn' }, `Details of the first ${MAX_FETCH} executions are shown.`)] : []),
    h('section', { class: 'card' }, tree));
}

export default { search, detail };
