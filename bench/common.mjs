// Shared pieces of the benchmarks: a dev server in a child process (so its CPU is measured
// apart from ours), CPU readings from /proc, and plain-text result lines.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const CLI = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
const TICKS_PER_SECOND = 100; // USER_HZ on Linux

/** CPU seconds (user + system) a process has used so far, from /proc/PID/stat. */
export function cpuSecondsOf(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
}

/**
 * The machine's CPU time so far, in ticks (/proc/stat): `steal` is what the hypervisor gave
 * other guests while this one wanted to run, `busy` what the guest ran, `all` everything.
 * `machineShare(a, b)` between two readings tells a phase slowed by the host from one slowed
 * by the code.
 */
export function machineTicks() {
  const f = /^cpu +(.*)$/m.exec(readFileSync('/proc/stat', 'utf8'))[1].split(' ').map(Number);
  const [user, nice, system, idle, iowait, irq, softirq, steal] = f;
  return { steal, busy: user + nice + system + irq + softirq, all: user + nice + system + idle + iowait + irq + softirq + steal };
}

/** Steal and busy fractions of the machine between two `machineTicks()` readings. */
export function machineShare(a, b) {
  const all = b.all - a.all || 1;
  return { steal: (b.steal - a.steal) / all, busy: (b.busy - a.busy) / all };
}

/** CPU seconds this process has used so far. */
export function ownCpuSeconds() {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

/** Starts `fluxion-edge dev-server --port 0` and resolves once it listens. */
export function startDevServer(masterKey = 'bench-key', extraArgs = []) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, 'dev-server', '--port', '0', '--secret-key', masterKey, '--log-level', 'warn', ...extraArgs], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d) => {
      out += d;
      const m = /listening on (ws:\/\/\S+)/.exec(out);
      if (m) resolve({ url: m[1], pid: child.pid, stop: () => new Promise((r) => { child.once('exit', r); child.kill('SIGTERM'); }) });
    });
    child.once('exit', (code) => reject(new Error(`dev server exited early (${code}): ${out}`)));
  });
}

export function report(name, fields) {
  const parts = Object.entries(fields).map(([k, v]) => `${k}=${typeof v === 'number' ? fmt(v) : v}`);
  console.log(`${name}: ${parts.join(' ')}`);
}

function fmt(n) {
  if (Number.isInteger(n)) return String(n);
  return Math.abs(n) >= 100 ? n.toFixed(0) : Math.abs(n) >= 1 ? n.toFixed(2) : n.toPrecision(3);
}

/** `count` small records spread over 100 documents with distinct timestamps. */
export function makeRecords(count, start = 0, col = 'bench') {
  const base = 1_700_000_000_000;
  const out = new Array(count);
  for (let i = 0; i < count; i++) {
    const n = start + i;
    out[i] = { col, doc: `device-${n % 100}`, ts: base + n, data: `{"t":${(n % 400) / 10},"h":${n % 100}}` };
  }
  return out;
}

/** A socat pty pair in `dir`: `device` (the simulated device's end) and `agent` (what the agent opens). */
export async function ptyPair(dir) {
  const device = join(dir, 'device');
  const agent = join(dir, 'agent');
  const child = spawn('socat', [`pty,raw,echo=0,link=${device}`, `pty,raw,echo=0,link=${agent}`], { stdio: 'ignore' });
  for (let i = 0; !(existsSync(device) && existsSync(agent)); i++) {
    if (i > 500) throw new Error('socat did not make the pty pair');
    await new Promise((r) => setTimeout(r, 10));
  }
  return { device, agent, stop: () => new Promise((r) => (child.exitCode !== null ? r() : (child.once('exit', r), child.kill('SIGTERM')))) };
}

/**
 * How often a bench asks an agent for its status to see a drain end, in ms. A status costs
 * the agent's event loop (queue stats, inputs, sender): every 5 ms it took 4 to 8 % of a
 * drain's CPU, which the raw client does not pay. The end is seen up to this late, never
 * early: a drain of a few seconds is timed at most about 1 % slow.
 */
export const STATUS_POLL_MS = 25;

/** Resolves once the agent's queue holds no unsent record (polled every STATUS_POLL_MS). */
export function queueEmpty(agent) {
  return new Promise((resolve) => {
    const timer = setInterval(() => {
      if (agent.status().queue.depth === 0) {
        clearInterval(timer);
        resolve();
      }
    }, STATUS_POLL_MS);
  });
}

/**
 * Starts `agent` and times its drain to an empty queue, from the agent being up: start()
 * runs the queue file's integrity check, a cost of a restart rather than of the drain. What
 * the sender shipped while start() finished is taken off the count. Returns records/s and
 * the agent's last status; the agent is stopped.
 */
export async function timeDrain(agent, total) {
  await agent.start();
  const t0 = performance.now();
  const sentBefore = agent.status().queue.sent;
  await queueEmpty(agent);
  const seconds = (performance.now() - t0) / 1000;
  const status = agent.status();
  await agent.stop();
  return { rate: (total - sentBefore) / seconds, status };
}

/** Samples this process's memory every `everyMs`: RSS samples (bytes) and the peaks of the heap and external memory. */
export function sampleMemory(everyMs = 250) {
  const rss = [];
  const peaks = { heapTotal: 0, external: 0 };
  const timer = setInterval(() => {
    const m = process.memoryUsage();
    rss.push(m.rss);
    peaks.heapTotal = Math.max(peaks.heapTotal, m.heapTotal);
    peaks.external = Math.max(peaks.external, m.external);
  }, everyMs);
  return { rss, peaks, stop: () => clearInterval(timer) };
}
