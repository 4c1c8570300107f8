// Traces: find one by tag, and one trace as a tree from its events through rule firings to
// executions and their workflow tasks, with timings.

import * as api from '../api.js';
import { h, replace, link, time, badge, duration, elapsed } from '../dom.js';
import { table, emptyRow } from '../components.js';

/** Executions fetched per trace; a larger trace shows the rest as ids. */
const MAX_FETCH = 200;

async function search(ctx) {
  const tag = ctx.query.trace_tag || '';
  const input = h('input', { id: 'trace-tag', type: 'search', value: tag, placeholder: 'trace tag or trace id' });
  const box = h('div');
  ctx.main.append(h('h1', {}, 'Traces'),
    h('form', {
      class: 'filters', role: 'search',
      onsubmit: (event) => { event.preventDefault(); ctx.navigate('/traces', { trace_tag: input.value.trim() }); },
    }, h('label', { for: 'trace-tag' }, 'Trace tag or id'), input, h('button', { type: 'submit' }, 'Find')),
    h('p', { class: 'muted' }, 'Every execution and event page links to its trace.'),
    box);
  if (!tag) return;
  const byId = await api.get(`/traces/${encodeURIComponent(tag)}`, {}, ctx.signal).then((r) => r.data).catch(() => null);
  if (byId) {
    ctx.navigate(`/traces/${byId.id}`);
    return;
  }
  const { data } = await api.get('/traces', { trace_tag: tag, limit: 100 }, ctx.signal);
  const columns = [{ label: 'Trace' }, { label: 'Tag' }, { label: 'Started' }, { label: 'Events', class: 'num' }, { label: 'Executions', class: 'num' }];
  replace(box, table(columns, data.length ? data.map((t) => h('tr', {},
    h('td', {}, link(`/traces/${t.id}`, h('code', {}, t.id))), h('td', {}, t.trace_tag), h('td', {}, time(t.start_timestamp)),
    h('td', { class: 'num' }, String(t.trigger_instances.length)), h('td', { class: 'num' }, String(t.action_executions.length))))
    : emptyRow(5, `No trace has the tag ${tag}.`), { 'aria-label': 'Traces' }));
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
