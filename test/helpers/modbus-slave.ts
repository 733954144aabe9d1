/**
 * The pymodbus slave of test/fixtures/modbus-slave.py as a child process: RTU on the device
 * end of a socat pty pair, or TCP on a free port. Commands go over its stdin, one JSON line
 * each, answered by one line.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { tempDir } from './tmp.js';

const SCRIPT = join(import.meta.dirname, '..', 'fixtures', 'modbus-slave.py');

/** Debian's python3 (its python3-pymodbus), not a pyenv shim that lacks it. */
export function python3(): string {
  return existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
}

export interface SlaveValue {
  table: 'coil' | 'discrete' | 'holding' | 'input';
  address: number;
  type?: string;
  value: number | boolean | string;
  byteorder?: 'big' | 'little';
  wordorder?: 'big' | 'little';
  length?: number;
}

export interface SlaveSpec {
  units: Record<number, SlaveValue[]>;
  /** Holding registers (per unit) that count the requests answered. */
  counters?: Record<number, number[]>;
  /**
   * The master's per-request timeout, in ms. A request found waiting after an answer that
   * left later than this (a slow slave on a loaded machine) is the master rightly moving on,
   * not an overlap. Default: none (every request found waiting is an overlap).
   */
  answerDeadlineMs?: number;
}

export interface ModbusSlave {
  /** The TCP port (tcp mode). */
  port: number;
  command(cmd: Record<string, unknown>): Promise<string>;
  /** Requests received per unit id. */
  requests(): Promise<Record<string, number>>;
  /** RTU: requests that arrived before the previous answer was on the line (must stay 0). */
  overlaps(): Promise<number>;
  /** RTU: the shortest quiet time between the end of an answer and the next request, in ms. */
  minGapMs(): Promise<number | null>;
  /** Resolves when the process has exited (an RTU slave exits when its pty vanishes). */
  exited: Promise<void>;
  stop(): Promise<void>;
}

export async function startModbusSlave(mode: 'rtu' | 'tcp', spec: SlaveSpec, opts: { path?: string; baud?: number } = {}): Promise<ModbusSlave> {
  const dir = tempDir('fluxion-edge-modbus-');
  const specPath = join(dir.path, 'spec.json');
  writeFileSync(specPath, JSON.stringify(spec));
  const child: ChildProcess = spawn(python3(), [SCRIPT, mode, mode === 'rtu' ? opts.path! : '0', String(opts.baud ?? 115200), specPath], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => void (stderr += d));
  const lines = createInterface({ input: child.stdout! });
  const waiting: Array<(line: string) => void> = [];
  let ready: (line: string) => void;
  const first = new Promise<string>((resolve, reject) => {
    ready = resolve;
    child.once('exit', (code) => reject(new Error(`modbus slave exited (${code}): ${stderr}`)));
  });
  let started = false;
  lines.on('line', (line) => {
    if (!started) {
      started = true;
      ready(line);
    } else waiting.shift()?.(line);
  });
  const readyLine = await first;
  const exited = new Promise<void>((resolve) => (child.exitCode !== null ? resolve() : child.once('exit', () => resolve())));
  const port = Number(readyLine.split(' ')[1] ?? 0);
  const command = (cmd: Record<string, unknown>): Promise<string> =>
    new Promise((resolve) => {
      waiting.push(resolve);
      child.stdin!.write(`${JSON.stringify(cmd)}\n`);
    });
  return {
    port,
    command,
    async requests() {
      return (JSON.parse(await command({ stats: true })) as { requests: Record<string, number> }).requests;
    },
    async overlaps() {
      return (JSON.parse(await command({ stats: true })) as { overlaps: number }).overlaps;
    },
    async minGapMs() {
      return (JSON.parse(await command({ stats: true })) as { min_gap_ms: number | null }).min_gap_ms;
    },
    exited,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        await new Promise<void>((resolve) => {
          child.once('exit', () => resolve());
          child.kill('SIGTERM');
        });
      }
      dir.cleanup();
    },
  };
}
