/**
 * The live dashboard at `/` of the admin listener: one self-contained page (no
 * CDN, no build step, no external font), whose script polls `/api/status` every
 * second and `/api/logs` every two, and draws the fleet as an operator thinks of
 * it: routes -> upstreams -> instances -> processes, with requests per second,
 * latency percentiles (from the histogram's change since the previous poll) and
 * errors per upstream, each instance's state with drain/enable and restart
 * buttons, the recent errors, and the tail of the processes' output.
 *
 * With a token, open `/#token=...` once: the page keeps it for the tab
 * (sessionStorage) and sends it as `Authorization: Bearer`; the fragment never
 * reaches a server log.
 *
 * @module
 */

const style = `
:root { --bg:#0f1419; --panel:#171d24; --line:#273039; --text:#d8dee4; --dim:#8b97a3; --up:#3fb950; --warn:#d29922; --down:#f85149; --accent:#58a6ff; }
* { box-sizing: border-box; }
body { margin:0; background:var(--bg); color:var(--text); font:14px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; }
header { display:flex; flex-wrap:wrap; gap:18px; align-items:baseline; padding:12px 18px; border-bottom:1px solid var(--line); }
header h1 { font-size:18px; margin:0; }
#facts { display:flex; flex-wrap:wrap; gap:6px 18px; }
header .fact { color:var(--dim); }
header .fact b { color:var(--text); font-weight:600; }
main { display:grid; grid-template-columns: minmax(0,2.3fr) minmax(300px,1fr); gap:14px; padding:14px 18px; }
@media (max-width: 1100px) { main { grid-template-columns: minmax(0,1fr); } }
section { background:var(--panel); border:1px solid var(--line); border-radius:6px; padding:10px 12px; min-width:0; margin-bottom:14px; overflow-x:auto; }
section h2 { font-size:13px; text-transform:uppercase; letter-spacing:.06em; color:var(--dim); margin:0 0 8px; }
table { width:100%; border-collapse:collapse; }
th, td { text-align:left; padding:4px 6px; border-bottom:1px solid var(--line); white-space:nowrap; }
td.wrap { white-space:normal; word-break:break-all; }
th { color:var(--dim); font-weight:500; font-size:12px; }
td.num, th.num { text-align:right; font-variant-numeric: tabular-nums; }
.upstream { border:1px solid var(--line); border-radius:6px; padding:8px 10px; margin-bottom:10px; }
.upstream .title { display:flex; gap:14px; align-items:baseline; flex-wrap:wrap; }
.upstream .title h3 { margin:0; font-size:15px; }
.metric { color:var(--dim); }
.metric b { color:var(--text); font-variant-numeric: tabular-nums; }
.state { font-weight:600; }
.state.up { color:var(--up); } .state.down, .state.ejected { color:var(--down); } .state.drained, .state.not-ready { color:var(--warn); }
button { background:#21262d; color:var(--text); border:1px solid var(--line); border-radius:4px; padding:2px 8px; cursor:pointer; font-size:12px; }
button:hover { border-color:var(--accent); }
svg.spark { width:180px; height:26px; vertical-align:middle; margin-left:auto; background:#11161c; border:1px solid var(--line); border-radius:3px; }
svg.spark polyline { fill:none; stroke:var(--accent); stroke-width:1.5; vector-effect:non-scaling-stroke; }
#errors li { margin-bottom:6px; word-break:break-word; }
#errors .code { color:var(--down); font-weight:600; }
#logs { font:12px/1.35 ui-monospace, SFMono-Regular, Menlo, monospace; max-height:320px; overflow:auto; white-space:pre-wrap; word-break:break-all; margin:0; }
#logs .stderr { color:#f0a7a2; }
.dim { color:var(--dim); }
#problem { color:var(--down); padding:0 18px; }
`;

