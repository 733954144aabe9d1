// MQTT end to end: publish -> agent (MqttInput, mapping, SQLite queue with synchronous=full,
// sender) -> FluxionDB dev server ack, against a bare mqtt.js QoS 1 subscriber on the same
// Mosquitto in the same run (target >= 0.8). Then latency from publish to the server's ack
// at a steady 5,000 msgs/s (target p99 < 250 ms), CPU seconds per 100,000 readings, and RSS.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import pino from 'pino';
import { Agent } from '../dist/agent.js';
import { parseConfig } from '../dist/config/index.js';
import { ownCpuSeconds, report, startDevServer } from './common.mjs';
import { bareRate, publish, startMosquitto } from './mqtt-ingest.bench.mjs';

const N = 50_000;
const STEADY_RATE = 5_000;
const STEADY_SECONDS = 10;

function agentFor(brokerUrl, serverUrl, dir, clientId, groupMessages = 20, qos = 1) {
  const { settings } = parseConfig(
    `
fluxiondb: { url: ${serverUrl}, api_key: bench-key }
queue: { path: ${join(dir, `${clientId}.db`)}, synchronous: full }
mqtt:
  url: ${brokerUrl}
  client_id: ${clientId}
  clean: true
  group_commit: { max_messages: ${groupMessages} }
  subscriptions:
    - topic: bench/{device}/t
      qos: ${qos}
      collection: bench
      document: "{device}"
      timestamp: { field: ts, unit: ms }
`,
    { env: {}, baseDir: dir },
  );
  return new Agent(settings.agent, pino({ level: 'warn' }), { mapping: settings.mapping, mqtt: settings.mqtt });
}

async function until(check) {
  while (!check()) await new Promise((r) => setTimeout(r, 2));
}

async function throughput(brokerUrl, serverUrl, dir, groupMessages, qos = 1) {
  const agent = agentFor(brokerUrl, serverUrl, dir, `bench-e2e-rate-${groupMessages}-${qos}`, groupMessages, qos);
  await agent.start();
  await until(() => agent.status().inputs[0]?.state === 'connected');
  await new Promise((r) => setTimeout(r, 200)); // the SUBACK
  let peakRss = 0;
  const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 100);
  const cpu0 = ownCpuSeconds();
  const published = publish(brokerUrl, N);
  await until(() => agent.status().inputs[0].lastMessageAt !== null);
  const first = performance.now();
  await until(() => agent.status().queue.sent >= N);
  const seconds = (performance.now() - first) / 1000;
  const cpu = ownCpuSeconds() - cpu0;
  clearInterval(sampler);
  await published;
  await agent.stop();
  return { rate: N / seconds, cpuPer100k: (cpu * 100_000) / N, peakRss };
}

async function steadyLatency(brokerUrl, serverUrl, dir, groupMessages = 20) {
  const agent = agentFor(brokerUrl, serverUrl, dir, `bench-e2e-latency-${groupMessages}`, groupMessages);
  await agent.start();
  await until(() => agent.status().inputs[0]?.state === 'connected');
  await new Promise((r) => setTimeout(r, 200));
  // Each reading carries its publish time as its timestamp (one reading per device per
  // 10 ms tick, so no collisions): its latency is when the server's ack reached the sender
  // minus that time.
  const latencies = [];
  agent.sender.on('acked', (rows) => {
    const now = Date.now();
    for (const r of rows) latencies.push(now - r.ts);
  });
  const pub = await mqtt.connectAsync(brokerUrl, { clientId: 'bench-e2e-steady-pub' });
  const perTick = STEADY_RATE / 100;
  let seq = 0;
  const total = STEADY_RATE * STEADY_SECONDS;
  await new Promise((resolve) => {
    const timer = setInterval(() => {
      for (let i = 0; i < perTick; i++, seq++) {
        pub.publish(`bench/d${seq % perTick}/t`, `{"ts":${Date.now()},"seq":${seq}}`, { qos: 1 });
      }
      if (seq >= total) {
        clearInterval(timer);
        resolve();
      }
    }, 10);
  });
  await until(() => latencies.length >= total * 0.99);
  await pub.endAsync();
  await agent.stop();
  latencies.sort((a, b) => a - b);
  const q = (p) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))];
  return { p50: q(0.5), p99: q(0.99), max: latencies[latencies.length - 1], n: latencies.length };
}

export async function main() {
  const dir = mkdtempSync(join(tmpdir(), 'fluxion-bench-mqtt-e2e-'));
  const server = await startDevServer();
  try {
    // Mosquitto's default in-flight window (20): one fsync per 20 QoS 1 messages at most.
    const broker = await startMosquitto(dir);
    let bare, e2e, lat, bare0, e2e0;
    try {
      bare = await bareRate(broker.url, 1, N);
      e2e = await throughput(broker.url, server.url, dir, 20);
      bare0 = await bareRate(broker.url, 0, N);
      e2e0 = await throughput(broker.url, server.url, dir, 20, 0);
      lat = await steadyLatency(broker.url, server.url, dir);
    } finally {
      await broker.stop();
    }
    // A window of 100, group commits of 100.
    mkdirSync(join(dir, 'wide'));
    const wide = await startMosquitto(join(dir, 'wide'), { maxInflight: 100 });
    let bareWide, e2eWide;
    try {
      bareWide = await bareRate(wide.url, 1, N);
      e2eWide = await throughput(wide.url, server.url, dir, 100);
    } finally {
      await wide.stop();
    }
    // The README's recommendation (1,000), the window learnt (max_messages: auto, the default).
    mkdirSync(join(dir, 'w1000'));
    const w1000 = await startMosquitto(join(dir, 'w1000'), { maxInflight: 1000 });
    let bare1000, e2e1000, lat1000;
    try {
      bare1000 = await bareRate(w1000.url, 1, N);
      e2e1000 = await throughput(w1000.url, server.url, dir, 'auto');
      lat1000 = await steadyLatency(w1000.url, server.url, dir, 'auto');
    } finally {
      await w1000.stop();
    }
    report('mqtt-e2e', {
      messages: N,
      'bare_qos1_msg/s': bare,
      'agent_e2e_qos1_msg/s': e2e.rate,
      'e2e/bare_ratio(inflight_20)': e2e.rate / bare,
      'e2e/bare_ratio(inflight_100)': e2eWide.rate / bareWide,
      'e2e/bare_ratio(inflight_1000)': e2e1000.rate / bare1000,
      qos1_target: '>=0.80',
      'e2e/bare_ratio(qos0)': e2e0.rate / bare0,
      qos0_target: '>=0.70',
      'cpu_s/100k_readings': e2e.cpuPer100k,
      'rss_under_load MiB': e2e.peakRss / 2 ** 20,
      [`latency_at_${STEADY_RATE}/s_p50_ms`]: lat.p50,
      p99_ms: lat.p99,
      max_ms: lat.max,
      [`latency_at_${STEADY_RATE}/s_p50_ms(inflight_1000)`]: lat1000.p50,
      'p99_ms(inflight_1000)': lat1000.p99,
      'p99_target_ms': '<250',
    });
  } finally {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
