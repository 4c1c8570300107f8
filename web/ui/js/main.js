// The application shell: login (a `?token=` in the address is moved into the session and
// removed from the address bar), the navigation, the hash router and the live connection.

import * as api from './api.js';
import * as live from './live.js';
import { h, replace, errorBox } from './dom.js';
import dashboard from './pages/dashboard.js';
import packs from './pages/packs.js';
import actions from './pages/actions.js';
import rules from './pages/rules.js';
import sensors from './pages/sensors.js';
import triggers from './pages/triggers.js';
import executions from './pages/executions.js';
import traces from './pages/traces.js';
import keys from './pages/keys.js';
import nodes from './pages/nodes.js';

const NAV = [
  ['/', 'Dashboard'],
  ['/packs', 'Packs'],
  ['/actions', 'Actions'],
  ['/rules', 'Rules'],
  ['/sensors', 'Sensors'],
  ['/triggers', 'Triggers'],
  ['/events', 'Events'],
  ['/executions', 'Executions'],
  ['/traces', 'Traces'],
  ['/keys', 'Key-value'],
  ['/nodes', 'Nodes'],
];

// [pattern, page, title]; `:name` segments become params.
const ROUTES = [
  ['/', dashboard.dashboard, 'Dashboard'],
  ['/packs', packs.list, 'Packs'],
  ['/packs/:ref', packs.detail, 'Pack'],
  ['/actions', actions.list, 'Actions'],
  ['/actions/:ref', actions.detail, 'Action'],
  ['/rules', rules.list, 'Rules'],
  ['/rules/new', rules.editor, 'New rule'],
  ['/rules/:ref', rules.editor, 'Rule'],
  ['/sensors', sensors.list, 'Sensors'],
  ['/sensors/:ref', sensors.detail, 'Sensor'],
  ['/triggers', triggers.types, 'Trigger types'],
  ['/triggers/:ref', triggers.type, 'Trigger type'],
  ['/events', triggers.events, 'Events'],
  ['/events/:id', triggers.event, 'Event'],
  ['/executions', executions.list, 'Executions'],
  ['/executions/:id', executions.detail, 'Execution'],
  ['/traces', traces.search, 'Traces'],
  ['/traces/:id', traces.detail, 'Trace'],
  ['/keys', keys.list, 'Key-value'],
  ['/nodes', nodes.list, 'Nodes'],
];

const root = document.getElementById('app');
let current = null;

function match(path) {
  const parts = path.split('/').filter(Boolean);
  for (const [pattern, page, title] of ROUTES) {
    const want = pattern.split('/').filter(Boolean);
    if (want.length !== parts.length) continue;
    const params = {};
    let ok = true;
    want.forEach((segment, i) => {
      if (segment.startsWith(':')) params[segment.slice(1)] = decodeURIComponent(parts[i]);
      else if (segment !== parts[i]) ok = false;
    });
    if (ok) return { page, title, params };
  }
  return null;
}

