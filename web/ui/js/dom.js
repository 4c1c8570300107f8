// Small DOM helpers: element creation without innerHTML (so nothing from the API is ever parsed
// as markup), formatting of times, durations and statuses.

/** Creates an element: h('a', {href: '#/x', class: 'y', onclick: f}, 'text', child, [more]). */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  if (attrs) {
    for (const [key, value] of Object.entries(attrs)) {
      if (value === undefined || value === null) continue;
      if (value === false) {
        // `spellcheck: false`, `disabled: false`: properties take false; attributes are left out.
        if (key in el && typeof el[key] === 'boolean') el[key] = false;
        continue;
      }
      if (key.startsWith('on') && typeof value === 'function') {
        el.addEventListener(key.slice(2), value);
      } else if (key === 'class') {
        el.className = value;
      } else if (key === 'dataset') {
        Object.assign(el.dataset, value);
      } else if (key in el && typeof value !== 'string') {
        el[key] = value;
      } else if (key === 'value') {
        el.value = value;
      } else {
        el.setAttribute(key, value === true ? '' : String(value));
      }
    }
  }
  append(el, children);
  return el;
}

/** Appends children (strings, nodes, arrays, null) to an element. */
export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** Replaces an element's children. */
export function replace(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

/** A link inside the app. */
export function link(path, ...children) {
  return h('a', { href: '#' + path }, ...children);
}

/** `2024-05-01 12:00:03` in local time, with the ISO time as a tooltip. */
export function time(iso) {
  if (!iso) return h('span', { class: 'muted' }, '—');
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return h('span', {}, iso);
  const pad = (n) => String(n).padStart(2, '0');
  const text = `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ` +
    `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
  return h('time', { datetime: iso, title: iso }, text);
}

/** `1.234 s`, `2 min 3 s`. */
export function duration(seconds) {
  if (seconds === null || seconds === undefined || Number.isNaN(seconds)) return '—';
  if (seconds < 1) return `${Math.round(seconds * 1000)} ms`;
  if (seconds < 60) return `${seconds.toFixed(seconds < 10 ? 2 : 1)} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min ${Math.round(seconds % 60)} s`;
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

/** Seconds between two ISO timestamps (end defaults to now). */
export function elapsed(startIso, endIso) {
  const start = Date.parse(startIso);
  const end = endIso ? Date.parse(endIso) : Date.now();
  if (Number.isNaN(start) || Number.isNaN(end)) return null;
  return Math.max(0, (end - start) / 1000);
}

const FINAL = new Set(['succeeded', 'failed', 'timeout', 'canceled', 'abandoned']);

/** Whether an execution status is final. */
export function isFinal(status) {
  return FINAL.has(status);
}

/** A coloured status badge. */
export function badge(status) {
  const kind = {
    succeeded: 'ok', running: 'run', scheduled: 'wait', requested: 'wait', delayed: 'wait',
    pending: 'wait', pausing: 'wait', paused: 'wait', canceling: 'warn', canceled: 'warn',
    failed: 'bad', timeout: 'bad', abandoned: 'bad', enabled: 'ok', disabled: 'warn',
    idle: 'wait', backoff: 'bad', starting: 'run', stopped: 'warn', crashed: 'bad',
    processed: 'ok', alive: 'ok', gone: 'bad', matched: 'ok', 'not matched': 'warn',
  }[status] || 'other';
  return h('span', { class: `badge badge-${kind}` }, status);
}

/** Pretty JSON text. */
export function pretty(value) {
  return JSON.stringify(value, null, 2);
}

/** A `<pre>` of JSON. */
export function jsonBlock(value) {
  return h('pre', { class: 'json' }, value === undefined ? '' : pretty(value));
}

/** A definition list from [label, value] pairs (values may be nodes). */
export function fields(pairs) {
  return h('dl', { class: 'fields' },
    pairs.filter(Boolean).map(([label, value]) => [h('dt', {}, label), h('dd', {}, value ?? '—')]));
}

/** An error banner from an Error (with `details` diagnostics when the API sent them). */
export function errorBox(error) {
  const details = (error && error.details) || [];
  return h('div', { class: 'error', role: 'alert' },
    h('strong', {}, 'Error: '), error && error.message ? error.message : String(error),
    details.length ? h('ul', {}, details.map((d) => h('li', {}, diagnosticText(d)))) : null);
}

/** `file:line:col: message (field) hint` of one diagnostic. */
export function diagnosticText(d) {
  // A rule sent from the editor is `<request>` to the server; to the user it is the rule file.
  const file = d.file === '<request>' ? 'rule.yaml' : d.file;
  const where = file ? `${file}:${d.line}:${d.col}: ` : (d.line ? `${d.line}:${d.col}: ` : '');
  const field = d.field ? ` (at \`${d.field}\`)` : '';
  const hint = d.hint ? ` — ${d.hint}` : '';
  return `${where}${d.severity && d.severity !== 'error' ? d.severity + ': ' : ''}${d.message}${field}${hint}`;
}

/** Bytes as `1.2 MB`. */
export function bytes(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

/** Runs `fn` at most once per `ms`, with the last arguments. */
export function debounce(fn, ms) {
  let timer = null;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}

/** Saves `content` as a file through a temporary object URL. */
export function saveFile(name, content, type) {
  const blob = content instanceof Blob ? content : new Blob([content], { type: type || 'application/octet-stream' });
  const url = URL.createObjectURL(blob);
  const a = h('a', { href: url, download: name, class: 'hidden' });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
