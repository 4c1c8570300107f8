// Sensors: status of every sensor (state, restarts, last error; refreshed every two seconds)
// and one sensor with its live log tail and a restart button.

import * as api from '../api.js';
import { h, replace, link, badge, time, fields, errorBox, duration } from '../dom.js';
import { table, emptyRow, notice } from '../components.js';

const REFRESH_MS = 2000;

function poll(ctx, fn) {
  let timer = null;
  let stopped = false;
  const tick = async () => {
    try {
      await fn();
    } catch (error) {
      if (api.isAbort(error)) return;
    }
    if (!stopped) timer = setTimeout(tick, REFRESH_MS);
  };
  ctx.onCleanup(() => { stopped = true; clearTimeout(timer); });
  return tick();
}

async function list(ctx) {
  const box = h('div');
  ctx.main.append(h('h1', {}, 'Sensors'), box);
  const columns = [{ label: 'Sensor' }, { label: 'State' }, { label: 'Restarts', class: 'num' }, { label: 'Dispatched', class: 'num' },
    { label: 'Rejected', class: 'num' }, { label: 'Last error', class: 'wide' }];
  let error = null;
  await poll(ctx, async () => {
    try {
      const { data } = await api.get('/sensortypes', { limit: 1000 }, ctx.signal);
      error = null;
      replace(box, table(columns, data.length ? data.map((s) => h('tr', { dataset: { ref: s.ref } },
        h('td', {}, link(`/sensors/${encodeURIComponent(s.ref)}`, s.ref)),
        h('td', {}, badge(s.status.state), s.status.reason ? h('small', { class: 'muted' }, ` ${s.status.reason}`) : null),
        h('td', { class: 'num restarts' }, String(s.status.restarts)),
        h('td', { class: 'num' }, String(s.status.dispatched)),
        h('td', { class: 'num' }, String(s.status.rejected)),
        h('td', { class: 'wide' }, s.status.last_error || ''))) : emptyRow(6, 'No sensors installed.'), { 'aria-label': 'Sensors' }));
    } catch (e) {
      if (api.isAbort(e)) throw e;
      if (!error) replace(box, errorBox(e));
      error = e;
    }
  });
}

async function detail(ctx) {
  const ref = ctx.params.ref;
  const path = `/sensortypes/${encodeURIComponent(ref)}`;
  const statusBox = h('section', { class: 'card', 'aria-label': 'Status' });
  const logBox = h('pre', { class: 'log', id: 'sensor-log', tabindex: '0', 'aria-label': 'Sensor log' });
  const follow = h('input', { type: 'checkbox', id: 'log-follow', checked: true });
  const restart = h('button', {
    type: 'button', id: 'restart-sensor',
    onclick: async () => {
      restart.disabled = true;
      try {
        await api.post(`${path}/restart`, {});
        notice(ctx.main, `Restart of ${ref} requested.`);
      } catch (error) {
        ctx.main.prepend(errorBox(error));
      } finally {
        restart.disabled = false;
      }
    },
  }, 'Restart');
  ctx.main.append(h('div', { class: 'title-row' }, h('h1', {}, `Sensor ${ref}`), restart), statusBox,
    h('section', { class: 'card' }, h('div', { class: 'title-row' }, h('h2', {}, 'Log'),
      h('label', { for: 'log-follow', class: 'inline' }, follow, ' follow')), logBox));
  let lastLog = '';
  await poll(ctx, async () => {
    const [{ data: sensor }, { data: lines }] = await Promise.all([
      api.get(path, {}, ctx.signal),
      api.get(`${path}/logs`, { tail: 500 }, ctx.signal),
    ]);
    const s = sensor.status;
    replace(statusBox, h('p', {}, sensor.description || ''), fields([
      ['State', [badge(s.state), s.reason ? ` ${s.reason}` : '']],
      ['Restarts', h('span', { id: 'sensor-restarts' }, String(s.restarts))],
      ['Next restart', s.next_restart_at ? time(s.next_restart_at) : '—'],
      ['Pid', s.pid ? String(s.pid) : '—'],
      ['Up since', s.started_at ? [time(s.started_at), s.uptime_seconds != null ? ` (${duration(s.uptime_seconds)})` : ''] : '—'],
      ['Last exit', s.last_exit ? `${s.last_exit.reason}${s.last_exit.exit_code !== undefined && s.last_exit.exit_code !== null ? ` (exit ${s.last_exit.exit_code})` : ''} at ${s.last_exit.at}` : '—'],
      ['Last error', s.last_error || '—'],
      ['Problems', (s.problems || []).join('; ') || '—'],
      ['Dispatched / rejected', `${s.dispatched} / ${s.rejected}`],
      ['Runtime', s.command ? h('code', {}, s.command) : s.runtime],
      ['Trigger types', sensor.trigger_types.map((t, i) => [i ? ', ' : '', link(`/triggers/${encodeURIComponent(t)}`, t)])],
      ['Triggers', (s.triggers || []).map((t) => t.ref).join(', ') || '—'],
    ]));
    const text = lines.map((l) => `${l.at} ${l.source} ${l.level.padEnd(5)} ${l.message}`).join('\n');
    if (text !== lastLog) {
      lastLog = text;
      logBox.textContent = text || '(no log lines yet)';
      if (follow.checked) logBox.scrollTop = logBox.scrollHeight;
    }
  });
}

export default { list, detail };
