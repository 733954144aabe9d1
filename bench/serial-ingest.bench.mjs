// Serial ingest benchmark: lines read from a socat pty pair, framed, mapped (format kv) and
// committed to a real SqliteQueue (synchronous=full) by a SerialInput, against the line rate
// of a 115200-baud wire (10 bits per byte on the wire with 8N1) for the same line length.
//
// 1. Unpaced: a writer process pushes N lines into the pty as fast as it takes them (a pty has
//    no real baud rate); the rate is N over the time from the first line read to the last
//    committed. ratio = that rate / the 115200-baud line rate (>= 1: the agent keeps up with
//    the fastest common serial speed).
// 2. Paced: the writer emits exactly 115200 baud worth of lines for PACED_S seconds; the
//    agent's CPU share is our process CPU time over wall time meanwhile (the writer and socat
//    are other processes).
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { IngestSink } from '../dist/pipeline/ingest-sink.js';
import { SerialInput } from '../dist/inputs/serial/index.js';
import { compileRules } from '../dist/mapping/index.js';
import { SqliteQueue } from '../dist/queue/index.js';
import { ownCpuSeconds, ptyPair, report } from './common.mjs';

const N = 50_000;
const BAUD = 115_200;
const PACED_S = 5;
const BASE_TS = 1_700_000_000_000;

function line(i) {
  return `ts=${BASE_TS + i} t=${((i % 400) / 10).toFixed(1)} h=${i % 100}\r\n`;
}

// Writes lines [start, start+n) into the pty; paced: at `bytesPerSecond`, else as fast as it goes.
const WRITER = `
import { openSync, writeSync } from 'node:fs';
const [path, start, n, bps] = [process.argv[1], Number(process.argv[2]), Number(process.argv[3]), Number(process.argv[4])];
${line.toString()}
const BASE_TS = ${BASE_TS};
const fd = openSync(path, 'w');
const t0 = performance.now();
let sent = 0;
let i = start;
let buf = '';
while (i < start + n) {
  if (bps > 0) {
    const due = ((performance.now() - t0) / 1000) * bps;
    if (sent >= due) { await new Promise((r) => setTimeout(r, 2)); continue; }
  }
  buf = '';
  while (i < start + n && buf.length < 4096 && (bps === 0 || sent + buf.length < ((performance.now() - t0) / 1000) * bps + 64)) buf += line(i++);
  let off = 0;
  const b = Buffer.from(buf, 'latin1');
  while (off < b.length) {
    try { off += writeSync(fd, b, off); } catch (e) { if (e.code !== 'EAGAIN') throw e; await new Promise((r) => setTimeout(r, 1)); }
  }
  sent += b.length;
}
`;

function write(path, start, n, bytesPerSecond) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', WRITER, path, String(start), String(n), String(bytesPerSecond)], { stdio: ['ignore', 'inherit', 'inherit'] });
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`writer exited with ${code}`))));
  });
}

async function waitUntil(check) {
  while (!check()) await new Promise((r) => setTimeout(r, 1));
}

export async function main() {
  const dir = mkdtempSync(join(tmpdir(), 'fluxion-edge-bench-serial-'));
  const pty = await ptyPair(dir);
  const logger = pino({ level: 'warn' });
  const queue = new SqliteQueue({ path: join(dir, 'queue.db'), synchronous: 'full' }, { logger });
  queue.start();
  const rules = compileRules([{ port: 'bench', collection: 'bench', document: 'meter-1', format: 'kv', timestamp: { field: 'ts', unit: 'ms' } }]);
  const sink = new IngestSink(rules, queue, logger, () => undefined);
  const input = new SerialInput(
    {
      name: 'bench', path: pty.agent, baudRate: BAUD, dataBits: 8, parity: 'none', stopBits: 1, flowControl: 'none',
      delimiter: '\n', maxLineBytes: 4096, encoding: 'utf8', reopenBaseMs: 100, reopenCapMs: 1000, commitDelayMs: 2,
    },
    { sink, logger },
  );
  try {
    await input.start();
    const lineBytes = Buffer.byteLength(line(0));
    const wireRate = BAUD / 10 / lineBytes;

    // 1. Unpaced.
    const writing = write(pty.device, 0, N, 0);
    await waitUntil(() => input.status().linesRead > 0);
    const first = performance.now();
    await waitUntil(() => input.status().committed >= N);
    const maxRate = N / ((performance.now() - first) / 1000);
    await writing;

    // 2. Paced at the wire rate.
    const paced = Math.round(wireRate * PACED_S);
    const cpu0 = ownCpuSeconds();
    const t0 = performance.now();
    await write(pty.device, N, paced, BAUD / 10);
    await waitUntil(() => input.status().committed >= N + paced);
    const wall = (performance.now() - t0) / 1000;
    const cpuShare = (ownCpuSeconds() - cpu0) / wall;

    const depth = queue.stats().depth;
    if (depth !== N + paced) throw new Error(`queue holds ${depth} records, expected ${N + paced}`);
    if (input.status().linesRejected !== 0) throw new Error(`${input.status().linesRejected} lines rejected`);
    report('serial-ingest', {
      lines: N,
      line_bytes: lineBytes,
      'wire_lines/s_115200': wireRate,
      'max_lines/s': maxRate,
      ratio: maxRate / wireRate,
      'paced_lines/s': paced / wall,
      cpu_share_at_115200: cpuShare,
    });
  } finally {
    await input.stop();
    queue.stop();
    await pty.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