const script = `
'use strict';
const $ = (selector, root = document) => root.querySelector(selector);
const el = (tag, attrs = {}, ...children) => {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') node.className = v; else if (k.startsWith('on')) node.addEventListener(k.slice(2), v); else node.setAttribute(k, v);
  }
  for (const child of children) node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  return node;
};
const fromHash = new URLSearchParams(location.hash.slice(1)).get('token');
if (fromHash) { sessionStorage.setItem('warpdrive-token', fromHash); window.history.replaceState(null, '', location.pathname); }
const token = sessionStorage.getItem('warpdrive-token');
const headers = token ? { authorization: 'Bearer ' + token } : {};
async function api(path, init = {}) {
  const res = await fetch(path, { ...init, headers: { ...headers, ...(init.headers || {}) } });
  const body = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(body.error || (res.status + ' ' + res.statusText));
  return body;
}

let previous, previousAt;
const rateHistory = new Map(); // upstream -> last 60 req/s samples
const fmtRate = (n) => n >= 100 ? n.toFixed(0) : n >= 10 ? n.toFixed(1) : n.toFixed(2);
const fmtMs = (ms) => ms === undefined ? '-' : ms >= 1000 ? (ms / 1000).toFixed(2) + ' s' : ms >= 10 ? ms.toFixed(0) + ' ms' : ms.toFixed(1) + ' ms';
const fmtBytes = (b) => b >= 1 << 30 ? (b / (1 << 30)).toFixed(1) + ' GiB' : (b / (1 << 20)).toFixed(0) + ' MiB';
const fmtUptime = (s) => s === null || s === undefined ? '-' : s >= 86400 ? Math.floor(s / 86400) + 'd ' + Math.floor(s % 86400 / 3600) + 'h' : s >= 3600 ? Math.floor(s / 3600) + 'h ' + Math.floor(s % 3600 / 60) + 'm' : s >= 60 ? Math.floor(s / 60) + 'm ' + (s % 60) + 's' : s + 's';

/** Percentile from the change of a histogram between two polls (linear within the bucket). */
function percentile(bounds, now, before, q) {
  const delta = now.map((c, i) => c - (before ? before[i] : 0));
  const total = delta.reduce((a, b) => a + b, 0);
  if (total <= 0) return undefined;
  let seen = 0;
  for (let i = 0; i < delta.length; i++) {
    if (seen + delta[i] >= q * total) {
      const lower = i === 0 ? 0 : bounds[i - 1];
      const upper = i < bounds.length ? bounds[i] : bounds[bounds.length - 1] * 2;
      return lower + (upper - lower) * ((q * total - seen) / delta[i]);
    }
    seen += delta[i];
  }
}

function sparkline(values) {
  const svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
  svg.setAttribute('class', 'spark');
  svg.setAttribute('viewBox', '0 0 60 20');
  svg.setAttribute('preserveAspectRatio', 'none');
  const max = Math.max(1, ...values);
  const line = document.createElementNS('http://www.w3.org/2000/svg', 'polyline');
  line.setAttribute('points', values.map((v, i) => (60 - values.length + i) + ',' + (19 - 18 * v / max)).join(' '));
  svg.append(line);
  return svg;
}

async function act(path, what) {
  try { await api(path, { method: 'POST' }); } catch (error) { alert(what + ': ' + error.message); }
  refresh();
}

function render(status) {
  const now = performance.now();
  const seconds = previousAt === undefined ? undefined : (now - previousAt) / 1000;
  const before = new Map((previous ? previous.upstreams : []).map((u) => [u.name, u]));
  const w = status.warpdrive;
  $('#facts').replaceChildren(
    el('span', { class: 'fact' }, 'version ', el('b', {}, w.version)),
    el('span', { class: 'fact' }, 'pid ', el('b', {}, w.pid)),
    el('span', { class: 'fact' }, 'up ', el('b', {}, fmtUptime(w.uptimeSecs))),
    el('span', { class: 'fact' }, 'config ', el('b', {}, w.config)),
    el('span', { class: 'fact' }, 'proxy threads ', el('b', {}, w.proxyThreads)),
    el('span', { class: 'fact' }, 'reloads ', el('b', {}, w.reloads.ok + (w.reloads.failed ? ' (' + w.reloads.failed + ' refused)' : ''))),
    el('span', { class: 'fact' }, 'memory ', el('b', {}, fmtBytes(w.rssBytes))),
  );

  const processes = new Map(status.processes.map((p) => [p.unit, p]));
  const upstreams = $('#upstreams');
  upstreams.replaceChildren();
  for (const u of status.upstreams) {
    const old = before.get(u.name);
    const rate = seconds && old ? Math.max(0, u.traffic.requests - old.traffic.requests) / seconds : 0;
    const errors = seconds && old ? Math.max(0, u.traffic.byClass[5] - old.traffic.byClass[5]) / seconds : 0;
    const samples = (rateHistory.get(u.name) || []).concat(seconds ? [rate] : []).slice(-60);
    rateHistory.set(u.name, samples);
    const p50 = percentile(status.latencyBucketsMs, u.traffic.durationCounts, old && old.traffic.durationCounts, 0.5);
    const p95 = percentile(status.latencyBucketsMs, u.traffic.durationCounts, old && old.traffic.durationCounts, 0.95);
    const rows = u.instances.map((i) => {
      const p = i.process ? processes.get(i.process) : undefined;
      const stateClass = i.state.replace(/ /g, '-').replace('process-not-ready', 'not-ready');
      return el('tr', { 'data-instance': i.id },
        el('td', {}, i.id), el('td', { class: 'dim wrap' }, i.address),
        el('td', { class: 'state ' + stateClass }, i.state),
        el('td', { class: 'num' }, i.inFlight), el('td', { class: 'num' }, i.requests), el('td', { class: 'num' }, i.failures),
        el('td', {}, p ? p.unit + ' ' + (p.pid || '-') : '-'),
        el('td', { class: 'num' }, p ? fmtUptime(p.uptimeSecs) : '-'),
        el('td', { class: 'num' }, p ? p.restarts : '-'),
        el('td', { class: 'num' }, p ? p.cpu.toFixed(1) + '%' : '-'),
        el('td', { class: 'num' }, p ? fmtBytes(p.rssBytes) : '-'),
        el('td', {},
          i.drained
            ? el('button', { onclick: () => act('/api/instances/' + encodeURIComponent(i.id) + '/enable', 'enable ' + i.id) }, 'enable')
            : el('button', { onclick: () => act('/api/instances/' + encodeURIComponent(i.id) + '/drain', 'drain ' + i.id) }, 'drain'),
          ' ',
          p ? el('button', { onclick: () => act('/api/processes/' + encodeURIComponent(p.unit) + '/restart', 'restart ' + p.unit) }, 'restart') : ''),
      );
    });
    upstreams.append(el('div', { class: 'upstream', 'data-upstream': u.name },
      el('div', { class: 'title' },
        el('h3', {}, u.name), el('span', { class: 'dim' }, u.strategy),
        el('span', { class: 'metric' }, el('b', { class: 'rps' }, fmtRate(rate)), ' req/s'),
        el('span', { class: 'metric' }, 'p50 ', el('b', { class: 'p50' }, fmtMs(p50))),
        el('span', { class: 'metric' }, 'p95 ', el('b', { class: 'p95' }, fmtMs(p95))),
        el('span', { class: 'metric' }, '5xx ', el('b', { class: 'errors' }, fmtRate(errors)), '/s'),
        el('span', { class: 'metric' }, 'total ', el('b', { class: 'total' }, u.traffic.requests)),
        sparkline(samples)),
      el('table', {},
        el('thead', {}, el('tr', {}, ...['instance', 'address', 'state', 'in flight', 'requests', 'failures', 'process / pid', 'uptime', 'restarts', 'cpu', 'memory', ''].map((h, k) => el('th', { class: k >= 3 && k <= 10 && k !== 6 ? 'num' : '' }, h)))),
        el('tbody', {}, ...rows))));
  }

  $('#routes').replaceChildren(...status.routes.map((r) => el('tr', { 'data-route': r.route },
    el('td', { class: 'num' }, r.route), el('td', {}, r.conditions), el('td', {}, '\u2192 ' + r.upstream),
    el('td', { class: 'dim' }, r.description || ''), el('td', { class: 'num' }, r.traffic.requests))));

  $('#errors').replaceChildren(...(status.recentErrors.length === 0
    ? [el('li', { class: 'dim' }, 'none')]
    : status.recentErrors.slice(0, 15).map((e) => el('li', {},
        el('span', { class: 'code' }, e.status + ' ' + e.code), ' ', e.request, ' ',
        el('span', { class: 'dim' }, new Date(e.at).toLocaleTimeString() + (e.instance ? ' \u2192 ' + e.instance : '') + (e.cause ? ': ' + e.cause : ''))))));

  const threads = status.threads.map((t) => 'thread ' + t.thread + ': ' + t.inFlight + ' in flight, ' + t.websockets + ' WebSockets').join(' \u00b7 ');
  $('#threads').textContent = threads;
  previous = status;
  previousAt = now;
}

async function refresh() {
  try {
    render(await api('/api/status'));
    $('#problem').textContent = '';
  } catch (error) {
    $('#problem').textContent = 'cannot read /api/status: ' + error.message + (token ? '' : ' (open /#token=... if the admin listener needs a token)');
  }
}

async function refreshLogs() {
  try {
    const chosen = $('#process').value;
    const { lines } = await api('/api/logs?lines=80' + (chosen ? '&process=' + encodeURIComponent(chosen) : ''));
    const box = $('#logs');
    const atBottom = box.scrollTop + box.clientHeight >= box.scrollHeight - 4;
    box.replaceChildren(...lines.map((l) => el('span', { class: l.stream }, new Date(l.at).toLocaleTimeString() + ' [' + l.process + '] ' + l.line + '\\n')));
    if (atBottom) box.scrollTop = box.scrollHeight;
    const names = [...new Set((previous ? previous.processes : []).map((p) => p.unit))];
    const select = $('#process');
    if (select.options.length - 1 !== names.length) {
      select.replaceChildren(el('option', { value: '' }, 'all processes'), ...names.map((n) => el('option', { value: n }, n)));
      select.value = chosen;
    }
  } catch { /* shown by refresh() */ }
}

refresh();
refreshLogs();
setInterval(refresh, 1000);
setInterval(refreshLogs, 2000);
`;

const page = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>warpdrive</title>
<style>${style}</style>
</head>
<body>
<header><h1>warpdrive</h1><span id="facts"></span></header>
<p id="problem"></p>
<main>
  <div>
    <section><h2>Upstreams, instances and processes</h2><div id="upstreams"></div><p id="threads" class="dim"></p></section>
    <section><h2>Routes (first match wins)</h2><table><thead><tr><th class="num">#</th><th>conditions</th><th>upstream</th><th></th><th class="num">requests</th></tr></thead><tbody id="routes"></tbody></table></section>
  </div>
  <div>
    <section><h2>Recent errors</h2><ul id="errors"></ul></section>
    <section><h2>Process output <select id="process"><option value="">all processes</option></select></h2><pre id="logs"></pre></section>
  </div>
</main>
<script>${script}</script>
</body>
</html>
`;

/** The page, the same for every request. */
export function dashboardPage(): string {
  return page;
}
