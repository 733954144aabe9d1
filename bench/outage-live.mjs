// The outage-day drain with live readings arriving (issue 17): while the agent replays the
// backlog, a publisher (its own process) sends 1,000 devices at 1 Hz, QoS 1, through a real
// Mosquitto to the agent, each reading carrying its publish time as its timestamp. The agent
// (the built code, in a process of its own, configured through the same parseConfig as
// `fluxion-edge run`) subscribes with a persistent session created before it starts, so no
// reading published while it connects is lost, and sends with the default `order: live_first`.
//
// Measured: the backlog's drain rate (from the agent up to the last backlog reading acked:
// no unsent row left that was enqueued before the drain), the live readings' publish-to-server
// latency, seen by polling the dev server for the latest reading of one device in POLL_SAMPLE
// (every reading of theirs) every POLL_MS (an upper bound: a reading is stamped with the time
// the first poll that returned it came back), the agent's RSS, and what arrived, counted on
// the server (all devices). The sample keeps the poller's cost, which the raw client's
// measurement does not share, small: a query for all 1,000 devices cost the dev server 1.2 ms
// of CPU and the bench 1.1 ms, one for 100 of them 0.35 and 0.25 (40 queries a second).
// AGENT_PROF=<dir>: the agent writes a V8 CPU profile of its run there (`--cpu-prof`).
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import mqtt from 'mqtt';
import { FluxionClient } from '../dist/client/index.js';
import { cpuSecondsOf, ownCpuSeconds } from './common.mjs';

export const LIVE_COL = 'live';
const LIVE_RATE = 1000;
const LIVE_DEVICES = 1000;
const CLIENT_ID = 'outage-live-agent';
const POLL_MS = 25;
/** Latency is measured on the devices whose number ends in 0 (one in 10; the doc filter below). */
const POLL_SAMPLE = 10;
const POLL_DOCS = '/0$/';
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const dist = (p) => JSON.stringify(new URL(`../dist/${p}`, import.meta.url).href);

// The publisher: waits for "go" on stdin, publishes LIVE_RATE readings/s in 10 ms ticks until
// "stop", waits for every PUBACK, then prints the (device, ts) pairs it published. It stands in
// for 1,000 devices, whose own CPU is elsewhere on a site, so it speaks MQTT 3.1.1 by hand:
// a tick's QoS 1 PUBLISH packets go out in one write, PUBACKs are only counted. Through
// MQTT.js it cost 0.10 of a core at 1,000 readings/s (a promise and a packet object each), CPU
// the raw client's measurement never had to share (it is also a second implementation of the
// protocol beside the agent's).
const PUBLISHER = `
import { connect } from 'node:net';
import { createInterface } from 'node:readline';
const [url, rate, devices] = [process.argv[1], Number(process.argv[2]), Number(process.argv[3])];
const { hostname, port } = new URL(url);
const utf8 = (s) => { const b = Buffer.from(s); return Buffer.concat([Buffer.from([b.length >> 8, b.length & 255]), b]); };
// Fixed header byte, then the remaining length (MQTT's variable-length integer).
const packet = (first, body) => {
  const len = [];
  let n = body.length;
  do { let d = n % 128; n = Math.floor(n / 128); len.push(n > 0 ? d | 128 : d); } while (n > 0);
  return Buffer.concat([Buffer.from([first, ...len]), body]);
};
const socket = connect({ host: hostname, port: Number(port), noDelay: true });
// CONNECT: protocol "MQTT" level 4, clean session, keep-alive 60 s, client id.
socket.write(packet(0x10, Buffer.concat([utf8('MQTT'), Buffer.from([4, 2, 0, 60]), utf8('outage-live-pub')])));
// A broker that drops the connection would leave PUBACKs owed for ever: fail the run instead.
let finished = false;
const fail = (why) => { if (!finished) { console.error('publisher: ' + why); process.exit(1); } };
socket.on('error', (e) => fail(e.message));
socket.on('close', () => fail('the broker closed the connection'));
let inbox = Buffer.alloc(0);
let connacked;
const connected = new Promise((r) => (connacked = r));
let unacked = 0;
let drained = null;
socket.on('data', (d) => {
  inbox = inbox.length === 0 ? d : Buffer.concat([inbox, d]);
  // CONNACK (0x20) and PUBACK (0x40) are 4 bytes each.
  let k = 0;
  for (; k + 4 <= inbox.length; k += 4) {
    if (inbox[k] === 0x20) { if (inbox[k + 3] !== 0) fail('CONNACK refused'); connacked(); }
    else if (inbox[k] === 0x40) { unacked--; if (unacked === 0 && drained) drained(); }
    else fail('unexpected packet type ' + inbox[k]);
  }
  inbox = inbox.subarray(k);
});
await connected;
const sent = [];
let stopping = false;
const lines = createInterface({ input: process.stdin });
const go = new Promise((r) => lines.on('line', (l) => (l === 'go' ? r() : l === 'stop' && (stopping = true))));
console.log('connected');
await go;
const t0 = performance.now();
let seq = 0;
while (!stopping) {
  const due = Math.floor(((performance.now() - t0) / 1000) * rate);
  const out = [];
  for (; seq < due; seq++) {
    const d = seq % devices;
    const ts = Date.now();
    const x = Math.imul(seq ^ (seq >>> 13), 0x5bd1e995) >>> 0;
    const payload = '{"ts":' + ts + ',"temperature":' + (150 + (x % 150)) / 10 + ',"humidity":' + (200 + ((x >>> 8) % 600)) / 10 + '}';
    const id = (seq % 65535) + 1;
    out.push(packet(0x32, Buffer.concat([utf8('site/live-' + d + '/t'), Buffer.from([id >> 8, id & 255]), Buffer.from(payload)])));
    sent.push([d, ts]);
  }
  unacked += out.length;
  if (out.length > 0) socket.write(Buffer.concat(out));
  await new Promise((r) => setTimeout(r, 10));
}
if (unacked > 0) await new Promise((r) => (drained = r));
finished = true;
socket.end(Buffer.from([0xe0, 0]));
console.log(JSON.stringify({ sent }));
lines.close();
`;

