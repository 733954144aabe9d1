// A day-long outage of a 1,000-device site (issue 17): readings such as
// {"temperature":21.5,"humidity":40.2}, 1,000 devices at 1 Hz, appended in groups of 20 as a
// group-committed QoS 1 stream would, with the queue's housekeeping compacting as it goes;
// then drained to the dev server (another process) by an agent in a process of its own. Prints bytes of queue file per reading
// at rest, bytes written per reading (/proc/self/io), the append rate, the drain rate against
// the raw pipelined client rate measured in the same run, and RSS; and the same for the
// one-row-per-reading layout (compact: false) on a smaller count, as the ratio's baseline.
// OUTAGE_READINGS (default 2,000,000; a day is 86,400,000) sets the count: bytes per reading
// at rest are flat in the count once compaction runs (the newest 100,000 ids stay rows, a
// fixed ~9 MB), so the figures extrapolate linearly to the day: the tail (100,000 rows at the
// rows layout's bytes per reading, measured in the same run) plus the rest at the blocks'
// bytes per reading. The blocks queue is filled under the default caps scaled to the count:
// `max_rows` as it is, `max_bytes` the `auto` cap of an 8 GB card with 6 GB free (half of it,
// at most 4 GiB) times count / 86,400,000; it must drop nothing (the cap counts stored bytes).
// The filled queue is drained alone, then (copies of the file) with live readings arriving
// through a real Mosquitto at 1,000/s, OUTAGE_LIVE_ROUNDS times (bench/outage-live.mjs:
// backlog drain rate against the raw client rate, live publish-to-server latency, counts on
// the server, RSS). Every drain and every raw run meets a dev server of its own (onFreshServer).
// AGENT_PROF=<dir>: the agent of every drain writes a V8 CPU profile there (`--cpu-prof`).
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import v8 from 'node:v8';
import vm from 'node:vm';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { FluxionClient } from '../dist/client/index.js';
import { SqliteQueue, planDisk } from '../dist/queue/index.js';
import { rawInsertRate } from './client-insert.bench.mjs';
import { cpuSecondsOf, machineShare, machineTicks, report, startDevServer } from './common.mjs';
import { startMosquitto } from './mqtt-ingest.bench.mjs';
import { drainWithLive } from './outage-live.mjs';

const TOTAL = Number(process.env.OUTAGE_READINGS ?? 2_000_000);
const OLD_TOTAL = Math.min(TOTAL, Number(process.env.OUTAGE_OLD_READINGS ?? 500_000));
const GROUP = 20;
/** OUTAGE_COMPRESSION=1: the live drain's agent compresses its frames (the config default; off like the raw client otherwise). */
const LIVE_COMPRESSION = process.env.OUTAGE_COMPRESSION === '1';
/**
 * OUTAGE_LIVE_ROUNDS (default 3): how many times the backlog is drained with live readings
 * arriving, each round between two raw runs. The target is checked on the median round and
 * every round is printed: on the shared 2-vCPU machine of docs/queue-blocks.md, the rounds of
 * one run spread from 0.57 to 0.83 with the same code, and whole runs from 0.52-0.70 in one
 * stretch of minutes to 0.86-0.93 in another.
 */
const LIVE_ROUNDS = Math.max(1, Number(process.env.OUTAGE_LIVE_ROUNDS ?? 3));
const DEVICES = 1000;
const BASE = 1_767_225_600_000;
const DAY = 86_400_000;
/** The queue's default `max_bytes` (auto) on an 8 GB card with 6 GB free, and its ceiling. */
const CARD_CAP = planDisk(6e9).autoMaxBytes;
const MAX_CAP = 4 * 2 ** 30;
/** Rows the compaction leaves as rows (compactTailRows' default). */
const TAIL = 100_000;

