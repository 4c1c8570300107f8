// Pieces several pages share: the pager, the live list of executions, the reason dialog.

import * as api from './api.js';
import * as live from './live.js';
import { h, replace, link, time, duration, elapsed, badge, errorBox } from './dom.js';

/** `1–100 of 10,000` with first/previous/next buttons; calls `onPage(offset)`. */
export function pager({ offset, limit, total, onPage, label }) {
  const last = total === null ? null : Math.max(0, Math.floor((Math.max(total, 1) - 1) / limit) * limit);
  const from = total === 0 ? 0 : offset + 1;
  const to = total === null ? offset + limit : Math.min(offset + limit, total);
  const button = (text, target, disabled, aria) => h('button', {
    type: 'button', disabled, 'aria-label': aria, onclick: () => onPage(target),
  }, text);
  return h('nav', { class: 'pager', 'aria-label': label || 'Pages' },
    button('«', 0, offset === 0, 'First page'),
    button('‹', Math.max(0, offset - limit), offset === 0, 'Previous page'),
    h('span', { class: 'pager-range', 'aria-live': 'polite' },
      `${from.toLocaleString()}–${to.toLocaleString()}${total === null ? '' : ` of ${total.toLocaleString()}`}`),
    button('›', offset + limit, total !== null && offset + limit >= total, 'Next page'),
    button('»', last ?? offset, total === null || offset >= last, 'Last page'));
}

/** A table: columns `[{label, class}]`, rows of cells. */
export function table(columns, rows, attrs) {
  return h('div', { class: 'table-wrap' }, h('table', attrs || {},
    h('thead', {}, h('tr', {}, columns.map((c) => h('th', { scope: 'col', class: c.class }, c.label)))),
    h('tbody', {}, rows)));
}

/** A message row spanning a table. */
export function emptyRow(columns, text) {
  return h('tr', { class: 'empty' }, h('td', { colspan: columns }, text));
}

function shortId(id) {
  return id.length > 10 ? '…' + id.slice(-8) : id;
}

const EXECUTION_COLUMNS = [
  { label: 'Execution' }, { label: 'Action' }, { label: 'Status' }, { label: 'Started' },
  { label: 'Took', class: 'num' }, { label: 'Cause', class: 'wide' },
];

function executionCells(execution) {
  const cause = execution.rule
    ? ['rule ', link(`/rules/${encodeURIComponent(execution.rule.ref)}`, execution.rule.ref)]
    : execution.parent
      ? ['task of ', link(`/executions/${execution.parent}`, shortId(execution.parent))]
      : execution.context && execution.context.rerun_of
        ? ['re-run of ', link(`/executions/${execution.context.rerun_of}`, shortId(execution.context.rerun_of))]
        : [`by ${execution.context ? execution.context.user || '' : ''}`];
  return [
    h('td', {}, link(`/executions/${execution.id}`, h('code', { title: execution.id }, shortId(execution.id)))),
    h('td', {}, link(`/actions/${encodeURIComponent(execution.action.ref)}`, execution.action.ref)),
    h('td', { class: 'status' }, badge(execution.status)),
    h('td', {}, time(execution.start_timestamp)),
    h('td', { class: 'num' }, execution.elapsed_seconds !== undefined
      ? duration(execution.elapsed_seconds)
      : duration(elapsed(execution.start_timestamp))),
    h('td', { class: 'wide' }, cause),
  ];
}

function matches(filter, execution) {
  if (filter.action && execution.action.ref !== filter.action) return false;
  if (filter.status && execution.status !== filter.status) return false;
  if (filter.rule && (!execution.rule || execution.rule.ref !== filter.rule)) return false;
  if (filter.parent && execution.parent !== filter.parent) return false;
  if (filter.trigger_instance && (!execution.trigger_instance || execution.trigger_instance.id !== filter.trigger_instance)) return false;
  if (filter.user && (!execution.context || execution.context.user !== filter.user)) return false;
  return true;
}

/**
 * A live, server-paged list of executions matching `filter` (the `GET /executions` query).
 * New executions appear at the top of the first page and rows update in place as the stream
 * reports changes. `paged: false` shows only the first `limit` rows.
 */
