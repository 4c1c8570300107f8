// Rules: the list (enable, disable with a reason) and the editor: YAML that the server
// validates as you type (its diagnostics with line and column, marked in the gutter), saving,
// and a panel that tests the rule against an event with the server's rule tester.

import * as api from '../api.js';
import { h, replace, link, badge, pretty, errorBox, debounce, diagnosticText } from '../dom.js';
import { table, emptyRow, pager, askReason, notice, executionList } from '../components.js';
import { toYaml } from '../yaml.js';

async function list(ctx) {
  const limit = 100;
  let offset = Number(ctx.query.offset || 0);
  const box = h('div');
  ctx.main.append(h('div', { class: 'title-row' }, h('h1', {}, 'Rules'),
    h('a', { class: 'button primary', href: '#/rules/new', id: 'new-rule' }, 'New rule')), box);

  async function toggle(rule) {
    try {
      if (rule.enabled) {
        const reason = await askReason(`Disable ${rule.ref}`, 'Reason (shown with the rule)');
        if (reason === null) return;
        await api.put(`/rules/${encodeURIComponent(rule.ref)}/disable`, { reason });
      } else {
        await api.put(`/rules/${encodeURIComponent(rule.ref)}/enable`, {});
      }
      await load();
      notice(ctx.main, `Rule ${rule.ref} ${rule.enabled ? 'disabled' : 'enabled'}.`);
    } catch (error) {
      if (!api.isAbort(error)) ctx.main.prepend(errorBox(error));
    }
  }

  async function load() {
    const { data, total } = await api.get('/rules', { limit, offset }, ctx.signal);
    const columns = [{ label: 'Rule' }, { label: 'Trigger' }, { label: 'Action' }, { label: 'State' }, { label: 'Reason', class: 'wide' }, { label: '' }];
    replace(box, table(columns, data.length ? data.map((rule) => h('tr', { dataset: { ref: rule.ref } },
      h('td', {}, link(`/rules/${encodeURIComponent(rule.ref)}`, rule.ref)),
      h('td', {}, rule.trigger.type),
      h('td', {}, link(`/actions/${encodeURIComponent(rule.action.ref)}`, rule.action.ref)),
      h('td', { class: 'state' }, badge(rule.enabled ? 'enabled' : 'disabled')),
      h('td', { class: 'wide reason' }, rule.disabled_reason || ''),
      h('td', {}, h('button', { type: 'button', class: 'toggle', onclick: () => toggle(rule), 'aria-label': `${rule.enabled ? 'Disable' : 'Enable'} ${rule.ref}` },
        rule.enabled ? 'Disable' : 'Enable')))) : emptyRow(6, 'No rules yet.'), { 'aria-label': 'Rules' }),
    pager({ offset, limit, total, onPage: (next) => { offset = next; ctx.setQuery({ offset }); load(); } }));
  }
  await load();
}

const TEMPLATE = `---
name: my_rule
pack: default
description: Runs a command when the webhook is called.
enabled: true
trigger:
  type: core.st2.webhook
  parameters:
    url: my_hook
criteria: {}
action:
  ref: core.local
  parameters:
    cmd: "echo {{ trigger.body }}"
`;

function ruleYaml(rule) {
  const out = { name: rule.name, pack: rule.pack };
  if (rule.description) out.description = rule.description;
  out.enabled = rule.enabled;
  out.trigger = { type: rule.trigger.type };
  if (rule.trigger.parameters && Object.keys(rule.trigger.parameters).length) out.trigger.parameters = rule.trigger.parameters;
  out.criteria = rule.criteria || {};
  out.action = { ref: rule.action.ref };
  if (rule.action.parameters && Object.keys(rule.action.parameters).length) out.action.parameters = rule.action.parameters;
  if (rule.tags && rule.tags.length) out.tags = rule.tags;
  return toYaml(out);
}