/** Readings number `start`..: device i % 1000 at second i / 1000. */
export function readings(count, start, col = 'telemetry') {
  const out = new Array(count);
  for (let k = 0; k < count; k++) {
    const i = start + k;
    // Values that do not repeat in a pattern deflate could learn: a hash of the reading number.
    const x = Math.imul(i ^ (i >>> 13), 0x5bd1e995) >>> 0;
    const t = (150 + (x % 150)) / 10;
    const h = (200 + ((x >>> 8) % 600)) / 10;
    out[k] = { col, doc: `device-${i % DEVICES}`, ts: BASE + Math.floor(i / DEVICES) * 1000 + (i % DEVICES), data: `{"temperature":${t},"humidity":${h}}` };
  }
  return out;
}

function writeBytes() {
  const m = /^write_bytes: (\d+)$/m.exec(readFileSync('/proc/self/io', 'utf8'));
  return m ? Number(m[1]) : 0;
}

function fileBytes(path) {
  let n = 0;
  for (const f of [path, `${path}-wal`]) if (existsSync(f)) n += statSync(f).size;
  return n;
}

/**
 * Fills a queue at `path` (under `maxBytes`, the default max_rows); returns bytes at rest and
 * written per reading, readings/s, and the bytes the queue counts against its cap per reading.
 */
export function fill(path, total, compact, maxBytes = 64 * 1024 ** 3, col = 'telemetry') {
  const q = new SqliteQueue({ path, synchronous: 'normal', compact, maxBytes });
  q.start();
  const w0 = writeBytes();
  const t0 = performance.now();
  for (let i = 0; i < total; i += GROUP) {
    q.append(readings(Math.min(GROUP, total - i), i, col));
    // The housekeeping tick (every 5 s at 1,000 readings/s): compaction keeps up.
    if (compact && i % 5000 === 0) q.prune();
  }
  if (compact) while (q.compact(100) > 0);
  const seconds = (performance.now() - t0) / 1000;
  const s = q.stats();
  q.stop();
  const written = writeBytes() - w0;
  return { atRest: fileBytes(path) / total, written: written / total, rate: total / seconds, counted: s.storedBytes / total, logical: s.bytes / total, dropped: s.dropped };
}

/** RSS samples (bytes) in MiB: first, highest, last, and the highest of each third (flat or growing). */
function thirds(rss) {
  const mb = (b) => b / 2 ** 20;
  const third = (k) => mb(Math.max(0, ...rss.slice(Math.floor((k * rss.length) / 3), Math.floor(((k + 1) * rss.length) / 3))));
  return { start: mb(rss[0] ?? 0), peak: mb(Math.max(0, ...rss)), end: mb(rss[rss.length - 1] ?? 0), byThird: [0, 1, 2].map(third) };
}

/** The timestamps `readings(TOTAL, 0)` gives document `device-<k>`. */
export function expectBacklog(doc) {
  const k = Number(doc.slice('device-'.length));
  const out = new Set();
  for (let i = k; i < TOTAL; i += DEVICES) out.add(BASE + Math.floor(i / DEVICES) * 1000 + (i % DEVICES));
  return out;
}

/**
 * Drains the queue at `path` with an agent in a process of its own (so that its RSS is the
 * agent's, not this process's fill garbage); returns records/s and RSS at start, peak, end.
 */
