// Flash wear at a real site's pace: the built agent (`fluxion-edge run`, its own process) takes
// QoS 1 readings of about 60 bytes from a real Mosquitto at a steady 100, 1,000 and 10,000
// readings/s, with FluxionDB unreachable so that every reading stays queued, and we read the
// bytes the agent asked the kernel to write (`write_bytes` of /proc/PID/io: WAL, checkpoints,
// file growth) per reading and per stored byte, and the latency from publish to commit (the
// row's enqueue time minus the publish time it carries as its timestamp).
//
// Each rate runs with today's defaults and with the staging log off (`queue.stage_flush: 0`:
// every commit group is a SQLite transaction, the layout before it) in the same run, against
// Mosquitto's default in-flight window (20); 1,000/s also runs against a window of 100 and
// the README's recommended window (1,000), where the defaults must find the window by
// themselves. Targets at 1,000/s (issue 17): window 20 <= 250 B/reading, the README's window
// <= 40 B/reading. The bytes written include the staged rows' move into the queue file (the
// run waits for it). FluxionDB being unreachable, commit groups of QoS 1 readings wait
// `max_delay_offline` (500 ms), not `max_delay` (100 ms): the baseline (no staging log) is
// never backlogged, so it shows the layout and the delay before them together.
//
// The queue must live on a real disk (tmpfs counts no write_bytes): FLUXION_BENCH_DIR, else
// the system temp dir.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import mqtt from 'mqtt';
import { CLI, report } from './common.mjs';
import { decodeBlock } from '../dist/queue/block-codec.js';
import { startMosquitto } from './mqtt-ingest.bench.mjs';

const SECONDS = Number(process.env.FLUXION_BENCH_SECONDS ?? 10);
// Rates run against the default window (the README's window runs at 1,000/s whatever this says).
const RATES = (process.env.FLUXION_BENCH_RATES ?? '100,1000,10000').split(',').map(Number);
const DEVICES = 1000;
const TMPFS_MAGIC = 0x01021994;
// The baseline: no staging log; FLUXION_BENCH_BASELINE_GROUP_COMMIT also gives it another group_commit.
const BASELINE = { queue: 'stage_flush: 0', groupCommit: process.env.FLUXION_BENCH_BASELINE_GROUP_COMMIT ?? null };
const DEFAULTS = { queue: '', groupCommit: null };

