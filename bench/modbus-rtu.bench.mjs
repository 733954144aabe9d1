// Modbus RTU benchmark: a simulated RS-485 bus at 19,200 baud (a socat pty pair; the pymodbus
// slave of test/fixtures/modbus-slave.py serves 10 unit ids and paces every answer at the wire
// rate: it takes a request as arrived after its own wire time, and puts the answer on the line
// after the silent interval and the answer's wire time). The agent's ModbusInput polls the 10
// devices (10 holding registers each) as fast as the bus allows (intervals shorter than a
// round), committing every reading to a real SqliteQueue through the mapping.
//
// The baseline is the wire limit: per poll, request (8 bytes) and answer (25 bytes) at 11 bits
// per character plus two silent intervals of 3.5 characters (before the request, before the
// answer). ratio = polls/s achieved / that limit (target >= 0.8). The pty, socat and the
// Python slave add latency a wire does not have, so a bare master is measured in the same run
// on the same bus: a loop that sends the same requests and waits exactly the silent interval
// (spinning, no timers, no decoding, no queue): ratio_vs_bare = agent / bare master is the
// agent's own share of the loss. CPU per poll is this
// process's CPU time (the slave and socat are other processes) over the polls. Then the RSS of
// this process with 100 devices configured and polled (Modbus TCP, 100 unit ids, 1 s intervals)
// against the RSS before they were made.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import pino from 'pino';
import { IngestSink } from '../dist/ingest-sink.js';
import { SerialPort } from 'serialport';
import { ModbusInput } from '../dist/inputs/modbus/index.js';
import { rtuRequestFrame } from '../dist/inputs/modbus/frames.js';
import { compileRules } from '../dist/mapping/index.js';
import { SqliteQueue } from '../dist/queue/index.js';
import { ownCpuSeconds, ptyPair, report } from './common.mjs';

const BAUD = 19_200;
const SLAVES = 10;
const REGS = 10;
const RUN_S = 8;
const ROUNDS = 4;
const RSS_DEVICES = 100;
const SLAVE = new URL('../test/fixtures/modbus-slave.py', import.meta.url).pathname;
const PYTHON = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';

function startSlave(dir, mode, where, units) {
  const spec = join(dir, `spec-${mode}.json`);
  const values = Array.from({ length: REGS }, (_, a) => ({ table: 'holding', address: a, type: 'uint16', value: 1000 + a }));
  writeFileSync(spec, JSON.stringify({ units: Object.fromEntries(Array.from({ length: units }, (_, i) => [i + 1, values])) }));
  const child = spawn(PYTHON, [SLAVE, mode, where, String(BAUD), spec], { stdio: ['pipe', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout });
    lines.once('line', (l) => resolve({ port: Number(l.split(' ')[1] ?? 0), stop: () => new Promise((r) => (child.exitCode !== null ? r() : (child.once('exit', r), child.kill('SIGTERM')))) }));
    child.once('exit', (code) => reject(new Error(`slave exited (${code})`)));
  });
}

function busOptions(transport, where, devices, intervalMs) {
  return {
    name: 'bench', transport, ...where, baudRate: BAUD, dataBits: 8, parity: 'none', stopBits: 1, timeoutMs: 200, retries: 0,
    silentIntervalMs: 0, maxOutstanding: 1, offlineAfter: 3, offlineRetryCapMs: 5000, reconnectBaseMs: 100, reconnectCapMs: 1000, reconnectResetAfterMs: 10_000,
    devices: Array.from({ length: devices }, (_, i) => ({
      name: `unit-${i + 1}`, unitId: i + 1, ruleKey: `modbus:bench:unit-${i + 1}`, document: `meter-${i + 1}`, intervalMs, maxRegistersPerRequest: 125,
      maxCoilsPerRequest: 2000, maxGap: 8, identification: false,
      registers: Array.from({ length: REGS }, (_, a) => ({ name: `r${a}`, table: 'holding', address: a, type: 'uint16', byteOrder: 'big', wordOrder: 'big', scale: 1, offset: 0, kind: 'records' })),
    })),
  };
}