/** A textarea with a line-number gutter that marks lines with problems. */
function codeEditor(id, text, onInput) {
  const gutter = h('div', { class: 'gutter', 'aria-hidden': 'true' });
  const area = h('textarea', {
    id, class: 'code', spellcheck: false, autocapitalize: 'off', autocomplete: 'off', wrap: 'off', rows: 22,
    value: text,
    oninput: () => { renumber(); onInput(area.value); },
    onscroll: () => { gutter.scrollTop = area.scrollTop; },
    onkeydown: (event) => {
      // Tab indents (two spaces); Escape then Tab leaves the editor, so the keyboard is never trapped.
      if (event.key === 'Tab' && !event.shiftKey && !area.dataset.escaped) {
        event.preventDefault();
        area.setRangeText('  ', area.selectionStart, area.selectionEnd, 'end');
        renumber();
        onInput(area.value);
      } else if (event.key === 'Escape') {
        area.dataset.escaped = '1';
      } else {
        delete area.dataset.escaped;
      }
    },
  });
  let marked = new Map();
  function renumber() {
    const count = area.value.split('\n').length;
    if (gutter.childElementCount !== count) {
      gutter.replaceChildren(...Array.from({ length: count }, (_, i) => h('div', {}, String(i + 1))));
    }
    for (const [line, message] of marked) {
      const cell = gutter.children[line - 1];
      if (cell) { cell.classList.add('bad'); cell.title = message; }
    }
  }
  renumber();
  return {
    element: h('div', { class: 'editor' }, gutter, area),
    area,
    mark(diagnostics) {
      for (const cell of gutter.children) { cell.classList.remove('bad'); cell.removeAttribute('title'); }
      marked = new Map(diagnostics.filter((d) => d.line > 0 && d.severity !== 'warning').map((d) => [d.line, d.message]));
      renumber();
    },
    goTo(line, col) {
      const lines = area.value.split('\n');
      let offset = 0;
      for (let i = 0; i < Math.min(line - 1, lines.length); i++) offset += lines[i].length + 1;
      offset += Math.max(0, (col || 1) - 1);
      area.focus();
      area.setSelectionRange(offset, offset);
    },
  };
}

async function editor(ctx) {
  const ref = ctx.params.ref;
  let rule = null;
  if (ref) rule = (await api.get(`/rules/${encodeURIComponent(ref)}`, {}, ctx.signal)).data;
  const problems = h('div', { id: 'rule-problems', class: 'problems', role: 'status', 'aria-live': 'polite' });
  const saveStatus = h('div', { role: 'status' });
  const saveButton = h('button', { type: 'button', class: 'primary', id: 'save-rule' }, ref ? 'Save' : 'Create');
  let valid = false;
  let generation = 0;

  const validate = async (text) => {
    const mine = ++generation;
    try {
      const { data } = await api.post('/rules/validate', text, { contentType: 'application/yaml', signal: ctx.signal });
      if (mine !== generation) return;
      valid = data.valid;
      code.mark(data.diagnostics);
      saveButton.disabled = !valid;
      replace(problems, data.diagnostics.length
        ? h('ul', {}, data.diagnostics.map((d) => h('li', { class: d.severity === 'warning' ? 'warning' : 'bad' },
          h('button', { type: 'button', class: 'link-button', onclick: () => code.goTo(d.line, d.col) }, diagnosticText(d)))))
        : h('p', { class: 'ok' }, `✓ Valid rule ${data.rule_ref || ''}`));
      problems.dataset.state = valid ? 'valid' : 'invalid';
    } catch (error) {
      if (!api.isAbort(error)) replace(problems, errorBox(error));
    }
  };
  const code = codeEditor('rule-yaml', rule ? ruleYaml(rule) : TEMPLATE, debounce(validate, 250));

  saveButton.addEventListener('click', async () => {
    replace(saveStatus);
    saveButton.disabled = true;
    try {
      const { data } = await api.post('/rules', code.area.value, { contentType: 'application/yaml' });
      replace(saveStatus, h('p', { class: 'ok' }, `Saved ${data.ref}.`));
      if (data.ref !== ref) ctx.navigate(`/rules/${encodeURIComponent(data.ref)}`);
    } catch (error) {
      replace(saveStatus, errorBox(error));
      if (error.details && error.details.length) code.mark(error.details);
    } finally {
      saveButton.disabled = !valid;
    }
  });

  const header = h('div', { class: 'title-row' }, h('h1', {}, ref ? `Rule ${ref}` : 'New rule'));
  if (rule) {
    header.append(badge(rule.enabled ? 'enabled' : 'disabled'));
    if (!rule.enabled && rule.disabled_reason) header.append(h('span', { class: 'muted' }, rule.disabled_reason));
    header.append(h('button', {
      type: 'button', class: 'danger', onclick: async () => {
        if (!window.confirm(`Delete rule ${ref}?`)) return;
        try {
          await api.del(`/rules/${encodeURIComponent(ref)}`);
          ctx.navigate('/rules');
        } catch (error) {
          saveStatus.append(errorBox(error));
        }
      },
    }, 'Delete'));
  }
  ctx.main.append(header,
    h('div', { class: 'columns' },
      h('section', { class: 'card grow', 'aria-label': 'Rule YAML' },
        h('label', { for: 'rule-yaml' }, 'Rule (StackStorm YAML)'),
        code.element, problems, h('div', { class: 'buttons' }, saveButton), saveStatus),
      tester(ctx, code, rule)));
  if (rule) {
    ctx.main.append(h('section', {}, h('h2', {}, 'Executions this rule fired'),
      executionList(ctx, { filter: { rule: rule.ref }, limit: 20, caption: `Executions of rule ${rule.ref}` })));
  }
  validate(code.area.value);
}

