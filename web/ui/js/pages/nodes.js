// Nodes: the server's view of remote workers and sensor nodes, and the bus's queues.

import * as api from '../api.js';
import { h, replace, time, badge, duration } from '../dom.js';
import { table, emptyRow } from '../components.js';

async function list(ctx) {
  const box = h('div');
  ctx.main.append(h('h1', {}, 'Nodes'), box);
  const load = async () => {
    const [{ data: nodes }, queues] = await Promise.all([
      api.get('/nodes', {}, ctx.signal),
      api.get('/bus/queues', {}, ctx.signal).then((r) => r.data).catch(() => []),
    ]);
    const columns = [{ label: 'Node' }, { label: 'Role' }, { label: 'State' }, { label: 'Last heartbeat' }, { label: 'Runners' },
      { label: 'Running', class: 'num' }, { label: 'Sensors' }, { label: 'Pack drift', class: 'wide' }];
    replace(box,
      table(columns, nodes.length ? nodes.map((n) => h('tr', {},
        h('td', {}, n.node), h('td', {}, n.role), h('td', {}, badge(n.state)),
        h('td', {}, time(n.last_seen), ` (${duration(n.age_secs)} ago)`),
        h('td', {}, (n.runners || []).join(', ')),
        h('td', { class: 'num' }, `${(n.running || []).length}/${n.capacity}`),
        h('td', {}, (n.assigned_sensors || []).join(', ')),
        h('td', { class: 'wide' }, (n.drift || []).map((d) => d.pack || JSON.stringify(d)).join(', '))))
        : emptyRow(8, 'No remote nodes: this server runs every role itself.'), { 'aria-label': 'Nodes' }),
      h('h2', {}, 'Queues'),
      table([{ label: 'Queue' }, { label: 'Ready', class: 'num' }, { label: 'Unacked', class: 'num' }, { label: 'Consumers', class: 'num' }, { label: 'Dead letters', class: 'num' }],
        queues.length ? queues.map((q) => h('tr', {}, h('td', {}, q.name), h('td', { class: 'num' }, String(q.ready)),
          h('td', { class: 'num' }, String(q.unacked)), h('td', { class: 'num' }, String(q.consumers)), h('td', { class: 'num' }, String(q.dead_letters))))
          : emptyRow(5, 'No queues.'), { 'aria-label': 'Queues' }));
  };
  await load();
  const timer = setInterval(() => load().catch(() => {}), 5000);
  ctx.onCleanup(() => clearInterval(timer));
}

export default { list };
