// The web console's cost to the agent: the built agent (a child process) takes a steady
// 5,000 readings/s through a real Mosquitto to the dev server, first with no console page
// open, then with the overview open in headless Chromium (live updates flowing), then
// closed again. Prints the agent's CPU and RSS in each phase and the ratio of open against
// the mean of the closed phases measured in the same run (target: CPU ratio <= 1.05).
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { chromium } from 'playwright-core';
import { CLI, cpuSecondsOf, report, startDevServer } from './common.mjs';
import { startMosquitto } from './mqtt-ingest.bench.mjs';

const RATE = 5_000;
const PHASE_S = 20;
const TICK_MS = 10;

function rssOf(pid) {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : 0;
}

async function freePort() {
  const { createServer } = await import('node:net');
  return new Promise((r) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => r(port));
    });
  });
}

function startAgent(configPath) {
  const child = spawn(process.execPath, [CLI, 'run', '--config', configPath], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (d) => (out += d));
  const ready = new Promise((resolve, reject) => {
    const t = setInterval(() => {
      if (out.includes('mqtt input subscribed') && out.includes('web console served')) {
        clearInterval(t);
        resolve();
      }
    }, 20);
    child.once('exit', (code) => reject(new Error(`agent exited (${code}): ${out.slice(-2000)}`)));
  });
  return { child, ready };
}

/** Publishes at RATE for PHASE_S seconds; returns the agent's CPU seconds and peak RSS meanwhile. */
async function phase(pub, pid) {
  let n = 0;
  let peak = 0;
  const cpu0 = cpuSecondsOf(pid);
  const t0 = performance.now();
  while (performance.now() - t0 < PHASE_S * 1000) {
    const due = Math.floor(((performance.now() - t0) / 1000) * RATE);
    while (n < due) {
      pub.publish(`bench/d${n % 100}/t`, `{"ts":${1_770_000_000_000 + n},"t":${(n % 400) / 10}}`, { qos: 0 });
      n++;
    }
    peak = Math.max(peak, rssOf(pid));
    await new Promise((r) => setTimeout(r, TICK_MS));
  }
  return { cpu: cpuSecondsOf(pid) - cpu0, seconds: (performance.now() - t0) / 1000, rss: peak, published: n };
}

async function main() {
  const dir = mkdtempSync(join(tmpdir(), 'fluxion-edge-bench-console-'));
  const broker = await startMosquitto(dir, { maxInflight: 100 });
  const server = await startDevServer('bench-key');
  const port = await freePort();
  const configPath = join(dir, 'config.yaml');
  writeFileSync(
    configPath,
    `
log: { level: info }
fluxiondb: { url: ${server.url}, api_key: bench-key }
queue: { path: ${join(dir, 'queue.db')}, synchronous: normal }
health: { enabled: true, port: ${port} }
console: { enabled: true, sample_interval: 5s }
mqtt:
  url: ${broker.url}
  client_id: bench-console
  subscriptions:
    - topic: bench/{device}/t
      qos: 0
      collection: bench
      document: "{device}"
      timestamp: { field: ts, unit: ms }
`,
  );
  const agent = startAgent(configPath);
  let browser = null;
  try {
    await agent.ready;
    const pub = await mqtt.connectAsync(broker.url, { clientId: 'bench-console-pub' });
    const closedA = await phase(pub, agent.child.pid);
    browser = await chromium.launch({
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    const page = await browser.newPage();
    await page.goto(`http://127.0.0.1:${port}/console/`);
    await page.waitForFunction(() => document.getElementById('queue-depth')?.textContent !== '–');
    const open = await phase(pub, agent.child.pid);
    await browser.close();
    browser = null;
    const closedB = await phase(pub, agent.child.pid);
    await pub.endAsync();
    // The load was real: what the agent received, against what was published.
    await new Promise((r) => setTimeout(r, 1000));
    const live = await (await fetch(`http://127.0.0.1:${port}/status`)).json();
    const published = closedA.published + open.published + closedB.published;
    const closedCpu = (closedA.cpu / closedA.seconds + closedB.cpu / closedB.seconds) / 2;
    const openCpu = open.cpu / open.seconds;
    report('console', {
      'rate_msg/s': RATE,
      phase_s: PHASE_S,
      'closed_cpu_s/s': closedCpu,
      'open_cpu_s/s': openCpu,
      cpu_ratio_open_vs_closed: openCpu / closedCpu,
      closed_rss_mb: Math.max(closedA.rss, closedB.rss) / 2 ** 20,
      open_rss_mb: open.rss / 2 ** 20,
      rss_ratio: open.rss / Math.max(closedA.rss, closedB.rss),
      received_ratio: live.status.ingest.received / published,
    });
  } finally {
    await browser?.close();
    agent.child.kill('SIGTERM');
    await new Promise((r) => agent.child.once('exit', r));
    await server.stop();
    await broker.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