/** The current route: path and query from the hash (`#/executions?status=failed`). */
export function location() {
  const hash = window.location.hash.replace(/^#/, '') || '/';
  const [path, search] = hash.split('?');
  return { path: path || '/', query: Object.fromEntries(new URLSearchParams(search || '')) };
}

/** Navigates within the app. */
export function navigate(path, query) {
  const search = query ? new URLSearchParams(
    Object.entries(query).filter(([, v]) => v !== undefined && v !== null && v !== '')).toString() : '';
  const target = '#' + path + (search ? '?' + search : '');
  if (window.location.hash === target) render();
  else window.location.hash = target;
}

/** Replaces the query of the current route without adding a history entry or re-rendering. */
export function setQuery(query) {
  const { path } = location();
  const search = new URLSearchParams(
    Object.entries(query).filter(([, v]) => v !== undefined && v !== null && v !== '')).toString();
  history.replaceState(null, '', '#' + path + (search ? '?' + search : ''));
}

function shell() {
  const nav = h('nav', { class: 'nav', 'aria-label': 'Main' },
    h('ul', {}, NAV.map(([path, label]) => h('li', {}, h('a', { href: '#' + path, dataset: { path } }, label)))));
  const liveDot = h('span', { class: 'live-dot', title: 'Live updates', role: 'status' }, 'offline');
  live.onStatus((up) => {
    liveDot.textContent = up ? 'live' : 'offline';
    liveDot.classList.toggle('up', up);
  });
  const logout = h('button', { type: 'button', class: 'link-button', onclick: logOut }, 'Log out');
  const toggle = h('button', {
    type: 'button', class: 'nav-toggle', 'aria-label': 'Menu', 'aria-expanded': 'false',
    onclick: () => {
      const open = document.body.classList.toggle('nav-open');
      toggle.setAttribute('aria-expanded', String(open));
    },
  }, '☰');
  const main = h('main', { id: 'main', tabindex: '-1' });
  replace(root,
    h('a', { href: '#main', class: 'skip', onclick: (e) => { e.preventDefault(); main.focus(); } }, 'Skip to content'),
    h('header', { class: 'top' }, toggle, h('a', { href: '#/', class: 'brand' }, 'Nerve'), h('span', { class: 'spacer' }), liveDot, logout),
    h('div', { class: 'layout' }, nav, main));
  return main;
}

function highlightNav(path) {
  for (const a of root.querySelectorAll('.nav a')) {
    const target = a.dataset.path;
    const active = target === '/' ? path === '/' : path === target || path.startsWith(target + '/');
    if (active) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
}

async function render() {
  if (!api.credential()) {
    loginPage();
    return;
  }
  // The login page has a `main` of its own; the shell's sits in `.layout`.
  let main = root.querySelector('.layout > main');
  if (!main) main = shell();
  if (current) current.abort();
  const controller = new AbortController();
  current = controller;
  const { path, query } = location();
  document.body.classList.remove('nav-open');
  highlightNav(path);
  const found = match(path);
  main.replaceChildren();
  if (!found) {
    document.title = 'Not found · Nerve';
    replace(main, h('h1', {}, 'Not found'), h('p', {}, `No page at ${path}. `, h('a', { href: '#/' }, 'Dashboard')));
    return;
  }
  document.title = `${found.title} · Nerve`;
  const cleanups = [];
  controller.signal.addEventListener('abort', () => cleanups.forEach((fn) => { try { fn(); } catch { /* ignore */ } }));
  const ctx = {
    main,
    params: found.params,
    query,
    signal: controller.signal,
    onCleanup: (fn) => cleanups.push(fn),
    navigate,
    setQuery,
  };
  try {
    await found.page(ctx);
  } catch (error) {
    if (api.isAbort(error) || controller.signal.aborted) return;
    main.append(errorBox(error));
  }
}

function loginPage(message) {
  live.stop();
  if (current) current.abort();
  current = null;
  document.title = 'Log in · Nerve';
  const input = h('input', { id: 'login-token', type: 'password', autocomplete: 'current-password', required: true, autofocus: true });
  const status = h('p', { class: 'muted', role: 'status' }, message || '');
  const form = h('form', {
    class: 'login card',
    onsubmit: async (event) => {
      event.preventDefault();
      status.textContent = 'Checking…';
      const ok = await logIn(input.value.trim());
      if (ok) render();
      else status.textContent = 'That token or API key is not valid.';
    },
  },
  h('h1', {}, 'Nerve'),
  h('p', {}, 'Log in with the admin token (', h('code', {}, '<data-dir>/admin.token'), ') or an API key.'),
  h('label', { for: 'login-token' }, 'Token or API key'),
  input,
  h('button', { type: 'submit', class: 'primary' }, 'Log in'),
  status);
  replace(root, h('main', { id: 'main', class: 'login-page' }, form));
  input.focus();
}

/**
 * Checks the secret with one request (`Authorization: Bearer` takes the admin token and API
 * keys alike) and keeps it with the header the server says fits it.
 */
async function logIn(secret) {
  if (!secret) return false;
  const response = await fetch('/api/v1/', {
    headers: { Authorization: `Bearer ${secret}`, Accept: 'application/json' },
    cache: 'no-store',
  }).catch(() => null);
  if (!response || !response.ok) return false;
  const version = await response.json().catch(() => ({}));
  api.saveCredential(version.credential === 'api_key' ? 'St2-Api-Key' : 'X-Auth-Token', secret);
  live.start();
  return true;
}

function logOut() {
  api.clearCredential();
  live.stop();
  history.replaceState(null, '', '/#/');
  loginPage('Logged out.');
}

async function boot() {
  // A request cut short because the user moved on is not an error worth a console line.
  window.addEventListener('unhandledrejection', (event) => {
    if (api.isAbort(event.reason)) event.preventDefault();
  });
  api.setUnauthorizedHandler(() => {
    api.clearCredential();
    loginPage('Your session ended: the server refused the credential. Log in again.');
  });
  // The one-click login URL `nerve up` prints: take the token out of the address at once, so
  // it is neither kept in history nor shown, then keep it in the session.
  const params = new URLSearchParams(window.location.search);
  const token = params.get('token');
  if (token !== null) {
    params.delete('token');
    const rest = params.toString();
    history.replaceState(null, '', window.location.pathname + (rest ? '?' + rest : '') + (window.location.hash || '#/'));
    if (!(await logIn(token))) {
      loginPage('The token in the link is not valid (the server may have a new one).');
      return;
    }
  } else if (api.credential()) {
    live.start();
  }
  window.addEventListener('hashchange', render);
  render();
}

boot();
