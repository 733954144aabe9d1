// Sparkplug B ingest benchmark: DDATA messages of 20 metrics each (alias only, after a
// DBIRTH), decoded and committed per second by the agent (MQTT input, group commit, mapping,
// SqliteQueue at synchronous=full), against the same readings as one JSON object per
// message through the same agent, in the same run. Also the agent's CPU per metric.
//
// The publisher runs in its own process (Tahu's sparkplug-payload encodes there, before the
// clock starts), with 1,000 QoS 1 publishes in flight; the clock runs from the first
// message received to the last one committed.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { Agent } from '../dist/agent.js';
import { loadConfig } from '../dist/config/index.js';
import { ownCpuSeconds, report } from './common.mjs';
import { startMosquitto } from './mqtt-ingest.bench.mjs';

const N = 20_000;
const METRICS = 20;
const DEVICES = 10;
const BASE_TS = 1_750_000_000_000;

const PUBLISHER = `
import mqtt from 'mqtt';
import { createRequire } from 'node:module';
const require = createRequire(process.cwd() + '/package.json');
const sp = require('sparkplug-payload').get('spBv1.0');
const [url, format, n, metrics, devices] = [process.argv[1], process.argv[2], Number(process.argv[3]), Number(process.argv[4]), Number(process.argv[5])];
const value = (i, m) => (m % 4 === 0 ? (i + m) % 1000 : m % 4 === 1 ? ((i * 7 + m) % 5000) / 10 : m % 4 === 2 ? (i + m) % 2 === 0 : -((i + m) % 30000));
const TYPES = ['Int32', 'Double', 'Boolean', 'Int16'];
const messages = [];
if (format === 'sparkplug') {
  let seq = 0;
  const next = () => { const s = seq; seq = (seq + 1) % 256; return s; };
  messages.push(['spBv1.0/bench/NBIRTH/edge', sp.encodePayload({ timestamp: ${BASE_TS}, seq: next(), metrics: [{ name: 'bdSeq', type: 'UInt64', value: 0 }] })]);
  for (let d = 0; d < devices; d++) {
    const defs = Array.from({ length: metrics }, (_, m) => ({ name: 'Tag' + m, alias: m + 1, type: TYPES[m % 4], value: value(0, m) }));
    messages.push(['spBv1.0/bench/DBIRTH/edge/d' + d, sp.encodePayload({ timestamp: ${BASE_TS}, seq: next(), metrics: defs })]);
  }
  for (let i = 0; i < n; i++) {
    const ms = Array.from({ length: metrics }, (_, m) => ({ alias: m + 1, type: TYPES[m % 4], value: value(i, m) }));
    messages.push(['spBv1.0/bench/DDATA/edge/d' + (i % devices), sp.encodePayload({ timestamp: ${BASE_TS} + 1 + i, seq: next(), metrics: ms })]);
  }
} else {
  for (let i = 0; i < n; i++) {
    const o = { ts: ${BASE_TS} + 1 + i };
    for (let m = 0; m < metrics; m++) o['Tag' + m] = value(i, m);
    messages.push(['json/edge/d' + (i % devices), JSON.stringify(o)]);
  }
}
const pub = await mqtt.connectAsync(url, { reconnectPeriod: 0 });
const inflight = new Set();
for (const [topic, payload] of messages) {
  const p = pub.publishAsync(topic, Buffer.from(payload), { qos: 1 }).finally(() => inflight.delete(p));
  inflight.add(p);
  if (inflight.size >= 1000) await Promise.race(inflight);
}
await Promise.all(inflight);
await pub.endAsync();
`;

function publish(url, format, n) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', PUBLISHER, url, format, String(n), String(METRICS), String(DEVICES)], {
      stdio: ['ignore', 'inherit', 'inherit'],
      cwd: new URL('..', import.meta.url),
    });
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`publisher exited with ${code}`))));
  });
}

function config(dir, brokerUrl, format, tag) {
  const path = join(dir, `${format}-${tag}.yaml`);
  const rule =
    format === 'sparkplug'
      ? '    - { topic: "spBv1.0/#", format: sparkplug_b, collection: bench }'
      : '    - { topic: "json/{node}/{device}", collection: bench, document: "bench/{node}/{device}", timestamp: { field: ts, unit: ms } }';
  writeFileSync(path, `
fluxiondb:
  url: ws://127.0.0.1:9
  api_key: bench
queue: { path: ${join(dir, `${format}-${tag}.db`)}, synchronous: full }
sender: { backoff: { base: 10s, cap: 60s } }
mqtt:
  url: ${brokerUrl}
  client_id: bench-${format}-${tag}-${process.pid}
  clean: true
  subscriptions:
${rule}
`);
  return loadConfig(path, {}).settings;
}

/** Messages per second from the first received to the last committed, and the agent's CPU per metric. */
async function run(dir, brokerUrl, format, n, tag) {
  const settings = config(dir, brokerUrl, format, tag);
  const agent = new Agent(settings.agent, pino({ level: 'error' }), { mapping: settings.mapping, mqtt: settings.mqtt });
  await agent.start();
  while (agent.status().inputs[0].state !== 'connected') await new Promise((r) => setTimeout(r, 5));
  await new Promise((r) => setTimeout(r, 200)); // the SUBACK
  const total = format === 'sparkplug' ? n + 1 + DEVICES : n;
  const published = publish(brokerUrl, format, n);
  while (agent.status().inputs[0].received === 0) await new Promise((r) => setImmediate(r));
  const first = performance.now();
  const cpu0 = ownCpuSeconds();
  while (agent.status().inputs[0].committed < total) await new Promise((r) => setImmediate(r));
  const seconds = (performance.now() - first) / 1000;
  const cpu = ownCpuSeconds() - cpu0;
  await published;
  const s = agent.status();
  await agent.stop();
  if (s.ingest.deadLettered !== 0) throw new Error(`${format}: ${s.ingest.deadLettered} dead letters`);
  const records = s.queue.depth;
  if (records < n) throw new Error(`${format}: ${records} records queued, expected at least ${n}`);
  return { rate: total / seconds, cpuPerMetricUs: (cpu / (n * METRICS)) * 1e6 };
}

export async function main() {
  const dir = mkdtempSync(join(tmpdir(), 'fluxion-edge-bench-sparkplug-'));
  const broker = await startMosquitto(dir);
  try {
    // A short warm-up of both (the JIT, the broker), then the measured runs.
    await run(dir, broker.url, 'json', N / 4, 'warm');
    await run(dir, broker.url, 'sparkplug', N / 4, 'warm');
    const json = await run(dir, broker.url, 'json', N, 'run');
    const sp = await run(dir, broker.url, 'sparkplug', N, 'run');
    report('sparkplug', {
      messages: N,
      metrics_per_message: METRICS,
      'json_msg/s': json.rate,
      'sparkplug_msg/s': sp.rate,
      'sparkplug_metrics/s': sp.rate * METRICS,
      rate_ratio: sp.rate / json.rate,
      json_cpu_us_per_metric: json.cpuPerMetricUs,
      sparkplug_cpu_us_per_metric: sp.cpuPerMetricUs,
      cpu_ratio: sp.cpuPerMetricUs / json.cpuPerMetricUs,
    });
  } finally {
    await broker.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
