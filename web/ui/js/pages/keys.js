// The key-value store: list (secrets masked), set, delete.

import * as api from '../api.js';
import { h, replace, time, errorBox } from '../dom.js';
import { table, emptyRow, pager, notice } from '../components.js';

async function list(ctx) {
  const limit = 100;
  let offset = 0;
  let prefix = ctx.query.prefix || '';
  let scope = ctx.query.scope || 'system';
  const box = h('div');
  const prefixInput = h('input', { id: 'key-prefix', type: 'search', value: prefix, placeholder: 'prefix' });
  const scopeSelect = h('select', { id: 'key-scope' }, ['system', 'user'].map((s) => h('option', { value: s, selected: s === scope }, s)));
  const name = h('input', { id: 'key-name', type: 'text', required: true, autocomplete: 'off' });
  const value = h('input', { id: 'key-value', type: 'text', required: true, autocomplete: 'off' });
  const secret = h('input', { id: 'key-secret', type: 'checkbox', onchange: () => { value.type = secret.checked ? 'password' : 'text'; } });
  const status = h('div', { role: 'status' });
  ctx.main.append(h('h1', {}, 'Key-value'),
    h('form', {
      class: 'filters', role: 'search',
      onsubmit: (event) => { event.preventDefault(); prefix = prefixInput.value.trim(); scope = scopeSelect.value; offset = 0; ctx.setQuery({ prefix, scope }); load(); },
    }, h('label', { for: 'key-scope' }, 'Scope'), scopeSelect, h('label', { for: 'key-prefix' }, 'Prefix'), prefixInput, h('button', { type: 'submit' }, 'Show')),
    box,
    h('form', {
      class: 'card inline-form', 'aria-label': 'Set a key',
      onsubmit: async (event) => {
        event.preventDefault();
        try {
          await api.put(`/keys/${encodeURIComponent(name.value.trim())}`, { value: value.value, secret: secret.checked, scope });
          notice(status, `Set ${name.value.trim()}.`);
          name.value = '';
          value.value = '';
          await load();
        } catch (error) {
          replace(status, errorBox(error));
        }
      },
    }, h('h2', {}, 'Set a key'),
    h('label', { for: 'key-name' }, 'Name'), name,
    h('label', { for: 'key-value' }, 'Value'), value,
    h('label', { for: 'key-secret', class: 'inline' }, secret, ' secret (encrypted, masked)'),
    h('button', { type: 'submit', class: 'primary' }, 'Set'), status));

  async function remove(key) {
    if (!window.confirm(`Delete key ${key.name}?`)) return;
    try {
      await api.del(`/keys/${encodeURIComponent(key.name)}`, { query: { scope: key.scope } });
      await load();
    } catch (error) {
      replace(status, errorBox(error));
    }
  }

  async function load() {
    const { data, total } = await api.get('/keys', { prefix, scope, limit, offset }, ctx.signal);
    const columns = [{ label: 'Name' }, { label: 'Value', class: 'wide' }, { label: 'Secret' }, { label: 'Expires' }, { label: 'Updated' }, { label: '' }];
    replace(box, table(columns, data.length ? data.map((k) => h('tr', {},
      h('td', {}, h('code', {}, k.name)),
      h('td', { class: 'wide break' }, k.secret ? h('span', { class: 'masked', title: 'secret' }, '********') : k.value),
      h('td', {}, k.secret ? 'yes' : 'no'),
      h('td', {}, time(k.expire_timestamp)),
      h('td', {}, time(k.updated_at)),
      h('td', {}, h('button', { type: 'button', class: 'danger', onclick: () => remove(k), 'aria-label': `Delete ${k.name}` }, 'Delete'))))
      : emptyRow(6, 'No keys.'), { 'aria-label': 'Keys' }),
    pager({ offset, limit, total, onPage: (next) => { offset = next; load(); } }));
  }
  await load();
}

export default { list };
