// The dashboard: counts, recent executions (live), failing sensors, node health, queues.

import * as api from '../api.js';
import { h, replace, link, badge, time, errorBox } from '../dom.js';
import { executionList, table, emptyRow } from '../components.js';

const COUNTS = [
  ['Packs', '/packs', '/packs'],
  ['Actions', '/actions', '/actions'],
  ['Rules', '/rules', '/rules'],
  ['Sensors', '/sensortypes', '/sensors'],
  ['Trigger types', '/triggertypes', '/triggers'],
  ['Events', '/triggerinstances', '/events'],
  ['Executions', '/executions', '/executions'],
  ['Running', '/executions?status=running', '/executions?status=running'],
  ['Failed', '/executions?status=failed', '/executions?status=failed'],
];

async function counts(ctx, box) {
  const results = await Promise.all(COUNTS.map(([, path]) =>
    api.get(path, { limit: 0 }, ctx.signal).then((r) => r.total).catch((e) => (api.isAbort(e) ? null : '?'))));
  replace(box, COUNTS.map(([label, , target], i) => h('a', { class: 'stat card', href: '#' + target },
    h('span', { class: 'stat-value' }, results[i] === null ? '…' : Number.isFinite(results[i]) ? results[i].toLocaleString() : results[i]),
    h('span', { class: 'stat-label' }, label))));
}

function failing(sensor) {
  const s = sensor.status;
  return s.state === 'backoff' || s.state === 'crashed' || s.last_error || (s.problems && s.problems.length) || s.rejected > 0;
}

async function sensorHealth(ctx, box) {
  const { data } = await api.get('/sensortypes', { limit: 1000 }, ctx.signal);
  const bad = data.filter(failing);
  const columns = [{ label: 'Sensor' }, { label: 'State' }, { label: 'Restarts', class: 'num' }, { label: 'Last error', class: 'wide' }];
  replace(box, h('h2', {}, 'Failing sensors'),
    table(columns, bad.length
      ? bad.map((s) => h('tr', {},
        h('td', {}, link(`/sensors/${encodeURIComponent(s.ref)}`, s.ref)),
        h('td', {}, badge(s.status.state)),
        h('td', { class: 'num' }, String(s.status.restarts)),
        h('td', { class: 'wide' }, s.status.last_error || (s.status.problems || []).join('; ') || '')))
      : emptyRow(4, `All ${data.length} sensors are healthy.`), { 'aria-label': 'Failing sensors' }));
}

async function nodeHealth(ctx, box) {
  const [{ data: nodes }, queues] = await Promise.all([
    api.get('/nodes', {}, ctx.signal),
    api.get('/bus/queues', {}, ctx.signal).then((r) => r.data).catch(() => []),
  ]);
  const columns = [{ label: 'Node' }, { label: 'Role' }, { label: 'State' }, { label: 'Last heartbeat' }];
  replace(box, h('h2', {}, 'Nodes'),
    table(columns, nodes.length
      ? nodes.map((n) => h('tr', {},
        h('td', {}, link('/nodes', n.node)), h('td', {}, n.role), h('td', {}, badge(n.state)),
        h('td', {}, time(n.last_seen))))
      : emptyRow(4, 'This server runs every role itself (no remote nodes).'), { 'aria-label': 'Nodes' }),
    queues.length ? [h('h2', {}, 'Queues'), table(
      [{ label: 'Queue' }, { label: 'Ready', class: 'num' }, { label: 'Unacked', class: 'num' }, { label: 'Dead letters', class: 'num' }],
      queues.map((q) => h('tr', {}, h('td', {}, q.name), h('td', { class: 'num' }, String(q.ready)),
        h('td', { class: 'num' }, String(q.unacked)), h('td', { class: 'num' }, String(q.dead_letters)))),
      { 'aria-label': 'Queues' })] : null);
}

async function dashboard(ctx) {
  const statsBox = h('div', { class: 'stats' });
  const sensorsBox = h('section', { class: 'card' });
  const nodesBox = h('section', { class: 'card' });
  ctx.main.append(
    h('h1', {}, 'Dashboard'),
    statsBox,
    h('div', { class: 'columns' },
      h('section', { class: 'card grow' }, h('h2', {}, 'Recent executions'),
        executionList(ctx, { limit: 10, paged: false, caption: 'Recent executions' }),
        h('p', {}, link('/executions', 'All executions →'))),
      h('div', { class: 'stack' }, sensorsBox, nodesBox)));
  const refresh = () => Promise.all([
    counts(ctx, statsBox),
    sensorHealth(ctx, sensorsBox).catch((e) => api.isAbort(e) || replace(sensorsBox, errorBox(e))),
    nodeHealth(ctx, nodesBox).catch((e) => api.isAbort(e) || replace(nodesBox, errorBox(e))),
  ]);
  await refresh();
  const timer = setInterval(() => refresh().catch(() => {}), 5000);
  ctx.onCleanup(() => clearInterval(timer));
}

export default { dashboard };
