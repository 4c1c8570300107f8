// Executions: the filterable, server-paged, live list; one execution with its parameters,
// result (a large one truncated, with the full result downloadable), live output, workflow
// children, cancel and re-run.

import * as api from '../api.js';
import * as live from '../live.js';
import { h, replace, link, time, badge, fields, jsonBlock, pretty, errorBox, isFinal, duration, elapsed, bytes, saveFile } from '../dom.js';
import { executionList } from '../components.js';

const STATUSES = ['requested', 'scheduled', 'delayed', 'running', 'pending', 'pausing', 'paused',
  'canceling', 'succeeded', 'failed', 'timeout', 'canceled', 'abandoned'];
const PAGE_SIZES = [50, 100, 500, 1000];

async function list(ctx) {
  const filter = { status: ctx.query.status || '', action: ctx.query.action || '', rule: ctx.query.rule || '' };
  const limit = PAGE_SIZES.includes(Number(ctx.query.limit)) ? Number(ctx.query.limit) : 100;
  const offset = Number(ctx.query.offset || 0);
  const status = h('select', { id: 'filter-status', name: 'status' }, h('option', { value: '' }, 'Any status'),
    STATUSES.map((s) => h('option', { value: s, selected: s === filter.status }, s)));
  const action = h('input', { id: 'filter-action', name: 'action', type: 'text', value: filter.action, placeholder: 'pack.action', list: 'action-refs' });
  const rule = h('input', { id: 'filter-rule', name: 'rule', type: 'text', value: filter.rule, placeholder: 'pack.rule' });
  const size = h('select', { id: 'filter-limit', name: 'limit' }, PAGE_SIZES.map((n) => h('option', { value: String(n), selected: n === limit }, String(n))));
  const actionRefs = h('datalist', { id: 'action-refs' });
  api.get('/actions', { limit: 1000 }, ctx.signal).then(({ data }) => {
    actionRefs.append(...data.map((a) => h('option', { value: a.ref })));
  }).catch(() => {});
  const form = h('form', {
    class: 'filters', role: 'search', 'aria-label': 'Filter executions',
    onsubmit: (event) => {
      event.preventDefault();
      ctx.navigate('/executions', { status: status.value, action: action.value.trim(), rule: rule.value.trim(), limit: size.value === '100' ? '' : size.value });
    },
  },
  h('label', { for: 'filter-status' }, 'Status'), status,
  h('label', { for: 'filter-action' }, 'Action'), action, actionRefs,
  h('label', { for: 'filter-rule' }, 'Rule'), rule,
  h('label', { for: 'filter-limit' }, 'Per page'), size,
  h('button', { type: 'submit' }, 'Apply'));
  for (const el of [status, size]) el.addEventListener('change', () => form.requestSubmit());
  const query = Object.fromEntries(Object.entries(filter).filter(([, v]) => v));
  ctx.main.append(h('h1', {}, 'Executions'), form,
    executionList(ctx, {
      filter: query, limit, offset,
      onOffset: (next) => ctx.setQuery({ ...query, limit: limit === 100 ? '' : limit, offset: next || '' }),
    }));
}

/** Results up to this size are shown whole; larger ones are cut, with a download link. */
const RESULT_SHOW_BYTES = 64 * 1024;
/** Output lines shown; the rest is in the download. */
const OUTPUT_SHOW_LINES = 5000;

function resultView(execution) {
  const box = h('div', { id: 'execution-result' });
  if (execution.result === undefined) {
    box.append(h('p', { class: 'muted' }, isFinal(execution.status) ? 'No result.' : 'No result yet.'));
    return box;
  }
  const download = h('button', {
    type: 'button', class: 'link-button', onclick: async () => {
      try {
        const response = await api.request('GET', `/executions/${execution.id}/result`, { raw: true });
        saveFile(`${execution.id}-result.json`, await response.blob(), 'application/json');
      } catch (error) {
        box.append(errorBox(error));
      }
    },
  }, 'Download full result');
  if (execution.result_truncated) {
    const start = typeof execution.result === 'string' ? execution.result : pretty(execution.result);
    box.append(h('p', { class: 'notice warn' },
      `The result is ${bytes(execution.result_size || 0)}; its first ${bytes(new TextEncoder().encode(start).length)} are shown. `, download),
    h('pre', { class: 'json' }, start, '\n…'));
  } else {
    box.append(jsonBlock(execution.result), h('p', {}, download));
  }
  return box;
}

