// Several agents sharing one stream (issue 11 §3): 1, 2 and 3 agents (each the built CLI in a
// process of its own, own client id, persistent session and queue) in one `$share/` group on
// one Mosquitto, QoS 1, against one dev server. Throughput is readings acked by FluxionDB per
// second, from the first publish until all of them are acked; ratios are against 1 agent in
// the same run. The publisher and the dev server are processes of their own too, so on a
// machine with few cores the agents compete with them: read the ratios with `cores` in mind.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { openQueueReadOnly } from '../dist/queue/read-only.js';
import { CLI, report, startDevServer } from './common.mjs';
import { publish, startMosquitto } from './mqtt-ingest.bench.mjs';

const N = 60_000;

function config(dir, brokerUrl, serverUrl, clientId, group) {
  return `
gateway: { id: ${clientId} }
log: { level: info }
fluxiondb: { url: ${serverUrl}, api_key: bench-key }
queue: { path: ${join(dir, 'queue.db')} }
mqtt:
  url: ${brokerUrl}
  client_id: ${clientId}
  subscriptions:
    - topic: $share/${group}/bench/{device}/t
      collection: bench
      document: "{device}"
      timestamp: { field: ts, unit: ms }
`;
}

function startAgent(configPath) {
  const child = spawn(process.execPath, [CLI, 'run', '--config', configPath], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (d) => (out += d));
  child.stderr.setEncoding('utf8').on('data', (d) => (out += d));
  const exited = new Promise((r) => child.once('exit', r));
  return { child, output: () => out, stop: () => (child.exitCode !== null ? exited : (child.kill('SIGTERM'), exited)) };
}

async function until(check, what, timeoutMs = 120_000) {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function rate(root, brokerUrl, serverUrl, members) {
  const group = `bench-${members}`;
  const agents = [];
  const queues = [];
  try {
    for (let i = 0; i < members; i++) {
      const dir = join(root, `${group}-${i}`);
      mkdirSync(dir);
      const path = join(dir, 'config.yaml');
      writeFileSync(path, config(dir, brokerUrl, serverUrl, `${group}-member-${i}`, group));
      const agent = startAgent(path);
      agents.push(agent);
      await until(() => agent.output().includes('mqtt input subscribed'), `member ${i} subscribed`, 30_000);
      queues.push(openQueueReadOnly(join(dir, 'queue.db')));
    }
    const sent = () => queues.reduce((sum, q) => sum + q.stats().sent, 0);
    const t0 = performance.now();
    const published = publish(brokerUrl, N);
    await until(() => sent() >= N, `${N} readings acked`);
    const seconds = (performance.now() - t0) / 1000;
    await published;
    const shares = queues.map((q) => q.stats().sent / N);
    return { rate: N / seconds, minShare: Math.min(...shares) };
  } finally {
    for (const q of queues) q.close();
    await Promise.all(agents.map((a) => a.stop()));
  }
}

export async function main() {
  const root = mkdtempSync(join(tmpdir(), 'fluxion-bench-shared-'));
  const server = await startDevServer();
  const broker = await startMosquitto(root);
  try {
    const one = await rate(root, broker.url, server.url, 1);
    const two = await rate(root, broker.url, server.url, 2);
    const three = await rate(root, broker.url, server.url, 3);
    report('shared-subscriptions', {
      readings: N,
      cores: cpus().length,
      '1_agent_readings/s': one.rate,
      '2_agents_readings/s': two.rate,
      '3_agents_readings/s': three.rate,
      '2/1_ratio': two.rate / one.rate,
      '3/1_ratio': three.rate / one.rate,
      '3_agents_smallest_share': three.minShare,
    });
  } finally {
    await broker.stop();
    await server.stop();
    rmSync(root, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
