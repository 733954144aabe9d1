// MQTT ingest benchmark: how close the MqttInput (group commit into a real SqliteQueue with
// synchronous=full, through the mapping engine) comes to the rate a bare mqtt.js subscriber
// receives from the same local Mosquitto, at QoS 1 (target ratio >= 0.8) and QoS 0 (>= 0.7).
//
// A publisher process sends N 40-byte JSON messages as fast as it can while the subscriber
// is connected; the clock runs from the subscriber's first message to its last message
// received (bare) or committed (input). Mosquitto runs with the settings the README asks for
// (in-flight window 20, max_queued_messages 1000000, set_tcp_nodelay).
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect as tcpConnect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import pino from 'pino';
import { MqttInput } from '../dist/inputs/mqtt/index.js';
import { compileRules } from '../dist/mapping/index.js';
import { SqliteQueue } from '../dist/queue/index.js';
import { report } from './common.mjs';

const N = 50_000;
const DEVICES = 100;
const BASE_TS = 1_700_000_000_000;

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

export async function startMosquitto(dir, { maxInflight = 20 } = {}) {
  const port = await freePort();
  const conf = join(dir, 'mosquitto.conf');
  writeFileSync(
    conf,
    [
      `listener ${port} 127.0.0.1`,
      'allow_anonymous true',
      'max_queued_messages 1000000',
      `max_inflight_messages ${maxInflight}`,
      'set_tcp_nodelay true',
      'user root',
      `log_dest file ${join(dir, 'mosquitto.log')}`,
    ].join('\n') + '\n',
  );
  const bin = existsSync('/usr/sbin/mosquitto') ? '/usr/sbin/mosquitto' : 'mosquitto';
  const child = spawn(bin, ['-c', conf], { stdio: 'ignore' });
  for (let i = 0; ; i++) {
    const ok = await new Promise((r) => {
      const s = tcpConnect({ port, host: '127.0.0.1' });
      s.once('connect', () => (s.destroy(), r(true)));
      s.once('error', () => r(false));
    });
    if (ok) break;
    if (i > 250) throw new Error('mosquitto did not start');
    await new Promise((r) => setTimeout(r, 20));
  }
  return {
    url: `mqtt://127.0.0.1:${port}`,
    pid: child.pid,
    stop: () => new Promise((r) => (child.exitCode !== null ? r() : (child.once('exit', r), child.kill('SIGTERM')))),
  };
}

// The publisher runs in its own process (its CPU is not ours) with 1,000 QoS 1 publishes in
// flight, so the broker always has messages for the subscriber.
const PUBLISHER = `
import mqtt from 'mqtt';
const [url, n, devices] = [process.argv[1], Number(process.argv[2]), Number(process.argv[3])];
const pub = await mqtt.connectAsync(url, { reconnectPeriod: 0 });
const inflight = new Set();
for (let i = 0; i < n; i++) {
  const payload = '{"t":' + (i % 400) / 10 + ',"h":' + (i % 100) + ',"ts":' + (${BASE_TS} + i) + '}';
  const p = pub.publishAsync('bench/d' + (i % devices) + '/t', payload, { qos: 1 }).finally(() => inflight.delete(p));
  inflight.add(p);
  if (inflight.size >= 1000) await Promise.race(inflight);
}
await Promise.all(inflight);
await pub.endAsync();
`;

export function publish(url, n = N) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', PUBLISHER, url, String(n), String(DEVICES)], {
      stdio: ['ignore', 'inherit', 'inherit'],
      cwd: new URL('..', import.meta.url),
    });
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`publisher exited with ${code}`))));
  });
}

/** Receive rate of a bare mqtt.js subscriber, from its first message to its last. */
export async function bareRate(url, qos, n = N) {
  const c = await mqtt.connectAsync(url, { clientId: `bench-bare-${qos}-${process.pid}`, clean: true, reconnectPeriod: 0 });
  await c.subscribeAsync('bench/+/t', { qos });
  let got = 0;
  let first = 0;
  let done;
  const finished = new Promise((r) => (done = r));
  c.on('message', () => {
    if (got++ === 0) first = performance.now();
    if (got === n) done(performance.now());
  });
  const published = publish(url);
  const last = await finished;
  await published;
  await c.endAsync();
  return n / ((last - first) / 1000);
}

class BenchSink {
  constructor(dir) {
    this.queue = new SqliteQueue({ path: join(dir, `queue-${Math.random().toString(16).slice(2)}.db`), synchronous: 'full' });
    this.queue.start();
    this.rules = compileRules([{ topic: 'bench/{device}/t', collection: 'bench', document: '{device}', timestamp: { field: 'ts', unit: 'ms' } }]);
    this.commits = 0;
  }
  commit(messages) {
    const records = [];
    for (const m of messages) {
      const r = this.rules.map(m);
      if (r.ok) for (const rec of r.records) records.push(rec);
      else throw new Error(`bench payload rejected: ${r.reason}`);
    }
    this.queue.append(records);
    this.commits++;
  }
  waitForRoom() {
    return Promise.resolve();
  }
}

/** Commit rate of MqttInput into a SqliteQueue (synchronous full), from its first message to its last commit. */
async function inputRate(url, qos, dir, maxMessages = 20) {
  const sink = new BenchSink(dir);
  const input = new MqttInput(
    {
      url,
      clientId: `bench-input-${qos}-${process.pid}`,
      protocolVersion: 4,
      keepaliveS: 30,
      clean: true,
      reconnectBaseMs: 100,
      reconnectCapMs: 1000,
      subscriptions: [{ filter: 'bench/+/t', qos }],
      groupCommit: { maxMessages, maxDelayMs: 2 },
    },
    { sink, logger: pino({ level: 'warn' }) },
  );
  await input.start();
  while (input.status().state !== 'connected') await new Promise((r) => setTimeout(r, 5));
  await new Promise((r) => setTimeout(r, 100)); // the SUBACK
  const published = publish(url);
  while (input.status().lastMessageAt === null) await new Promise((r) => setImmediate(r));
  const first = performance.now();
  while (input.status().committed < N) await new Promise((r) => setImmediate(r));
  const last = performance.now();
  await published;
  await input.stop();
  const appended = sink.queue.stats().depth;
  sink.queue.stop();
  if (appended !== N) throw new Error(`queue holds ${appended} records, expected ${N}`);
  return { rate: N / ((last - first) / 1000), commits: sink.commits };
}

export async function main() {
  const dir = mkdtempSync(join(tmpdir(), 'fluxion-edge-bench-mqtt-'));
  const broker = await startMosquitto(dir);
  try {
    const bare1 = await bareRate(broker.url, 1);
    const in1 = await inputRate(broker.url, 1, dir);
    const bare0 = await bareRate(broker.url, 0);
    const in0 = await inputRate(broker.url, 0, dir);
    report('mqtt-ingest', {
      messages: N,
      'bare_qos1_msg/s': bare1,
      'input_qos1_msg/s': in1.rate,
      qos1_ratio: in1.rate / bare1,
      qos1_msgs_per_commit: N / in1.commits,
      'bare_qos0_msg/s': bare0,
      'input_qos0_msg/s': in0.rate,
      qos0_ratio: in0.rate / bare0,
      qos0_msgs_per_commit: N / in0.commits,
    });
  } finally {
    await broker.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
