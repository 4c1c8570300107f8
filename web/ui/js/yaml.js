// A YAML emitter for JSON values (rules shown in the editor). Strings that YAML 1.1 would read
// as something else are written as JSON strings, which are valid YAML double-quoted scalars.

const PLAIN = /^[A-Za-z_/][A-Za-z0-9_./ -]*$/;
const RESERVED = /^(y|yes|n|no|true|false|on|off|null|~)$/i;

function scalar(value) {
  if (value === null) return 'null';
  if (typeof value === 'boolean' || typeof value === 'number') return String(value);
  const text = String(value);
  if (PLAIN.test(text) && !RESERVED.test(text) && !text.endsWith(' ') && !/ [#:]|: /.test(text)) return text;
  return JSON.stringify(text);
}

function key(name) {
  return PLAIN.test(name) && !RESERVED.test(name) && !name.includes(' ') ? name : JSON.stringify(name);
}

function isEmpty(value) {
  return value && typeof value === 'object' && (Array.isArray(value) ? value.length === 0 : Object.keys(value).length === 0);
}

function emit(value, indent, lines) {
  const pad = ' '.repeat(indent);
  if (Array.isArray(value)) {
    for (const item of value) {
      if (item && typeof item === 'object' && !isEmpty(item)) {
        const nested = [];
        emit(item, indent + 2, nested);
        nested[0] = pad + '- ' + nested[0].slice(indent + 2);
        lines.push(...nested);
      } else {
        lines.push(`${pad}- ${isEmpty(item) ? (Array.isArray(item) ? '[]' : '{}') : scalar(item)}`);
      }
    }
    return;
  }
  for (const [name, item] of Object.entries(value)) {
    if (item && typeof item === 'object' && !isEmpty(item)) {
      lines.push(`${pad}${key(name)}:`);
      emit(item, indent + 2, lines);
    } else {
      lines.push(`${pad}${key(name)}: ${isEmpty(item) ? (Array.isArray(item) ? '[]' : '{}') : scalar(item)}`);
    }
  }
}

/** YAML text of a JSON object. */
export function toYaml(value) {
  const lines = ['---'];
  emit(value, 0, lines);
  return lines.join('\n') + '\n';
}