/** Streams the execution's output into `pre` until it is final (or the page goes away). */
function outputView(ctx, id) {
  const pre = h('pre', { class: 'log', id: 'execution-output', tabindex: '0', 'aria-label': 'Output', 'aria-live': 'off' });
  const note = h('p', { class: 'muted', role: 'status' });
  const download = h('button', {
    type: 'button', class: 'link-button', onclick: async () => {
      const response = await api.request('GET', `/executions/${id}/output`, { query: { format: 'text', limit: 10000 }, raw: true });
      saveFile(`${id}-output.txt`, await response.blob(), 'text/plain');
    },
  }, 'Download output');
  let shown = 0;
  let pending = [];
  let scheduled = false;
  const flush = () => {
    scheduled = false;
    if (!pending.length) return;
    const follow = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 8;
    const fragment = document.createDocumentFragment();
    for (const line of pending) {
      if (shown >= OUTPUT_SHOW_LINES) break;
      const span = document.createElement('span');
      span.className = line.output_type === 'stderr' ? 'stderr' : 'stdout';
      span.textContent = line.data.endsWith('\n') ? line.data : line.data + '\n';
      fragment.append(span);
      shown += 1;
    }
    pending = [];
    pre.append(fragment);
    if (shown >= OUTPUT_SHOW_LINES) note.textContent = `Only the first ${OUTPUT_SHOW_LINES} lines are shown; download the output for the rest.`;
    if (follow) pre.scrollTop = pre.scrollHeight;
  };
  api.stream(`/executions/${id}/output/stream`, {}, (name, data) => {
    if (name === 'st2.execution.output__create') {
      pending.push(data);
      if (!scheduled) { scheduled = true; requestAnimationFrame(flush); }
    } else if (name === 'nerve.execution.output__end') {
      flush();
      pre.dataset.complete = 'true';
      if (!shown) note.textContent = 'No output.';
    }
  }, ctx.signal).catch((error) => { if (!api.isAbort(error)) note.append(errorBox(error)); });
  return h('div', {}, pre, note, h('p', {}, download));
}

async function detail(ctx) {
  const id = ctx.params.id;
  const load = () => api.get(`/executions/${id}`, { max_result_bytes: RESULT_SHOW_BYTES }, ctx.signal).then((r) => r.data);
  let execution = await load();
  const header = h('div', { class: 'title-row' });
  const summary = h('section', { class: 'card', 'aria-label': 'Summary' });
  const resultBox = h('section', { class: 'card' });
  const status = h('div', { role: 'status' });
  const children = h('section', {});

  const cancel = h('button', {
    type: 'button', id: 'cancel-execution', class: 'danger', onclick: async () => {
      try {
        execution = (await api.del(`/executions/${id}`)).data;
        render();
      } catch (error) {
        replace(status, errorBox(error));
      }
    },
  }, 'Cancel');
  const rerun = h('button', {
    type: 'button', id: 'rerun-execution', onclick: async () => {
      try {
        const { data } = await api.post(`/executions/${id}/re_run`, {});
        ctx.navigate(`/executions/${data.id}`);
      } catch (error) {
        replace(status, errorBox(error));
      }
    },
  }, 'Re-run');

  function render() {
    replace(header, h('h1', {}, `Execution of ${execution.action.ref}`), h('span', { id: 'execution-status' }, badge(execution.status)),
      isFinal(execution.status) ? null : cancel, rerun);
    const c = execution.context || {};
    replace(summary, fields([
      ['Id', h('code', {}, execution.id)],
      ['Action', link(`/actions/${encodeURIComponent(execution.action.ref)}`, execution.action.ref)],
      ['Runner', execution.action.runner_type],
      ['Started', time(execution.start_timestamp)],
      ['Ended', time(execution.end_timestamp)],
      ['Took', duration(execution.elapsed_seconds ?? elapsed(execution.start_timestamp, execution.end_timestamp))],
      ['User', c.user || '—'],
      ['Rule', execution.rule ? link(`/rules/${encodeURIComponent(execution.rule.ref)}`, execution.rule.ref) : '—'],
      ['Event', execution.trigger_instance ? link(`/events/${execution.trigger_instance.id}`, execution.trigger_instance.id) : '—'],
      ['Parent', execution.parent ? link(`/executions/${execution.parent}`, execution.parent) : '—'],
      ['Re-run of', c.rerun_of ? link(`/executions/${c.rerun_of}`, c.rerun_of) : null],
      ['Trace', c.trace_id ? link(`/traces/${c.trace_id}`, c.trace_tag || c.trace_id) : '—'],
      ['Worker', execution.worker || '—'],
      ['Reason', execution.reason || null],
    ].filter(([, v]) => v !== null)),
    h('h2', {}, 'Parameters'), jsonBlock(execution.parameters),
    h('details', {}, h('summary', {}, 'Status history'),
      h('ol', {}, execution.log.map((entry) => h('li', {}, badge(entry.status), ' ', time(entry.timestamp))))));
    replace(resultBox, h('h2', {}, 'Result'), resultView(execution));
  }
  render();
  ctx.main.append(header, status, h('div', { class: 'columns' }, summary,
    h('section', { class: 'card grow' }, h('h2', {}, 'Output'), outputView(ctx, id))), resultBox, children);
  const isWorkflow = ['orquesta', 'action-chain'].includes(execution.action.runner_type) || execution.children.length;
  if (isWorkflow) {
    children.append(h('h2', {}, 'Tasks'), executionList(ctx, { filter: { parent: id }, limit: 100, caption: 'Tasks' }));
  }
  // Status changes come from the shared stream; the result is read again when it is final.
  ctx.onCleanup(live.subscribe({
    update: async (changed) => {
      if (changed.id !== id) return;
      if (isFinal(changed.status)) {
        try { execution = await load(); } catch { return; }
      } else {
        execution = { ...execution, status: changed.status, log: changed.log, reason: changed.reason, worker: changed.worker };
      }
      render();
    },
    reconnect: async () => { try { execution = await load(); render(); } catch { /* next change */ } },
  }));
  // An execution that finished before we subscribed: read once more.
  if (!isFinal(execution.status)) {
    const again = await load().catch(() => null);
    if (again) { execution = again; render(); }
  }
}

export default { list, detail };