function jsonLines(child, onLine) {
  let buf = '';
  child.stdout.setEncoding('utf8').on('data', (d) => {
    buf += d;
    for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
      const line = buf.slice(0, i).trim();
      buf = buf.slice(i + 1);
      if (line !== '') onLine(line);
    }
  });
}

/** A child process speaking lines; `next()` resolves with the next line it prints. */
function spawnLines(args) {
  const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = [];
  const waiters = [];
  jsonLines(child, (l) => (waiters.length > 0 ? waiters.shift().resolve(l) : lines.push(l)));
  child.once('exit', (code) => {
    for (const w of waiters.splice(0)) w.reject(new Error(`child exited ${code} before answering`));
  });
  return {
    child,
    send: (line) => child.stdin.write(`${line}\n`),
    next: () => (lines.length > 0 ? Promise.resolve(lines.shift()) : new Promise((resolve, reject) => waiters.push({ resolve, reject }))),
    exited: new Promise((r) => (child.exitCode !== null ? r(child.exitCode) : child.once('exit', r))),
  };
}

/**
 * The agent draining `path` while subscribed to the broker: prints "connected" once its
 * MQTT input is up, then the backlog's drain (rate, RSS samples, when it ended); on
 * "finish N" waits until N live readings were committed and every row was sent, and prints
 * its counters.
 */
