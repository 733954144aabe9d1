// Memory benchmark: the agent's RSS with 10,000,000 rows queued against its RSS with an
// empty queue, each measured in a fresh child process doing the same work (start the
// agent, lease and ack a few batches against a dev server). Target: within 20 %.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SqliteQueue } from '../dist/queue/index.js';
import { makeRecords, report, startDevServer } from './common.mjs';

const ROWS = Number(process.env.BENCH_MEMORY_ROWS ?? 10_000_000);
const PROBE = fileURLToPath(new URL('./queue-memory-probe.mjs', import.meta.url));

function rssOf(path, url) {
  const out = execFileSync(process.execPath, [PROBE, path, url], { encoding: 'utf8' });
  return JSON.parse(out.trim().split('\n').pop());
}

export async function main() {
  const server = await startDevServer();
  const dir = mkdtempSync(join(tmpdir(), 'fluxion-bench-mem-'));
  try {
    const emptyPath = join(dir, 'empty.db');
    const fullPath = join(dir, 'full.db');
    const q = new SqliteQueue({ path: fullPath, synchronous: 'off', maxRows: ROWS * 2, maxBytes: 64 * 2 ** 30 });
    q.start();
    for (let i = 0; i < ROWS; i += 50_000) q.append(makeRecords(50_000, i, 'mem'));
    q.stop();
    const empty = rssOf(emptyPath, server.url);
    const full = rssOf(fullPath, server.url);
    report('queue-memory', {
      rows: ROWS,
      'rss_empty MiB': empty.rss / 2 ** 20,
      'rss_full MiB': full.rss / 2 ** 20,
      'full/empty_ratio': full.rss / empty.rss,
      target: '<=1.20',
      'depth_seen_full': full.depth,
    });
  } finally {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