export function drain(server, path, total, compact) {
  const settings = {
    fluxiondb: { url: server.url, apiKey: 'bench-key', requestTimeoutMs: 60_000 },
    queue: { path, synchronous: 'normal', compact, maxBytes: 64 * 1024 ** 3 },
    housekeepingIntervalMs: 5_000,
    stopDeadlineMs: 5_000,
  };
  const script = `
    const { default: pino } = await import('pino');
    const { Agent } = await import(${JSON.stringify(new URL('../dist/agent.js', import.meta.url).href)});
    const { DEFAULT_SENDER_OPTIONS } = await import(${JSON.stringify(new URL('../dist/sender/types.js', import.meta.url).href)});
    const { sampleMemory, timeDrain } = await import(${JSON.stringify(new URL('./common.mjs', import.meta.url).href)});
    const settings = ${JSON.stringify(settings)};
    settings.sender = { ...DEFAULT_SENDER_OPTIONS, requestTimeoutMs: 60000 };
    const { rss, peaks: mem, stop: stopSampling } = sampleMemory();
    const w0 = performance.now();
    const c0 = process.cpuUsage();
    const elu0 = performance.eventLoopUtilization();
    const { rate } = await timeDrain(new Agent(settings, pino({ level: 'warn' })), ${total});
    const c = process.cpuUsage(c0);
    const loopBusy = performance.eventLoopUtilization(elu0).utilization;
    stopSampling();
    console.log(JSON.stringify({ rate, rss, agentCpu: (c.user + c.system) / 1e6, seconds: (performance.now() - w0) / 1000, loopBusy, mem }));`;
  return new Promise((resolve, reject) => {
    const serverCpu0 = cpuSecondsOf(server.pid);
    const child = spawn(process.execPath, [...(process.env.AGENT_PROF ? ['--cpu-prof', '--cpu-prof-dir', process.env.AGENT_PROF] : []), '--input-type=module', '-e', script], { cwd: fileURLToPath(new URL('..', import.meta.url)), stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d) => (out += d));
    child.once('exit', (code) => {
      if (code !== 0) return reject(new Error(`drain process exited ${code}`));
      const { rate, rss, agentCpu, seconds, loopBusy, mem } = JSON.parse(out.trim().split('\n').pop());
      const t = thirds(rss);
      // Cores used in the drain (the agent's start included; the server idles outside the drain).
      const cpuUse = { agent: agentCpu / seconds, server: (cpuSecondsOf(server.pid) - serverCpu0) / seconds, loopBusy };
      const serverUsPerRecord = ((cpuSecondsOf(server.pid) - serverCpu0) * 1e6) / total;
      resolve({ serverUsPerRecord, rate, rssStartMb: t.start, rssPeakMb: t.peak, rssEndMb: t.end, rssThirdsMb: t.byThird, cpuUse, mem });
    });
  });
}

/** The raw client's readings: the backlog's kind, in a collection of their own. */
const rawReadings = (n, start) => readings(n, start).map((r) => ({ ...r, col: 'raw' }));

// This process's own garbage (the fill's, the raw client's batches built up front: up to
// gigabytes) is collected before every measurement, so that no measurement shares the machine
// with it. Without it, in 3 runs taken in turns with 3 with it, the live rounds spread from
// 0.57 to 1.15; with it, from 0.76 to 0.84 (docs/queue-blocks.md). OUTAGE_NO_GC=1: without.
v8.setFlagsFromString('--expose-gc');
const collectOwnGarbage = process.env.OUTAGE_NO_GC === '1' ? () => {} : vm.runInNewContext('gc');

/**
 * Runs `measure` against a dev server of its own, started for it and warmed up like every
 * other (a raw run that is not counted, its collection deleted), then stopped; this
 * process's garbage is collected just before. The dev server
 * keeps every record in its JavaScript heap, so one shared by the phases carried their
 * deleted records, and when its full collections came depended on that history: the live
 * drain met 480 MB of dead records from the phases before it and grew the heap to 830 MB
 * before the next full collection, with scavenges of up to 100 ms, where the drain alone had
 * just had one and ran on 300 MB. The server's CPU per record went from about 1.0 to up to
 * 2.2 µs, most of it in its insert loop and its garbage collector (CPU profiles of the
 * server). A server of its own for each phase puts every measurement on the same footing.
 */