function agentScript(serverUrl, brokerUrl, path, compression, order, topic) {
  const yaml = `
fluxiondb: { url: "${serverUrl}", api_key: bench-key, request_timeout: 60s, compression: ${compression} }
queue: { path: "${path}", synchronous: normal, max_bytes: 64GiB }
sender: { request_timeout: 60s, housekeeping_interval: 5s, stop_deadline: 5s, order: ${order} }
mqtt:
  url: ${brokerUrl}
  client_id: ${CLIENT_ID}
  clean: false
  subscriptions:
    - topic: ${topic}
      collection: ${LIVE_COL}
      document: "{device}"
      timestamp: { field: ts, unit: ms }
`;
  return `
    const { default: pino } = await import('pino');
    const { createInterface } = await import('node:readline');
    const { Agent } = await import(${dist('agent.js')});
    const { parseConfig } = await import(${dist('config/index.js')});
    const { sampleMemory, STATUS_POLL_MS } = await import(${JSON.stringify(new URL('./common.mjs', import.meta.url).href)});
    const { settings } = parseConfig(${JSON.stringify(yaml)}, { env: {}, baseDir: process.cwd() });
    const agent = new Agent(settings.agent, pino({ level: 'warn' }, pino.destination(2)), { mapping: settings.mapping, mqtt: settings.mqtt });
    const lines = createInterface({ input: process.stdin });
    const finish = new Promise((r) => lines.on('line', (l) => l.startsWith('finish ') && r(Number(l.slice(7)))));
    const until = async (check) => { while (!check()) await new Promise((r) => setTimeout(r, STATUS_POLL_MS)); };
    const { rss, peaks: mem, stop: stopSampling } = sampleMemory();
    const wall0 = Date.now();
    await agent.start();
    const t0 = performance.now();
    const cpu0 = process.cpuUsage();
    const elu0 = performance.eventLoopUtilization();
    console.log('started');
    const s0 = agent.status();
    const unsent0 = s0.queue.depth;
    await until(() => agent.status().inputs[0]?.state === 'connected');
    console.log('connected');
    // The backlog is out once no unsent row is older than the drain: live rows are all newer.
    await until(() => { const o = agent.status().queue.oldestUnsentEnqueuedAt; return o === null || o >= wall0; });
    const seconds = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const loopBusy = performance.eventLoopUtilization(elu0).utilization;
    stopSampling();
    console.log(JSON.stringify({ rate: unsent0 / seconds, backlog: unsent0, seconds, rss, drainedAt: Date.now(), agentCpu: (cpu.user + cpu.system) / 1e6, loopBusy, mem }));
    const live = await finish;
    await until(() => { const q = agent.status().queue; return q.appended - s0.queue.appended >= live && q.depth === 0; });
    const s = agent.status();
    await agent.stop();
    lines.close();
    console.log(JSON.stringify({
      appended: s.queue.appended - s0.queue.appended,
      sentRows: s.queue.sent - s0.queue.sent,
      sentRecords: s.sender.sentRecords,
      sentBatches: s.sender.sentBatches,
      resent: s.sender.resentRecords,
      connections: s.sender.connections,
      deadLettered: s.queue.deadLettered - s0.queue.deadLettered,
      dropped: s.queue.dropped - s0.queue.dropped,
    }));`;
}

/** First sighting on the server of each live reading of the sampled devices, by polling their latest ones. */
function pollLatency(serverUrl) {
  const client = new FluxionClient({ url: serverUrl, apiKey: 'bench-key', requestTimeoutMs: 60_000 });
  const seen = new Map(); // `${doc}\t${ts}` -> ms from publish to the answer that first held it
  let running = true;
  const loop = (async () => {
    while (running) {
      const t = performance.now();
      const latest = await client.fetchLatestRecords({ col: LIVE_COL, ts: Number.MAX_SAFE_INTEGER, doc: POLL_DOCS });
      const now = Date.now();
      for (const [doc, p] of Object.entries(latest)) {
        const key = `${doc}\t${p.ts}`;
        if (!seen.has(key)) seen.set(key, now - p.ts);
      }
      await new Promise((r) => setTimeout(r, Math.max(0, POLL_MS - (performance.now() - t))));
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      await client.close();
      return seen;
    },
  };
}

const quantile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];

/**
 * Checks on the server that each of `docs` holds exactly `expected(doc)` (a set of
 * timestamps): returns [missing, unexpected] counts.
 */
async function compareOnServer(client, col, docs, expected) {
  let missing = 0;
  let unexpected = 0;
  for (const doc of docs) {
    const want = expected(doc);
    const got = await client.fetchDocument({ col, doc, from: 0, to: Number.MAX_SAFE_INTEGER });
    let hit = 0;
    for (const p of got) if (want.has(p.ts)) hit++;
    missing += want.size - hit;
    unexpected += got.length - hit;
  }
  return [missing, unexpected];
}

