// A run form generated from an action's merged parameters (StackStorm's parameter map:
// `type`, `description`, `default`, `required`, `enum`, `secret`, `immutable`, `position`).
// Values left empty are not sent, so the action's defaults apply on the server.

import { h, pretty } from './dom.js';

function order(parameters) {
  return Object.entries(parameters).sort(([an, a], [bn, b]) => {
    const ra = a.required ? 0 : 1;
    const rb = b.required ? 0 : 1;
    if (ra !== rb) return ra - rb;
    const pa = a.position ?? 1e9;
    const pb = b.position ?? 1e9;
    if (pa !== pb) return pa - pb;
    return an.localeCompare(bn);
  });
}

function typeOf(spec) {
  const type = Array.isArray(spec.type) ? spec.type.find((t) => t !== 'null') : spec.type;
  return type || 'string';
}

/**
 * Builds the form fields for `parameters` inside `form`; returns `{element, values()}` where
 * `values()` returns the parameters to send or throws an Error naming the first bad field.
 */
export function schemaForm(parameters, idPrefix = 'param') {
  const inputs = [];
  const element = h('div', { class: 'schema-form' });
  for (const [name, spec] of order(parameters || {})) {
    const id = `${idPrefix}-${name}`;
    const type = typeOf(spec);
    const hasDefault = spec.default !== undefined && spec.default !== null;
    const help = [spec.description, hasDefault && !spec.secret ? `Default: ${JSON.stringify(spec.default)}` : null]
      .filter(Boolean).join(' · ');
    const helpId = `${id}-help`;
    let input;
    let read;
    if (spec.immutable) {
      input = h('input', { id, type: 'text', value: hasDefault ? JSON.stringify(spec.default) : '', disabled: true });
      read = () => undefined;
    } else if (Array.isArray(spec.enum)) {
      input = h('select', { id, 'aria-describedby': helpId, required: !!spec.required && !hasDefault },
        h('option', { value: '' }, hasDefault ? `(default: ${spec.default})` : '(choose)'),
        spec.enum.map((value) => h('option', { value: JSON.stringify(value) }, String(value))));
      read = () => (input.value === '' ? undefined : JSON.parse(input.value));
    } else if (type === 'boolean') {
      input = h('select', { id, 'aria-describedby': helpId },
        h('option', { value: '' }, hasDefault ? `(default: ${spec.default})` : '(not set)'),
        h('option', { value: 'true' }, 'true'),
        h('option', { value: 'false' }, 'false'));
      read = () => (input.value === '' ? undefined : input.value === 'true');
    } else if (type === 'integer' || type === 'number') {
      input = h('input', {
        id, type: 'number', step: type === 'integer' ? '1' : 'any', inputmode: 'decimal',
        placeholder: hasDefault ? String(spec.default) : '', 'aria-describedby': helpId,
        required: !!spec.required && !hasDefault,
      });
      read = () => {
        if (input.value.trim() === '') return undefined;
        const value = Number(input.value);
        if (!Number.isFinite(value) || (type === 'integer' && !Number.isInteger(value))) {
          throw new Error(`\`${name}\` must be ${type === 'integer' ? 'an integer' : 'a number'}`);
        }
        return value;
      };
    } else if (type === 'object' || type === 'array') {
      input = h('textarea', {
        id, rows: 3, spellcheck: false, class: 'mono', 'aria-describedby': helpId,
        placeholder: hasDefault ? pretty(spec.default) : (type === 'object' ? '{}' : '[]'),
        required: !!spec.required && !hasDefault,
      });
      read = () => {
        if (input.value.trim() === '') return undefined;
        let value;
        try {
          value = JSON.parse(input.value);
        } catch (error) {
          throw new Error(`\`${name}\` must be JSON (${error.message})`);
        }
        if (type === 'array' ? !Array.isArray(value) : (value === null || typeof value !== 'object' || Array.isArray(value))) {
          throw new Error(`\`${name}\` must be a JSON ${type}`);
        }
        return value;
      };
    } else {
      const long = name === 'cmd' || name === 'script' || (spec.description || '').length > 200;
      input = spec.secret
        ? h('input', { id, type: 'password', autocomplete: 'off', 'aria-describedby': helpId, required: !!spec.required && !hasDefault })
        : long
          ? h('textarea', { id, rows: 2, spellcheck: false, class: 'mono', 'aria-describedby': helpId, placeholder: hasDefault ? String(spec.default) : '', required: !!spec.required && !hasDefault })
          : h('input', { id, type: 'text', 'aria-describedby': helpId, placeholder: hasDefault ? String(spec.default) : '', required: !!spec.required && !hasDefault });
      read = () => (input.value === '' ? undefined : input.value);
    }
    input.name = name;
    inputs.push({ name, spec, read, input, hasDefault });
    element.append(h('div', { class: 'field' },
      h('label', { for: id }, name, spec.required ? h('span', { class: 'required', 'aria-label': 'required' }, ' *') : null,
        spec.secret ? h('span', { class: 'tag' }, 'secret') : null,
        h('span', { class: 'type' }, ` ${type}`)),
      input,
      help ? h('small', { id: helpId, class: 'help' }, help) : null));
  }
  if (!inputs.length) element.append(h('p', { class: 'muted' }, 'This action takes no parameters.'));
  return {
    element,
    values() {
      const values = {};
      for (const { name, spec, read, input, hasDefault } of inputs) {
        const value = read();
        if (value === undefined) {
          if (spec.required && !hasDefault && !spec.immutable) {
            input.focus();
            throw new Error(`\`${name}\` is required`);
          }
          continue;
        }
        values[name] = value;
      }
      return values;
    },
  };
}
