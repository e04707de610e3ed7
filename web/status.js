// status.js - the minimal status page: master health (no auth), and with a
// token, the workers and the latest jobs.  Polls every 2 s.
const $ = (id) => document.getElementById(id);
let token = sessionStorage.getItem('kiln-token') || '';

function esc(s) {
  return String(s ?? '').replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' }[c]));
}

function table(el, cols, rows) {
  el.innerHTML = '<tr>' + cols.map((c) => `<th>${esc(c[0])}</th>`).join('') + '</tr>' +
    rows.map((r) => '<tr>' + cols.map((c) => `<td class="${esc(c[2] ? c[2](r) : '')}">${esc(c[1](r))}</td>`).join('') + '</tr>').join('');
}

async function api(path) {
  const r = await fetch(path, { headers: token ? { Authorization: 'Bearer ' + token } : {} });
  if (!r.ok) throw new Error((await r.json()).error);
  return r.json();
}

async function refresh() {
  try {
    const h = await api('/api/v1/health');
    $('cluster').textContent = `${h.cluster} · v${h.version}`;
    $('health').innerHTML = Object.entries(h).map(([k, v]) => `<dt>${esc(k)}</dt><dd>${esc(v)}</dd>`).join('');
  } catch (e) {
    $('health').innerHTML = `<dt>status</dt><dd class="failed">unreachable: ${esc(e.message)}</dd>`;
  }
  if (!token) return;
  try {
    const w = await api('/api/v1/workers');
    table($('workers'), [
      ['worker', (x) => x.name], ['state', (x) => x.state, (x) => x.state],
      ['slots', (x) => `${x.slots_busy}/${x.slots}`], ['memory MiB', (x) => Math.round(x.memory / 1048576)],
      ['heartbeat', (x) => `${x.heartbeat_age_ms} ms`], ['done', (x) => x.tasks_done], ['failed', (x) => x.tasks_failed],
      ['plugins', (x) => x.plugins.map((p) => `${p.name} ${p.version}`).join(', ')],
    ], w.workers);
    const j = await api('/api/v1/jobs?limit=20');
    table($('jobs'), [
      ['job', (x) => x.id], ['plugin', (x) => x.plugin], ['state', (x) => x.state, (x) => x.state],
      ['attempt', (x) => x.attempt], ['worker', (x) => x.worker ?? ''],
      ['duration', (x) => x.finished_ms ? `${x.finished_ms - x.started_ms} ms` : ''],
    ], j.jobs);
  } catch (e) {
    $('workers').innerHTML = `<tr><td class="failed">${esc(e.message)}</td></tr>`;
  }
}

$('tokform').addEventListener('submit', (ev) => {
  ev.preventDefault();
  token = $('token').value.trim();
  sessionStorage.setItem('kiln-token', token);
  refresh();
});
refresh();
setInterval(refresh, 2000);