async function onFreshServer(measure) {
  const server = await startDevServer();
  const admin = new FluxionClient({ url: server.url, apiKey: 'bench-key', requestTimeoutMs: 60_000 });
  try {
    await rawInsertRate({ server, total: Math.min(TOTAL, 500_000), window: 8, make: rawReadings });
    await admin.deleteCollection({ col: 'raw' });
    collectOwnGarbage();
    return await measure(server);
  } finally {
    await admin.close();
    await server.stop();
  }
}

export async function main() {
  const dir = mkdtempSync(join(tmpdir(), 'fluxion-bench-outage-'));
  try {
    // The raw client sends the same kind of readings (another collection), in batches of
    // 1,000 with 8 in flight like the sender (its rate was the same with 4: it does not wait
    // on itself between batches as the agent does), as many as a drain sends (up to 2,000,000: its
    // batches are built up front, in this process, so neither drain's RSS sees them). Each
    // drain is compared with the raw runs just before and just after it, averaged: the
    // machine is shared and its speed drifts over the minute a run takes.
    // Every measurement meets a server of its own, warm and holding nothing (onFreshServer):
    // an unwarmed server flattered the ratios, and one holding the records of the earlier
    // phases slowed the later ones by up to a third.
    const rawRun = (compression = false, total = Math.min(TOTAL, 2_000_000)) =>
      onFreshServer((server) => rawInsertRate({ server, total, window: 8, compression, make: rawReadings }));
    const oldPath = join(dir, 'rows.db');
    const old = fill(oldPath, OLD_TOTAL, false, undefined, 'telemetry-rows');
    const oldDrain = await onFreshServer((server) => drain(server, oldPath, OLD_TOTAL, false));
    const path = join(dir, 'blocks.db');
    const scaledCap = Math.floor((CARD_CAP * TOTAL) / DAY);
    const blocks = fill(path, TOTAL, true, scaledCap);
    // The same backlog drained alone, then (copies) with live readings arriving, LIVE_ROUNDS
    // times, each round between two raw runs.
    const livePaths = Array.from({ length: LIVE_ROUNDS }, (_, k) => join(dir, `live-${k}.db`));
    for (const f of readdirSync(dir).filter((f) => f.startsWith('blocks.db'))) {
      for (const p of livePaths) copyFileSync(join(dir, f), p + f.slice('blocks.db'.length));
    }
    const rawA = await rawRun();
    const d = await onFreshServer(async (server) => {
      const m0 = machineTicks();
      const r = await drain(server, path, TOTAL, true);
      return { ...r, machine: machineShare(m0, machineTicks()) };
    });
    const raws = [rawA, await rawRun()];
    // With the live drain's agent compressing, the raw client is also measured compressing
    // (the like-for-like baseline for that drain), before and after each round as well.
    const zs = LIVE_COMPRESSION ? [await rawRun(true)] : [];
    const rounds = [];
    for (const [k, livePath] of livePaths.entries()) {
      const mqttDir = join(dir, `mqtt-${k}`);
      mkdirSync(mqttDir);
      rounds.push(
        await onFreshServer(async (server) => {
          const broker = await startMosquitto(mqttDir);
          const m1 = machineTicks();
          try {
            const r = await drainWithLive({ serverUrl: server.url, serverPid: server.pid, brokerUrl: broker.url, brokerPid: broker.pid, path: livePath, col: 'telemetry', backlogDocs: Array.from({ length: Math.min(DEVICES, TOTAL) }, (_, k) => `device-${k}`), expectBacklog, compression: LIVE_COMPRESSION });
            return { ...r, machine: machineShare(m1, machineTicks()) };
          } finally {
            await broker.stop();
          }
        }),
      );
      raws.push(await rawRun());
      if (LIVE_COMPRESSION) zs.push(await rawRun(true));
    }
    const rate = (r) => r.recordsPerSecond;
    const rawAlone = (rate(raws[0]) + rate(raws[1])) / 2;
    // Round k against the raw runs just before and after it (raws[k + 1], raws[k + 2]).
    for (const [k, r] of rounds.entries()) {
      r.ratio = (2 * r.rate) / (rate(raws[k + 1]) + rate(raws[k + 2]));
      if (LIVE_COMPRESSION) r.zRatio = (2 * r.rate) / (rate(zs[k]) + rate(zs[k + 1]));
    }
    const byRatio = [...rounds].sort((x, y) => x.ratio - y.ratio);
    const l = byRatio[Math.floor((byRatio.length - 1) / 2)];
    const li = rounds.indexOf(l);
    // Linear in the count past the fixed tail of rows (see the header).
    const tailBytes = Math.min(TAIL, TOTAL) * old.atRest;
    const perBlockReading = TOTAL > TAIL ? (blocks.atRest * TOTAL - tailBytes) / (TOTAL - TAIL) : blocks.atRest;
    const dayFile = tailBytes + (DAY - Math.min(TAIL, TOTAL)) * perBlockReading;
    const dayCounted = Math.min(TAIL, TOTAL) * old.logical + (DAY - Math.min(TAIL, TOTAL)) * (TOTAL > TAIL ? (blocks.counted * TOTAL - Math.min(TAIL, TOTAL) * old.logical) / (TOTAL - TAIL) : blocks.counted);
    const gib = (b) => (b / 2 ** 30).toFixed(2);
    report('outage-day', {
      readings: TOTAL,
      'at_rest B/reading': blocks.atRest,
      target: '<=25',
      'at_rest B/reading in blocks (past the 100,000-row tail)': perBlockReading,
      'counted by the cap B/reading (logical)': `${blocks.counted.toFixed(1)} (${blocks.logical.toFixed(1)})`,
      'dropped under the scaled default cap': `${blocks.dropped} (cap ${(scaledCap / 2 ** 20).toFixed(1)} MiB, max_rows default)`,
      'day: file GiB / counted GiB': `${gib(dayFile)} / ${gib(dayCounted)}`,
      'day fits 4 GiB / 8 GB card (6 GB free) auto cap': `${dayCounted <= MAX_CAP && dayFile <= MAX_CAP ? 'yes' : 'NO'} / ${dayCounted <= CARD_CAP && dayFile <= 6e9 ? 'yes' : 'NO'} (cap ${gib(CARD_CAP)} GiB)`,
      'written B/reading': blocks.written,
      'append readings/s': blocks.rate,
      'raw_client records/s around the drains, in turn': raws.map((r) => Math.round(rate(r))).join('/'),
      'raw_client records per run': Math.min(TOTAL, 2_000_000),
      'raw server/client cpu us/record': raws.map((r) => `${r.serverCpuUsPerRecord.toFixed(2)}/${r.clientCpuUsPerRecord.toFixed(2)}`).join('; '),
      'drain records/s': d.rate,
      'drain/raw_ratio': d.rate / rawAlone,
      drain_target: '>=0.70',
      'agent_rss_start/peak/end MiB': `${Math.round(d.rssStartMb)}/${Math.round(d.rssPeakMb)}/${Math.round(d.rssEndMb)}`,
      'agent_rss peak by third of the drain MiB': d.rssThirdsMb.map(Math.round).join('/'),
      'cores used agent/server': `${d.cpuUse.agent.toFixed(2)}/${d.cpuUse.server.toFixed(2)}`,
      'server cpu us/record': d.serverUsPerRecord,
      'machine busy/steal in the phase': `${d.machine.busy.toFixed(2)}/${d.machine.steal.toFixed(3)}`,
      'agent event loop busy': d.cpuUse.loopBusy,
      'agent heap total peak MiB': d.mem.heapTotal / 2 ** 20,
    });
    const lt = thirds(l.rss);
    const exact = (r) => r.server.backlogMissing + r.server.backlogExtra + r.server.liveMissing + r.server.liveExtra === 0 && r.counters.sentRows === r.backlog + r.live && r.counters.appended === r.live && r.counters.resent === 0;
    const list = (f) => rounds.map(f).join('/');
    report('outage-day with live readings (1,000/s, QoS 1, live_first)', {
      rounds: LIVE_ROUNDS,
      'drain/raw_ratio by round': list((r) => r.ratio.toFixed(3)),
      'rounds at the target': `${rounds.filter((r) => r.ratio >= 0.7).length} of ${LIVE_ROUNDS}`,
      'drain/raw_ratio': l.ratio,
      drain_target: '>=0.70 (the median round; its figures follow)',
      'median round': li + 1,
      'backlog drain records/s': l.rate,
      compression: LIVE_COMPRESSION ? 'on' : 'off',
      ...(LIVE_COMPRESSION && {
        'raw client compressing too, records/s around the rounds': zs.map((r) => Math.round(rate(r))).join('/'),
        'drain/raw_ratio, raw client compressing too, by round': list((r) => r.zRatio.toFixed(3)),
      }),
      'live/no-live drain': l.rate / d.rate,
      'drain s': l.seconds,
      'live latency p50/p99/max ms': `${l.latency.p50}/${l.latency.p99}/${l.latency.max} (${l.latency.seen} of ${l.liveDuringDrain} seen: 1 device in ${l.latency.sample}, polled every ${l.latency.pollMs} ms)`,
      'live latency p50/p99 ms by round': list((r) => `${r.latency.p50}:${r.latency.p99}`),
      'server backlog missing/extra': `${l.server.backlogMissing}/${l.server.backlogExtra} of ${l.backlog}`,
      'server live missing/extra': `${l.server.liveMissing}/${l.server.liveExtra} of ${l.live}`,
      'agent sent rows/batches/resent/connections': `${l.counters.sentRows}/${l.counters.sentBatches}/${l.counters.resent}/${l.counters.connections} (appended ${l.counters.appended}, dead-lettered ${l.counters.deadLettered}, dropped ${l.counters.dropped})`,
      exactly_once: rounds.every(exact) ? `yes (${LIVE_ROUNDS} rounds)` : `NO (rounds ${rounds.flatMap((r, k) => (exact(r) ? [] : [k + 1])).join(', ')})`,
      'agent_rss_start/peak/end MiB': `${Math.round(lt.start)}/${Math.round(lt.peak)}/${Math.round(lt.end)}`,
      'agent_rss peak by third of the drain MiB': lt.byThird.map(Math.round).join('/'),
      'agent event loop busy': l.loopBusy,
      'agent heap total peak MiB': l.mem.heapTotal / 2 ** 20,
      // The live inserts and the poller's queries included.
      'agent cores by round': list((r) => r.cpuUse.agent.toFixed(2)),
      'bench process cores by round': list((r) => r.cpuUse.bench.toFixed(3)),
      'server cpu us/backlog record by round': list((r) => ((r.cpuUse.server * r.seconds * 1e6) / TOTAL).toFixed(2)),
      'machine busy/steal in the phase': `${l.machine.busy.toFixed(2)}/${l.machine.steal.toFixed(3)}`,
      'cores used agent/server/broker/publisher/poller': ['agent', 'server', 'broker', 'publisher', 'bench'].map((k) => l.cpuUse[k].toFixed(2)).join('/'),
    });
    report('outage-day rows layout (before)', {
      readings: OLD_TOTAL,
      'at_rest B/reading': old.atRest,
      'written B/reading': old.written,
      'append readings/s': old.rate,
      'drain records/s': oldDrain.rate,
      'agent_rss_start/peak/end MiB': `${Math.round(oldDrain.rssStartMb)}/${Math.round(oldDrain.rssPeakMb)}/${Math.round(oldDrain.rssEndMb)}`,
      'at_rest blocks/rows': blocks.atRest / old.atRest,
      'written blocks/rows': blocks.written / old.written,
      'drain blocks/rows': d.rate / oldDrain.rate,
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
