// Trigger types (with their payload and parameter schemas) and events (trigger instances):
// recent events of a type, one event with what it caused, and re-emit.

import * as api from '../api.js';
import { h, replace, link, time, jsonBlock, fields, badge, errorBox } from '../dom.js';
import { table, emptyRow, pager, notice, executionList } from '../components.js';

async function types(ctx) {
  const limit = 100;
  let offset = Number(ctx.query.offset || 0);
  const box = h('div');
  ctx.main.append(h('h1', {}, 'Trigger types'), box);
  async function load() {
    const { data, total } = await api.get('/triggertypes', { limit, offset }, ctx.signal);
    const columns = [{ label: 'Trigger type' }, { label: 'Pack' }, { label: 'Description', class: 'wide' }];
    replace(box, table(columns, data.length ? data.map((t) => h('tr', {},
      h('td', {}, link(`/triggers/${encodeURIComponent(t.ref)}`, t.ref)),
      h('td', {}, t.pack),
      h('td', { class: 'wide' }, t.description || ''))) : emptyRow(3, 'No trigger types.'), { 'aria-label': 'Trigger types' }),
    pager({ offset, limit, total, onPage: (next) => { offset = next; ctx.setQuery({ offset }); load(); } }));
  }
  await load();
}

function eventRows(ctx, data, onReEmit) {
  return data.map((ti) => h('tr', { dataset: { id: ti.id } },
    h('td', {}, link(`/events/${ti.id}`, h('code', {}, ti.id))),
    h('td', { class: 'break' }, ti.trigger),
    h('td', {}, time(ti.occurrence_time)),
    h('td', {}, badge(ti.status)),
    h('td', {}, ti.trace_id ? link(`/traces/${ti.trace_id}`, 'trace') : '—'),
    h('td', {}, h('button', { type: 'button', onclick: () => onReEmit(ti), 'aria-label': `Re-emit event ${ti.id}` }, 'Re-emit'))));
}

const EVENT_COLUMNS = [{ label: 'Event' }, { label: 'Trigger' }, { label: 'Occurred' }, { label: 'Status' }, { label: 'Trace' }, { label: '' }];

/** A paged list of events, optionally of one trigger; re-emit reloads it. */
function eventList(ctx, trigger) {
  const limit = 50;
  let offset = 0;
  const box = h('div');
  async function reEmit(ti) {
    try {
      const { data } = await api.post(`/triggerinstances/${ti.id}/re_emit`, {});
      notice(box, `Re-emitted as event ${data.id}.`);
      offset = 0;
      await load();
    } catch (error) {
      box.prepend(errorBox(error));
    }
  }
  async function load() {
    const { data, total } = await api.get('/triggerinstances', { trigger, limit, offset }, ctx.signal);
    replace(box, table(EVENT_COLUMNS, data.length ? eventRows(ctx, data, reEmit) : emptyRow(6, 'No events recorded.'), { 'aria-label': 'Events' }),
      pager({ offset, limit, total, onPage: (next) => { offset = next; load(); } }));
  }
  load().catch((error) => api.isAbort(error) || replace(box, errorBox(error)));
  return box;
}

async function type(ctx) {
  const ref = ctx.params.ref;
  const { data: t } = await api.get(`/triggertypes/${encodeURIComponent(ref)}`, {}, ctx.signal);
  ctx.main.append(h('h1', {}, `Trigger type ${t.ref}`), h('p', {}, t.description || ''),
    h('div', { class: 'columns' },
      h('section', { class: 'card grow' }, h('h2', {}, 'Payload schema'), jsonBlock(t.payload_schema || {})),
      h('section', { class: 'card grow' }, h('h2', {}, 'Parameters schema'), jsonBlock(t.parameters_schema || {}))),
    h('section', {}, h('h2', {}, 'Recent events'), eventList(ctx, t.ref)));
}

async function events(ctx) {
  ctx.main.append(h('h1', {}, 'Events'), eventList(ctx, ctx.query.trigger));
}

async function event(ctx) {
  const id = ctx.params.id;
  const { data: ti } = await api.get(`/triggerinstances/${id}`, {}, ctx.signal);
  const status = h('div', { role: 'status' });
  ctx.main.append(
    h('div', { class: 'title-row' }, h('h1', {}, `Event ${ti.id}`),
      h('button', {
        type: 'button', id: 're-emit', onclick: async () => {
          try {
            const { data } = await api.post(`/triggerinstances/${ti.id}/re_emit`, {});
            ctx.navigate(`/events/${data.id}`);
          } catch (error) {
            replace(status, errorBox(error));
          }
        },
      }, 'Re-emit')),
    status,
    h('section', { class: 'card' }, fields([
      ['Trigger', ti.trigger],
      ['Occurred', time(ti.occurrence_time)],
      ['Status', badge(ti.status)],
      ['Trace', ti.trace_id ? link(`/traces/${ti.trace_id}`, ti.trace_tag || ti.trace_id) : '—'],
    ])),
    h('section', { class: 'card' }, h('h2', {}, 'Payload'), jsonBlock(ti.payload)),
    h('section', {}, h('h2', {}, 'Executions it caused'),
      executionList(ctx, { filter: { trigger_instance: ti.id }, limit: 20, caption: 'Executions of this event' })));
}

export default { types, type, events, event };