export function executionList(ctx, { filter = {}, limit = 50, offset = 0, paged = true, onOffset, caption } = {}) {
  const container = h('div', { class: 'execution-list' });
  const rows = new Map();
  let total = null;
  let tbody = null;
  let pagerBox = h('div');
  let state = { offset };

  function row(execution) {
    const tr = h('tr', { dataset: { id: execution.id, status: execution.status } }, executionCells(execution));
    rows.set(execution.id, tr);
    return tr;
  }

  function renderPager() {
    if (!paged) return;
    replace(pagerBox, pager({
      offset: state.offset, limit, total,
      onPage: (next) => { state.offset = next; if (onOffset) onOffset(next); load(); },
      label: caption ? `${caption} pages` : 'Execution pages',
    }));
  }

  async function load() {
    try {
      const { data, total: count } = await api.get('/executions', { ...filter, limit, offset: state.offset }, ctx.signal);
      total = count;
      rows.clear();
      tbody = h('tbody', {}, data.length ? data.map(row) : emptyRow(EXECUTION_COLUMNS.length, 'No executions yet.'));
      replace(container,
        h('div', { class: 'table-wrap' }, h('table', { class: 'executions', 'aria-label': caption || 'Executions' },
          h('thead', {}, h('tr', {}, EXECUTION_COLUMNS.map((c) => h('th', { scope: 'col', class: c.class }, c.label)))),
          tbody)),
        pagerBox);
      renderPager();
    } catch (error) {
      if (!api.isAbort(error)) replace(container, errorBox(error));
    }
  }

  function upsert(execution, created) {
    const existing = rows.get(execution.id);
    if (existing) {
      existing.dataset.status = execution.status;
      existing.replaceChildren(...executionCells(execution));
      return;
    }
    if (!tbody || state.offset !== 0 || !matches(filter, execution)) return;
    // Newest first: only an execution newer than the top row belongs at the top.
    const first = tbody.querySelector('tr[data-id]');
    if (!created && first && first.dataset.id > execution.id) return;
    const empty = tbody.querySelector('tr.empty');
    if (empty) empty.remove();
    tbody.prepend(row(execution));
    if (total !== null) total += 1;
    const all = tbody.querySelectorAll('tr[data-id]');
    for (let i = limit; i < all.length; i++) {
      rows.delete(all[i].dataset.id);
      all[i].remove();
    }
    renderPager();
  }

  ctx.onCleanup(live.subscribe({
    create: (execution) => upsert(execution, true),
    update: (execution) => upsert(execution, false),
    reconnect: load,
  }));
  // Elapsed times of running executions tick.
  const ticker = setInterval(() => {
    for (const tr of rows.values()) {
      if (['running', 'scheduled', 'requested', 'pending'].includes(tr.dataset.status)) {
        const cell = tr.children[4];
        const start = tr.children[3].querySelector('time');
        if (cell && start) cell.textContent = duration(elapsed(start.getAttribute('datetime')));
      }
    }
  }, 1000);
  ctx.onCleanup(() => clearInterval(ticker));
  load();
  return container;
}

/**
 * Asks for a reason in a modal dialog; resolves with the text ('' allowed) or null when
 * cancelled.
 */
export function askReason(title, label) {
  return new Promise((resolve) => {
    const input = h('input', { id: 'reason-input', type: 'text', maxlength: 500 });
    const dialog = h('dialog', { class: 'card', 'aria-labelledby': 'reason-title' },
      h('form', { method: 'dialog' },
        h('h2', { id: 'reason-title' }, title),
        h('label', { for: 'reason-input' }, label),
        input,
        h('div', { class: 'buttons' },
          h('button', { type: 'submit', value: 'ok', class: 'primary', id: 'reason-ok' }, 'OK'),
          h('button', { type: 'submit', value: 'cancel', formnovalidate: true }, 'Cancel'))));
    dialog.addEventListener('close', () => {
      const ok = dialog.returnValue === 'ok';
      dialog.remove();
      resolve(ok ? input.value.trim() : null);
    });
    document.body.append(dialog);
    dialog.showModal();
    input.focus();
  });
}

/** A toast-like status line that announces results to screen readers. */
export function notice(container, text, kind) {
  const el = h('p', { class: `notice ${kind || ''}`, role: 'status' }, text);
  container.prepend(el);
  setTimeout(() => el.remove(), 6000);
}