function triggerTypeOf(yaml) {
  const match = /^trigger:\s*\n(?:\s+.*\n)*?\s+type:\s*["']?([^"'\s]+)/m.exec(yaml);
  return match ? match[1] : '';
}

/** The "test against an event" panel. */
function tester(ctx, code, rule) {
  const eventArea = h('textarea', { id: 'test-event', class: 'code', rows: 8, spellcheck: false });
  const recent = h('select', { id: 'test-recent' }, h('option', { value: '' }, '(recent events of the trigger)'));
  const result = h('div', { id: 'test-result', role: 'status', 'aria-live': 'polite' });
  const type = rule ? rule.trigger.type : triggerTypeOf(code.area.value);
  eventArea.value = pretty({ trigger: type || 'core.st2.webhook', payload: {} });
  let events = [];
  async function loadRecent() {
    const current = triggerTypeOf(code.area.value) || type;
    if (!current) return;
    try {
      const { data } = await api.get('/triggerinstances', { trigger: current, limit: 20 }, ctx.signal);
      events = data;
      replace(recent, h('option', { value: '' }, data.length ? `(${data.length} recent events of ${current})` : `(no recent events of ${current})`),
        data.map((ti, i) => h('option', { value: String(i) }, `${ti.occurrence_time} ${ti.id}`)));
    } catch {
      // The list is a convenience; typing an event works without it.
    }
  }
  recent.addEventListener('change', () => {
    const ti = events[Number(recent.value)];
    if (ti) eventArea.value = pretty({ trigger: ti.trigger.split('?')[0], payload: ti.payload });
  });
  loadRecent();
  const run = async () => {
    let event;
    try {
      event = JSON.parse(eventArea.value);
    } catch (error) {
      replace(result, errorBox(new Error(`the event is not JSON: ${error.message}`)));
      return;
    }
    try {
      const { data } = await api.post('/rules/test', { rule: code.area.value, event });
      renderResult(data);
    } catch (error) {
      replace(result, errorBox(error));
    }
  };
  function renderResult(data) {
    if (!data.valid) {
      replace(result, h('div', { class: 'error' }, 'The rule is invalid; fix the problems shown under the editor.'));
      return;
    }
    const columns = [{ label: 'Key' }, { label: 'Operator' }, { label: 'Pattern' }, { label: 'Found' }, { label: 'Result' }, { label: 'Why', class: 'wide' }];
    replace(result,
      h('p', {}, badge(data.matched ? 'matched' : 'not matched'), data.reason ? ` ${data.reason}` : ''),
      (data.warnings || []).length ? h('ul', { class: 'warnings' }, data.warnings.map((w) => h('li', {}, w))) : null,
      data.criteria.length ? table(columns, data.criteria.map((c) => h('tr', {},
        h('td', {}, h('code', {}, c.key)), h('td', {}, c.type || '—'),
        h('td', {}, h('code', {}, c.pattern === null || c.pattern === undefined ? 'None' : JSON.stringify(c.pattern))),
        h('td', {}, h('code', {}, c.value === null || c.value === undefined ? 'None' : JSON.stringify(c.value))),
        h('td', {}, c.result ? 'pass' : 'FAIL'), h('td', { class: 'wide' }, c.reason))), { 'aria-label': 'Criteria' })
        : h('p', { class: 'muted' }, 'No criteria: every event of the trigger matches.'),
      data.action ? [h('h3', {}, `Action ${data.action.ref}`), h('pre', { class: 'json' }, pretty(data.action.parameters))] : null);
  }
  return h('section', { class: 'card tester', 'aria-label': 'Test against an event' },
    h('h2', {}, 'Test against an event'),
    h('label', { for: 'test-recent' }, 'Load a recorded event'), recent,
    h('label', { for: 'test-event' }, 'Event (', h('code', {}, '{"trigger", "payload"}'), ')'), eventArea,
    h('div', { class: 'buttons' }, h('button', { type: 'button', id: 'test-rule', onclick: run }, 'Test')),
    result);
}

export default { list, editor };
