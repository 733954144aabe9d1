// Drain benchmark: 1,000,000 queued records to the dev server (another process) through the
// agent's sender, against the raw pipelined client insert rate measured in the same run on
// the same server. Target: the sender reaches at least 70 % of the raw rate.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { Agent } from '../dist/agent.js';
import { SqliteQueue } from '../dist/queue/index.js';
import { DEFAULT_SENDER_OPTIONS } from '../dist/sender/types.js';
import { rawInsertRate } from './client-insert.bench.mjs';
import { makeRecords, queueEmpty, report, startDevServer } from './common.mjs';

const TOTAL = 1_000_000;

export async function main() {
  const server = await startDevServer();
  const dir = mkdtempSync(join(tmpdir(), 'fluxion-bench-drain-'));
  try {
    const raw = await rawInsertRate({ server, total: TOTAL, window: 4 });
    const settings = {
      fluxiondb: { url: server.url, apiKey: 'bench-key', requestTimeoutMs: 60_000 },
      queue: { path: join(dir, 'q.db'), synchronous: 'normal' },
      sender: { ...DEFAULT_SENDER_OPTIONS, requestTimeoutMs: 60_000 },
      housekeepingIntervalMs: 10_000,
      stopDeadlineMs: 5_000,
    };
    const q = new SqliteQueue(settings.queue);
    q.start();
    for (let i = 0; i < TOTAL; i += 10_000) q.append(makeRecords(10_000, i, 'drain'));
    q.stop();

    const agent = new Agent(settings, pino({ level: 'warn' }));
    // Timed from the agent being up: start() runs the queue file's integrity check, a cost
    // of a restart rather than of the drain (the link coming back needs no restart). What
    // the sender shipped while start() finished is taken off the count.
    await agent.start();
    const t0 = performance.now();
    const sentBefore = agent.status().queue.sent;
    await queueEmpty(agent);
    const seconds = (performance.now() - t0) / 1000;
    await agent.stop();
    const drainRate = (TOTAL - sentBefore) / seconds;
    report('sender-drain', {
      records: TOTAL,
      'raw_client records/s': raw.recordsPerSecond,
      'sender_drain records/s': drainRate,
      'drain/raw_ratio': drainRate / raw.recordsPerSecond,
      target: '>=0.70',
    });
  } finally {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
