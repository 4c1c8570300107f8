// Packs: the list and one pack with its content, files and last failed reload.

import * as api from '../api.js';
import { h, replace, link, time, fields, diagnosticText, errorBox } from '../dom.js';
import { table, emptyRow, pager } from '../components.js';

async function list(ctx) {
  const limit = 100;
  let offset = Number(ctx.query.offset || 0);
  const box = h('div');
  ctx.main.append(h('h1', {}, 'Packs'), box);
  async function load() {
    const { data, total } = await api.get('/packs', { limit, offset }, ctx.signal);
    const columns = [{ label: 'Pack' }, { label: 'Version' }, { label: 'Description', class: 'wide' }, { label: 'Source' }, { label: 'Installed' }];
    replace(box, table(columns, data.length ? data.map((p) => h('tr', {},
      h('td', {}, link(`/packs/${encodeURIComponent(p.ref)}`, p.ref), p.reload_error ? h('span', { class: 'badge badge-bad' }, 'reload failed') : null),
      h('td', {}, p.version),
      h('td', { class: 'wide' }, p.description),
      h('td', { class: 'break' }, p.source),
      h('td', {}, time(p.installed_at)))) : emptyRow(5, 'No packs.'), { 'aria-label': 'Packs' }),
    pager({ offset, limit, total, onPage: (next) => { offset = next; ctx.setQuery({ offset }); load(); } }));
  }
  await load();
}

async function section(ctx, title, path, query, columns, cells, empty) {
  const { data } = await api.get(path, { ...query, limit: 1000 }, ctx.signal);
  return [h('h2', {}, `${title} (${data.length})`),
    table(columns, data.length ? data.map((item) => h('tr', {}, cells(item))) : emptyRow(columns.length, empty), { 'aria-label': title })];
}

async function detail(ctx) {
  const ref = ctx.params.ref;
  const { data: pack } = await api.get(`/packs/${encodeURIComponent(ref)}`, {}, ctx.signal);
  ctx.main.append(h('h1', {}, `Pack ${pack.ref}`), h('p', {}, pack.description));
  if (pack.reload_error) {
    const e = pack.reload_error;
    ctx.main.append(h('div', { class: 'error', role: 'alert' },
      h('strong', {}, `The last reload failed (${e.at}): `), e.message,
      h('ul', {}, (e.details || []).map((d) => h('li', {}, diagnosticText(d)))),
      h('p', {}, 'The last good version keeps running.')));
  }
  ctx.main.append(h('section', { class: 'card' }, fields([
    ['Version', pack.version], ['Author', pack.author], ['Source', pack.source], ['Path', pack.path],
    ['Installed', time(pack.installed_at)], ['Content hash', h('code', {}, pack.content_hash)],
    ['Dependencies', (pack.dependencies || []).join(', ') || 'none'],
  ])));
  const parts = await Promise.all([
    section(ctx, 'Actions', '/actions', { pack: ref }, [{ label: 'Action' }, { label: 'Runner' }, { label: 'Description', class: 'wide' }],
      (a) => [h('td', {}, link(`/actions/${encodeURIComponent(a.ref)}`, a.ref)), h('td', {}, a.runner_type), h('td', { class: 'wide' }, a.description || '')], 'No actions.'),
    section(ctx, 'Rules', '/rules', { pack: ref }, [{ label: 'Rule' }, { label: 'Trigger' }, { label: 'Enabled' }],
      (r) => [h('td', {}, link(`/rules/${encodeURIComponent(r.ref)}`, r.ref)), h('td', {}, r.trigger.type), h('td', {}, r.enabled ? 'yes' : 'no')], 'No rules.'),
    section(ctx, 'Sensors', '/sensortypes', { pack: ref }, [{ label: 'Sensor' }, { label: 'State' }],
      (s) => [h('td', {}, link(`/sensors/${encodeURIComponent(s.ref)}`, s.ref)), h('td', {}, s.status.state)], 'No sensors.'),
    section(ctx, 'Trigger types', '/triggertypes', { pack: ref }, [{ label: 'Trigger type' }, { label: 'Description', class: 'wide' }],
      (t) => [h('td', {}, link(`/triggers/${encodeURIComponent(t.ref)}`, t.ref)), h('td', { class: 'wide' }, t.description || '')], 'No trigger types.'),
  ].map((p) => p.catch((error) => (api.isAbort(error) ? [] : [errorBox(error)]))));
  ctx.main.append(...parts.flat());
  if (pack.files && pack.files.length) {
    ctx.main.append(h('details', {}, h('summary', {}, `Files (${pack.files.length})`),
      h('ul', { class: 'files' }, pack.files.map((f) => h('li', {}, h('code', {}, f))))));
  }
}

export default { list, detail };