function writeBytesOf(pid) {
  const m = /write_bytes: (\d+)/.exec(readFileSync(`/proc/${pid}/io`, 'utf8'));
  return Number(m[1]);
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Starts `fluxion-edge run` on its own queue; FluxionDB points at a port nobody listens on. */
async function startAgent(dir, brokerUrl, name, { queue, groupCommit }) {
  const config = join(dir, `${name}.yaml`);
  writeFileSync(
    config,
    `
fluxiondb: { url: "ws://127.0.0.1:9", api_key: bench-key }
queue: { path: ${join(dir, `${name}.db`)}${queue === '' ? '' : `, ${queue}`} }
log: { level: error }
mqtt:
  url: ${brokerUrl}
  client_id: flash-${name}
  clean: true
${groupCommit === null ? '' : `  group_commit: ${groupCommit}\n`}  subscriptions:
    - topic: site/{device}/t
      collection: telemetry
      document: "{device}"
      timestamp: { field: ts, unit: ms }
`,
  );
  const child = spawn(process.execPath, [CLI, 'run', '--config', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr.setEncoding('utf8').on('data', (d) => (err += d));
  const exited = new Promise((r) => child.once('exit', r));
  return {
    pid: child.pid,
    db: join(dir, `${name}.db`),
    stderr: () => err,
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

/** Rows, stored bytes and latencies from the queue file, read-only beside the running agent. */
function readQueue(path, afterId = 0, withLatency = false) {
  let db;
  try {
    db = new Database(path, { readonly: true, fileMustExist: true });
    const rows = db
      .prepare('SELECT count(*) AS n, coalesce(sum(bytes), 0) AS bytes, coalesce(max(id), 0) AS maxId FROM records WHERE id > ?')
      .get(afterId);
    // Readings compacted into blocks (schema 6; only past the newest 100,000, so long runs).
    const blocks = db.prepare('SELECT coalesce(sum(n), 0) AS n, coalesce(sum(bytes), 0) AS bytes, coalesce(max(last_id), 0) AS maxId FROM blocks WHERE first_id > ?').get(afterId);
    const n = rows.n + blocks.n;
    const bytes = rows.bytes + blocks.bytes;
    const maxId = Math.max(rows.maxId, blocks.maxId);
    const lat = withLatency ? db.prepare('SELECT enqueued_at - ts AS l FROM records WHERE id > ?').pluck().all(afterId) : [];
    // `blocks.bytes` is what the rows count on disk (compressed): the readings' own bytes are in the bodies.
    let logical = rows.bytes;
    if (withLatency) {
      // Staged readings reach the file as blocks: their enqueue time is the staging log's commit.
      for (const body of db.prepare('SELECT body FROM blocks WHERE first_id > ?').pluck().all(afterId)) {
        const d = decodeBlock(body);
        for (let k = 0; k < d.n; k++) {
          lat.push(d.enq[k] - JSON.parse(d.json(k, k + 1)).ts);
          logical += d.bytes[k];
        }
      }
      lat.sort((a, b) => a - b);
    }
    return { n, bytes, logical, maxId, lat };
  } catch {
    return { n: -1, bytes: 0, maxId: 0, lat: [] };
  } finally {
    db?.close();
  }
}

/** Steady publishing: `rate` readings/s spread over 1,000 devices, in 10 ms ticks. */
async function publishSteadily(brokerUrl, rate, seconds) {
  const pub = await mqtt.connectAsync(brokerUrl, { clientId: `flash-pub-${rate}-${Date.now()}` });
  const total = rate * seconds;
  const t0 = performance.now();
  let seq = 0;
  while (seq < total) {
    const due = Math.min(total, Math.floor(((performance.now() - t0) / 1000) * rate));
    for (; seq < due; seq++) {
      const t = (20 + (seq % 50) / 10).toFixed(1);
      pub.publish(`site/dev-${seq % DEVICES}/t`, `{"ts":${Date.now()},"temperature":${t},"humidity":40.2}`, { qos: 1 });
    }
    await sleep(10);
  }
  await pub.endAsync();
  return total;
}

async function measure(dir, brokerUrl, name, rate, setup) {
  const agent = await startAgent(dir, brokerUrl, name, setup);
  try {
    // Subscribed: a probe reading is committed. Then let start-up writes settle.
    const probe = await mqtt.connectAsync(brokerUrl, { clientId: `flash-probe-${name}` });
    for (let i = 0; readQueue(agent.db).n < 1; i++) {
      if (i > 600) throw new Error(`${name}: the agent never committed a reading\n${agent.stderr()}`);
      probe.publish('site/probe/t', `{"ts":${Date.now()}}`, { qos: 1 });
      await sleep(100);
    }
    await probe.endAsync();
    await sleep(1000);
    const id0 = readQueue(agent.db).maxId;
    const w0 = writeBytesOf(agent.pid);
    const total = await publishSteadily(brokerUrl, rate, SECONDS);
    let q = readQueue(agent.db, id0);
    for (let i = 0; q.n < total && i < 600; i++) {
      await sleep(50);
      q = readQueue(agent.db, id0);
    }
    const written = writeBytesOf(agent.pid) - w0;
    if (q.n < total) throw new Error(`${name}: ${q.n} of ${total} readings committed\n${agent.stderr()}`);
    const { lat, logical } = readQueue(agent.db, id0, true);
    const p = (x) => lat[Math.min(lat.length - 1, Math.floor(x * lat.length))];
    return { perReading: written / total, perStoredByte: written / logical, p50: p(0.5), p99: p(0.99) };
  } finally {
    await agent.stop();
  }
}

export async function main() {
  const root = process.env.FLUXION_BENCH_DIR ?? tmpdir();
  if (statfsSync(root).type === TMPFS_MAGIC) console.warn(`flash-wear: ${root} is a tmpfs, which counts no write_bytes; set FLUXION_BENCH_DIR`);
  const dir = mkdtempSync(join(root, 'fluxion-bench-flash-'));
  try {
    const fields = {};
    const b20 = await startMosquitto(dir, { maxInflight: 20 });
    try {
      for (const rate of RATES) {
        const now = await measure(dir, b20.url, `new-${rate}`, rate, DEFAULTS);
        const old = await measure(dir, b20.url, `old-${rate}`, rate, BASELINE);
        fields[`${rate}/s_B/reading`] = now.perReading;
        fields['nostage_B/reading'] = old.perReading;
        fields['nostage/new_ratio'] = old.perReading / now.perReading;
        fields['B/stored_B'] = now.perStoredByte;
        fields.p50_ms = now.p50;
        fields.p99_ms = now.p99;
        fields.nostage_p50_ms = old.p50;
        report(`flash-wear window=20 rate=${rate}/s`, { ...fields });
        for (const k of Object.keys(fields)) delete fields[k];
      }
    } finally {
      await b20.stop();
    }
    for (const window of [100, 1000]) {
      mkdirSync(join(dir, `w${window}`));
      const broker = await startMosquitto(join(dir, `w${window}`), { maxInflight: window });
      try {
        const now = await measure(dir, broker.url, `new-w${window}`, 1000, DEFAULTS);
        const old = await measure(dir, broker.url, `old-w${window}`, 1000, BASELINE);
        report(`flash-wear window=${window} rate=1000/s`, {
          'B/reading': now.perReading,
          'nostage_B/reading': old.perReading,
          'nostage/new_ratio': old.perReading / now.perReading,
          'B/stored_B': now.perStoredByte,
          p50_ms: now.p50,
          p99_ms: now.p99,
          nostage_p50_ms: old.p50,
        });
      } finally {
        await broker.stop();
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