/**
 * Drains the queue at `path` (holding `backlogDocs` of `col`, `expectBacklog(doc)` each)
 * with live readings arriving. `compression` (the agent's default is on) is off by default,
 * like the raw client and the drain without live readings it is compared with; returns the drain's rate, RSS samples, latency quantiles and
 * the counts on the server.
 */
export async function drainWithLive({ serverUrl, serverPid, brokerUrl, brokerPid, path, col, backlogDocs, expectBacklog, compression = false, order = 'live_first', topic = 'site/{device}/t', poll = true }) {
  // The agent's persistent session, made before it starts: Mosquitto holds what is published
  // until the agent's own SUBSCRIBE is acknowledged.
  const session = await mqtt.connectAsync(brokerUrl, { clientId: CLIENT_ID, clean: false, reconnectPeriod: 0 });
  await session.subscribeAsync(topic.replace('{device}', '+'), { qos: 1 });
  await session.endAsync();

  const publisher = spawnLines(['--input-type=module', '-e', PUBLISHER, brokerUrl, String(LIVE_RATE), String(LIVE_DEVICES)]);
  await publisher.next(); // connected
  const agent = spawnLines([...(process.env.AGENT_PROF ? ['--cpu-prof', '--cpu-prof-dir', process.env.AGENT_PROF] : []), '--input-type=module', '-e', agentScript(serverUrl, brokerUrl, path, compression, order, topic)]);
  // CPU seconds of the other processes while the backlog drains (the agent counts its own).
  const others = { server: serverPid, broker: brokerPid, publisher: publisher.child.pid, bench: null };
  const cpuNow = () => Object.fromEntries(Object.entries(others).map(([k, pid]) => [k, pid === null ? ownCpuSeconds() : cpuSecondsOf(pid)]));
  await agent.next(); // started: the drain's clock runs
  const cpu0 = cpuNow();
  await agent.next(); // its MQTT input is up: the live stream starts
  const poller = poll ? pollLatency(serverUrl) : { stop: async () => new Map() };
  publisher.send('go');
  const drain = JSON.parse(await agent.next());
  const cpu1 = cpuNow();
  const cpuUse = { agent: drain.agentCpu / drain.seconds };
  for (const k of Object.keys(others)) cpuUse[k] = (cpu1[k] - cpu0[k]) / drain.seconds;
  publisher.send('stop');
  const { sent } = JSON.parse(await publisher.next());
  agent.send(`finish ${topic === 'site/{device}/t' ? sent.length : 0}`);
  const counters = JSON.parse(await agent.next());
  if ((await agent.exited) !== 0) throw new Error('drain agent failed');
  await publisher.exited;
  const seen = await poller.stop();

  // Latency of the readings published while the backlog drained.
  const lat = [];
  let unseen = 0;
  const liveByDoc = new Map();
  for (const [d, ts] of sent) {
    const doc = `live-${d}`;
    if (!liveByDoc.has(doc)) liveByDoc.set(doc, new Set());
    liveByDoc.get(doc).add(ts);
    if (ts > drain.drainedAt || d % POLL_SAMPLE !== 0) continue;
    const l = seen.get(`${doc}\t${ts}`);
    if (l === undefined) unseen++;
    else lat.push(l);
  }
  lat.sort((a, b) => a - b);

  const client = new FluxionClient({ url: serverUrl, apiKey: 'bench-key', requestTimeoutMs: 60_000 });
  try {
    const [liveMissing, liveExtra] = await compareOnServer(client, LIVE_COL, [...liveByDoc.keys()], (doc) => liveByDoc.get(doc));
    const [backlogMissing, backlogExtra] = await compareOnServer(client, col, backlogDocs, expectBacklog);
    return {
      ...drain,
      cpuUse,
      live: sent.length,
      liveDuringDrain: lat.length + unseen,
      latency: { p50: quantile(lat, 0.5), p99: quantile(lat, 0.99), max: lat[lat.length - 1], seen: lat.length, unseen, pollMs: POLL_MS, sample: POLL_SAMPLE },
      counters,
      server: { liveMissing, liveExtra, backlogMissing, backlogExtra },
    };
  } finally {
    await client.close();
  }
}
