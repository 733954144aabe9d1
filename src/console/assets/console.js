// The fluxion-edge console: plain ES module, no framework, no build step. Every string from
// the agent goes into the page through textContent, never as HTML: a payload of <script>
// is shown, not run (and the Content-Security-Policy forbids inline script besides).
const $ = (id) => document.getElementById(id);
let csrf = null;

async function api(path, body) {
  const init = body === undefined ? {} : { method: 'POST', headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': csrf ?? '' }, body: JSON.stringify(body) };
  const res = await fetch(`/api/console/${path}`, { credentials: 'same-origin', ...init });
  const data = await res.json().catch(() => ({ error: `HTTP ${res.status}` }));
  if (res.status === 401) location.href = '/console/login.html';
  if (!res.ok) throw new Error(data.error ?? `HTTP ${res.status}`);
  return data;
}

function showError(err) {
  const p = $('error');
  p.textContent = err === null ? '' : String(err.message ?? err);
  p.hidden = err === null;
}

/** A table row of plain text cells (or nodes). */
function row(cells) {
  const tr = document.createElement('tr');
  for (const c of cells) {
    const td = document.createElement('td');
    if (c instanceof Node) td.append(c);
    else td.textContent = c === null || c === undefined ? '' : String(c);
    tr.append(td);
  }
  return tr;
}

function fill(tbody, rows) {
  tbody.replaceChildren(...rows);
}

const fmtTime = (ms) => (ms === null || ms === undefined ? '–' : new Date(ms).toLocaleString());
const fmtAge = (ms) => (ms === null || ms === undefined ? '' : ms < 60_000 ? `${Math.round(ms / 1000)} s` : ms < 3_600_000 ? `${Math.round(ms / 60_000)} min` : `${(ms / 3_600_000).toFixed(1)} h`);
const fmtBytes = (n) => (n === null || n === undefined ? '–' : n >= 2 ** 30 ? `${(n / 2 ** 30).toFixed(1)} GiB` : n >= 2 ** 20 ? `${(n / 2 ** 20).toFixed(1)} MiB` : `${Math.round(n / 1024)} KiB`);

// ---------- overview ----------
let points = [];

function renderOverview(o) {
  $('gateway').textContent = `${o.gateway ?? ''} ${o.version ? `v${o.version}` : ''}`;
  const h = $('health');
  h.textContent = o.health?.healthy ? 'healthy' : 'unhealthy';
  h.title = (o.health?.reasons ?? []).join('\n');
  h.classList.toggle('bad', !o.health?.healthy);
  $('rate-in').textContent = o.rates ? o.rates.in : '–';
  $('rate-committed').textContent = o.rates ? o.rates.committed : '–';
  $('rate-sent').textContent = o.rates ? o.rates.sent : '–';
  $('queue-depth').textContent = o.queue.depth;
  $('queue-oldest').textContent = o.queue.oldestUnsentAgeMs === null ? 'nothing unsent' : `oldest unsent ${fmtAge(o.queue.oldestUnsentAgeMs)}`;
  $('disk-free').textContent = o.disk ? fmtBytes(o.disk.freeBytes) : '–';
  $('disk-path').textContent = o.disk ? `of ${fmtBytes(o.disk.totalBytes)} (${o.disk.path})` : '';
  $('dl-total').textContent = o.queue.deadLetters;
  // An input, then (Modbus) each device of its bus, indented.
  fill($('inputs').tBodies[0], o.inputs.flatMap((i) => [
    row([i.name, i.state, i.received, i.committed, fmtTime(i.lastMessageAt), i.lastError?.message ?? '']),
    ...(i.devices ?? []).map((d) => {
      const c = d.counters;
      const tr = row([`  ${d.name} (unit ${d.unitId})`, d.state, `${c.polls} polls`, `${c.timeouts} timeouts, ${c.crcErrors} CRC errors`, fmtTime(d.lastPollAt), d.lastError ?? '']);
      tr.className = 'device';
      return tr;
    }),
  ]));
  const sp = o.sparkplug;
  $('sparkplug').hidden = sp === null;
  if (sp !== null) {
    $('sparkplug-state').textContent = sp.state === null ? '' : `(STATE ${sp.state.hostId}: ${sp.state.online ? 'online' : 'offline'})`;
    fill($('sparkplug-nodes').tBodies[0], Object.entries(sp.nodes).map(([name, n]) => row([name, n.online === null ? 'unknown' : n.online ? 'online' : 'offline', n.births, n.deaths, n.dataMessages, n.metrics, n.unresolved, n.seqGaps, n.rebirthRequests])));
  }
  const s = o.sender;
  const rtt = s.rtt.count === 0 ? '–' : `mean ${s.rtt.meanMs} ms, p50 ≤ ${s.rtt.p50Ms ?? '>10000'} ms, p99 ≤ ${s.rtt.p99Ms ?? '>10000'} ms`;
  fill($('sender').tBodies[0], [
    row(['connection', s.state]),
    row(['records sent', `${s.sentRecords} (${s.resentRecords} re-sent)`]),
    row(['last acknowledged', fmtTime(s.lastAckAt)]),
    row(['round trip', rtt]),
    row(['reconnects', s.reconnects]),
    row(['last error', s.lastError ? `${s.lastError.code}: ${s.lastError.message} (${fmtTime(s.lastError.at)})` : 'none']),
  ]);
  fill($('dl-reasons').tBodies[0], o.deadLettersByReason.map((r) => row([r.reason, r.source, r.count])));
  const list = $('dl-reason-list');
  list.replaceChildren(...[...new Set(o.deadLettersByReason.map((r) => r.reason))].map((r) => Object.assign(document.createElement('option'), { value: r })));
}

function drawChart() {
  const svg = $('chart');
  const ns = 'http://www.w3.org/2000/svg';
  const hour = 3_600_000;
  const end = Date.now();
  const shown = points.filter((p) => p.at > end - hour);
  const max = Math.max(1, ...shown.flatMap((p) => [p.in, p.committed, p.sent]));
  $('chart-max').textContent = `top: ${max}/s`;
  const lines = ['in', 'committed', 'sent'].map((key) => {
    const pl = document.createElementNS(ns, 'polyline');
    pl.setAttribute('class', `s-${key}`);
    pl.setAttribute('points', shown.map((p) => `${(((p.at - (end - hour)) / hour) * 800).toFixed(1)},${(200 - (p[key] / max) * 195).toFixed(1)}`).join(' '));
    return pl;
  });
  svg.replaceChildren(...lines);
}

async function startOverview() {
  const h = await api('history');
  points = h.points;
  drawChart();
  const events = new EventSource('/api/console/events');
  events.addEventListener('overview', (e) => {
    showError(null);
    renderOverview(JSON.parse(e.data));
  });
  events.addEventListener('point', (e) => {
    points.push(JSON.parse(e.data));
    if (points.length > 4000) points.shift();
    drawChart();
  });
  events.onerror = () => showError(new Error('live updates interrupted; reconnecting…'));
}

// ---------- dead letters ----------
let dlNext = null;

function dlQuery(after) {
  const f = new FormData($('dl-filter'));
  const q = new URLSearchParams({ limit: '100' });
  if (f.get('reason')) q.set('reason', f.get('reason'));
  if (f.get('source')) q.set('source', f.get('source'));
  if (after) q.set('after', String(after));
  return `dead-letters?${q}`;
}

function dlRow(d) {
  const box = Object.assign(document.createElement('input'), { type: 'checkbox', value: String(d.id) });
  box.dataset.id = String(d.id);
  const preview = d.payload === null ? (d.record ? JSON.stringify(d.record) : '') : `${d.payload.encoding === 'hex' ? 'hex: ' : ''}${d.payload.preview}${d.payload.truncated ? ' …' : ''}`;
  const tr = row([box, d.id, fmtTime(d.at), d.reason, d.source, d.origin ?? '', preview]);
  tr.lastChild.className = 'payload';
  return tr;
}

async function loadDeadLetters(more = false) {
  const data = await api(dlQuery(more ? dlNext : null));
  const body = $('dl-table').tBodies[0];
  if (!more) body.replaceChildren();
  body.append(...data.items.map(dlRow));
  dlNext = data.next;
  $('dl-more').hidden = dlNext === null;
}

function selectedIds() {
  return [...$('dl-table').tBodies[0].querySelectorAll('input:checked')].map((b) => Number(b.dataset.id));
}

async function dlAction(kind) {
  const ids = selectedIds();
  if (ids.length === 0) return showError(new Error('select dead letters first'));
  if (kind === 'purge' && !confirm(`Delete ${ids.length} dead letters for good?`)) return;
  const r = await api(`dead-letters/${kind}`, { ids });
  $('dl-result').textContent = kind === 'retry' ? `${r.retried} re-queued (${r.records} records), ${r.skipped} still unmappable` : `${r.purged} purged`;
  await loadDeadLetters();
}

// ---------- playground ----------
async function loadTargets() {
  const t = await api('mapping/targets');
  $('topic-list').replaceChildren(...t.topics.map((v) => Object.assign(document.createElement('option'), { value: v })));
  const sel = document.querySelector('#map-form select[name=port]');
  sel.replaceChildren(...t.ports.map((p) => Object.assign(document.createElement('option'), { value: p, textContent: p })));
}

async function mapPayload(ev) {
  ev.preventDefault();
  const f = new FormData(ev.target);
  const body = { payload: f.get('payload'), encoding: f.get('encoding') };
  if (f.get('kind') === 'port') body.port = f.get('port');
  else body.topic = f.get('topic');
  try {
    $('map-result').textContent = JSON.stringify(await api('map', body), null, 2);
  } catch (err) {
    $('map-result').textContent = `error: ${err.message}`;
  }
}

// ---------- metadata ----------
async function loadMetadata() {
  const m = await api('metadata');
  const s = m.status;
  $('md-status').textContent = s === null ? 'this agent runs without metadata sync' : `${s.state}, collection ${s.collection}: ${s.inSync} in sync, ${s.pending} pending, ${s.failed} failed; last resync ${fmtTime(s.lastResyncAt)}`;
  $('md-resync').disabled = s === null;
  fill($('md-table').tBodies[0], m.entries.map((e) => {
    const state = e.state === 'acked' ? 'synced' : e.state;
    const tr = row([e.key, state, e.value ?? '(delete)', e.ackedValue ?? '', e.source, e.lastError ?? '']);
    tr.children[1].className = `state-${e.state}`;
    return tr;
  }));
}

// ---------- configuration ----------
async function loadConfig() {
  const c = await api('config');
  const box = $('cfg-file');
  const parts = [];
  const p = document.createElement('p');
  p.textContent = !c.file.changed ? `${c.file.path}: unchanged since it was loaded.` : c.file.problems.length === 0 ? `${c.file.path} changed since it was loaded and is valid: reload the agent (systemctl reload fluxion-edge) to apply it.` : `${c.file.path} changed since it was loaded and does NOT validate; a reload would be refused:`;
  parts.push(p);
  if (c.file.problems.length > 0) {
    const ul = document.createElement('ul');
    ul.className = 'error';
    ul.append(...c.file.problems.map((x) => Object.assign(document.createElement('li'), { textContent: `${x.line !== undefined ? `line ${x.line}:${x.column}: ` : ''}${x.path || '(file)'}: ${x.message}` })));
    parts.push(ul);
  }
  box.replaceChildren(...parts);
  $('cfg-running').textContent = JSON.stringify(c.running, null, 2);
}

// ---------- pages ----------
const loaders = { 'dead-letters': () => loadDeadLetters(), playground: loadTargets, metadata: loadMetadata, config: loadConfig };

function showPage() {
  const name = location.hash.slice(1) || 'overview';
  for (const s of document.querySelectorAll('.page')) s.hidden = s.id !== `page-${name}`;
  for (const a of document.querySelectorAll('nav a')) a.classList.toggle('active', a.dataset.page === name);
  loaders[name]?.().catch(showError);
}

const guard = (fn) => (...args) => Promise.resolve(fn(...args)).catch(showError);

async function main() {
  const s = await api('session');
  if (!s.authenticated) {
    location.href = s.login;
    return;
  }
  csrf = s.csrf;
  $('logout').hidden = !s.tokenRequired;
  $('logout').addEventListener('click', guard(async () => {
    await fetch('/console/logout', { method: 'POST', credentials: 'same-origin' });
    location.href = '/console/login.html';
  }));
  $('dl-filter').addEventListener('submit', guard((e) => { e.preventDefault(); return loadDeadLetters(); }));
  $('dl-more').addEventListener('click', guard(() => loadDeadLetters(true)));
  $('dl-retry').addEventListener('click', guard(() => dlAction('retry')));
  $('dl-purge').addEventListener('click', guard(() => dlAction('purge')));
  $('dl-all').addEventListener('change', (e) => { for (const b of $('dl-table').tBodies[0].querySelectorAll('input')) b.checked = e.target.checked; });
  $('map-form').addEventListener('submit', guard(mapPayload));
  $('md-resync').addEventListener('click', guard(async () => { await api('metadata/resync', {}); await loadMetadata(); }));
  window.addEventListener('hashchange', showPage);
  showPage();
  await startOverview();
}

main().catch(showError);