function pipeline(dir, name, devices) {
  const logger = pino({ level: 'warn' });
  const queue = new SqliteQueue({ path: join(dir, `${name}.db`), synchronous: 'normal' }, { logger });
  queue.start();
  const rules = compileRules(Array.from({ length: devices }, (_, i) => ({ port: `modbus:bench:unit-${i + 1}`, collection: 'bench', document: `meter-${i + 1}`, format: 'json' })));
  return { queue, sink: new IngestSink(rules, queue, logger, () => undefined), logger };
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** The bare master: round-robin reads of the same blocks, each after exactly the silent interval. */
async function bareMaster(path, seconds) {
  const port = new SerialPort({ path, baudRate: BAUD, autoOpen: false });
  await new Promise((resolve, reject) => port.open((e) => (e ? reject(e) : resolve())));
  const frames = Array.from({ length: SLAVES }, (_, i) => rtuRequestFrame({ unitId: i + 1, table: 'holding', start: 0, count: REGS }));
  const answerBytes = 5 + 2 * REGS;
  const silentMs = (3.5 * 11 * 1000) / BAUD;
  let rx = Buffer.alloc(0);
  let waiting = null;
  port.on('data', (chunk) => {
    rx = Buffer.concat([rx, chunk]);
    waiting?.();
  });
  // The agent stopped with a request possibly in flight: let its late answer pass first.
  await sleep(300);
  let polls = 0;
  const start = performance.now();
  const end = start + seconds * 1000;
  while (performance.now() < end) {
    const unit = (polls % SLAVES) + 1;
    rx = Buffer.alloc(0);
    const answered = new Promise((resolve) => (waiting = () => rx.length >= answerBytes && resolve()));
    port.write(frames[unit - 1]);
    await Promise.race([answered, sleep(200)]);
    waiting = null;
    if (rx.length < answerBytes || rx[0] !== unit) throw new Error(`bare master: no answer from unit ${unit}`);
    const due = performance.now() + silentMs;
    while (performance.now() < due);
    polls++;
  }
  const took = (performance.now() - start) / 1000;
  await new Promise((resolve) => port.close(() => resolve()));
  return { polls, seconds: took };
}

export async function main() {
  const dir = mkdtempSync(join(tmpdir(), 'fluxion-edge-bench-modbus-'));
  const pty = await ptyPair(dir);
  const slave = await startSlave(dir, 'rtu', pty.device, SLAVES);
  const { queue, sink, logger } = pipeline(dir, 'rtu', SLAVES);
  const char = 11 / BAUD;
  const perPoll = (8 + (5 + 2 * REGS)) * char + 2 * 3.5 * char;
  const wireLimit = 1 / perPoll;
  let input = null;
  try {
    // Agent and bare master take turns, so that the load of this shared machine weighs on both.
    let polls = 0;
    let wall = 0;
    let cpu = 0;
    let failed = 0;
    let barePolls = 0;
    let bareWall = 0;
    for (let round = 0; round < ROUNDS; round++) {
      input = new ModbusInput(busOptions('rtu', { path: pty.agent }, SLAVES, 100), { sink, logger });
      await input.start();
      await sleep(300); // settle: the first polls, JIT
      const c0 = input.status().committed;
      const cpu0 = ownCpuSeconds();
      const t0 = performance.now();
      await sleep((RUN_S / ROUNDS) * 1000);
      polls += input.status().committed - c0;
      wall += (performance.now() - t0) / 1000;
      cpu += ownCpuSeconds() - cpu0;
      failed += input.status().devices.reduce((n, d) => n + d.counters.failedPolls, 0);
      await input.stop();
      const b = await bareMaster(pty.agent, RUN_S / ROUNDS / 2);
      barePolls += b.polls;
      bareWall += b.seconds;
    }
    const rate = polls / wall;
    const bare = barePolls / bareWall;

    // RSS with 100 devices configured and polled (Modbus TCP, 1 s intervals).
    global.gc?.();
    const rss0 = process.memoryUsage().rss;
    const tcp = await startSlave(dir, 'tcp', '0', RSS_DEVICES);
    const p2 = pipeline(dir, 'tcp', RSS_DEVICES);
    const many = new ModbusInput(busOptions('tcp', { host: '127.0.0.1', port: tcp.port }, RSS_DEVICES, 1000), { sink: p2.sink, logger: p2.logger });
    await many.start();
    await sleep(4000);
    const rss1 = process.memoryUsage().rss;
    const manyPolled = many.status().committed;
    await many.stop();
    p2.queue.stop();
    await tcp.stop();

    report('modbus-rtu', {
      baud: BAUD,
      slaves: SLAVES,
      'wire_limit_polls/s': wireLimit,
      'polls/s': rate,
      ratio: rate / wireLimit,
      'bare_master_polls/s': bare,
      ratio_vs_bare: rate / bare,
      failed_polls: failed,
      cpu_ms_per_poll: (cpu / polls) * 1000,
      cpu_share: cpu / wall,
      rss_mb_100_devices: rss1 / 2 ** 20,
      rss_added_mb_100_devices: (rss1 - rss0) / 2 ** 20,
      polls_100_devices: manyPolled,
    });
  } finally {
    await input?.stop();
    queue.stop();
    await slave.stop();
    await pty.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
