// Actions: the list (searchable, by pack) and one action with its run form (generated from the
// parameter schema) and its history, live.

import * as api from '../api.js';
import { h, replace, link, jsonBlock, fields, errorBox, debounce } from '../dom.js';
import { table, emptyRow, pager, executionList } from '../components.js';
import { schemaForm } from '../schemaform.js';

async function list(ctx) {
  const limit = 100;
  let offset = Number(ctx.query.offset || 0);
  let pack = ctx.query.pack || '';
  let search = ctx.query.q || '';
  const box = h('div');
  const packSelect = h('select', { id: 'action-pack', onchange: () => { pack = packSelect.value; offset = 0; sync(); load(); } },
    h('option', { value: '' }, 'All packs'));
  const searchInput = h('input', { id: 'action-search', type: 'search', value: search, placeholder: 'Filter by name',
    oninput: debounce(() => { search = searchInput.value.trim(); sync(); render(); }, 150) });
  ctx.main.append(h('h1', {}, 'Actions'),
    h('div', { class: 'filters' },
      h('label', { for: 'action-pack' }, 'Pack'), packSelect,
      h('label', { for: 'action-search' }, 'Search'), searchInput),
    box);
  const sync = () => ctx.setQuery({ pack, q: search, offset: offset || '' });
  api.get('/packs', { limit: 1000 }, ctx.signal).then(({ data }) => {
    for (const p of data) packSelect.append(h('option', { value: p.ref, selected: p.ref === pack }, p.ref));
  }).catch(() => {});
  let page = { data: [], total: 0 };
  function render() {
    const needle = search.toLowerCase();
    const shown = needle ? page.data.filter((a) => a.ref.toLowerCase().includes(needle) || (a.description || '').toLowerCase().includes(needle)) : page.data;
    const columns = [{ label: 'Action' }, { label: 'Runner' }, { label: 'Description', class: 'wide' }];
    replace(box, table(columns, shown.length ? shown.map((a) => h('tr', {},
      h('td', {}, link(`/actions/${encodeURIComponent(a.ref)}`, a.ref), a.enabled ? null : h('span', { class: 'badge badge-warn' }, 'disabled')),
      h('td', {}, a.runner_type),
      h('td', { class: 'wide' }, a.description || ''))) : emptyRow(3, 'No actions match.'), { 'aria-label': 'Actions' }),
    pager({ offset, limit, total: page.total, onPage: (next) => { offset = next; sync(); load(); } }));
  }
  async function load() {
    const { data, total } = await api.get('/actions', { pack, limit, offset }, ctx.signal);
    page = { data, total };
    render();
  }
  await load();
}

async function detail(ctx) {
  const ref = ctx.params.ref;
  const [{ data: action }, { data: view }] = await Promise.all([
    api.get(`/actions/${encodeURIComponent(ref)}`, {}, ctx.signal),
    api.get(`/actions/views/parameters/${encodeURIComponent(ref)}`, {}, ctx.signal),
  ]);
  const form = schemaForm(view.parameters, 'run');
  const status = h('div', { role: 'status', 'aria-live': 'polite' });
  const runButton = h('button', { type: 'submit', class: 'primary', id: 'run-action' }, 'Run');
  const runForm = h('form', {
    class: 'card run-form', 'aria-label': `Run ${ref}`,
    onsubmit: async (event) => {
      event.preventDefault();
      replace(status);
      let parameters;
      try {
        parameters = form.values();
      } catch (error) {
        replace(status, errorBox(error));
        return;
      }
      runButton.disabled = true;
      try {
        const { data: execution } = await api.post('/executions', { action: ref, parameters });
        ctx.navigate(`/executions/${execution.id}`);
      } catch (error) {
        replace(status, errorBox(error));
      } finally {
        runButton.disabled = false;
      }
    },
  }, h('h2', {}, 'Run'), form.element, h('div', { class: 'buttons' }, runButton), status);
  ctx.main.append(
    h('h1', {}, `Action ${action.ref}`),
    h('p', {}, action.description || ''),
    h('div', { class: 'columns' },
      runForm,
      h('section', { class: 'card' }, fields([
        ['Pack', link(`/packs/${encodeURIComponent(action.pack)}`, action.pack)],
        ['Runner', action.runner_type],
        ['Entry point', action.entry_point || '—'],
        ['Enabled', action.enabled ? 'yes' : 'no'],
      ]), h('details', {}, h('summary', {}, 'Parameter schema'), jsonBlock(view.parameters_schema)))),
    h('section', {}, h('h2', {}, 'History'),
      executionList(ctx, { filter: { action: ref }, limit: 20, caption: `Executions of ${ref}` })));
}

export default { list, detail };
