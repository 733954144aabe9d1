import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { SqliteQueue } from '../../src/queue/index.js';
import { BLOCK_ROWS } from '../../src/queue/compaction.js';
import { tempDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';

const QUEUE_JS = fileURLToPath(new URL('../../dist/queue/index.js', import.meta.url));
const TOTAL = 12 * BLOCK_ROWS;
const rec = (i: number) => ({ col: 'c', doc: `d${i % 50}`, ts: 1000 + i, data: `{"temperature":${i},"humidity":40.2}` });

/**
 * A process compacting (the built queue, synchronous: full) is SIGKILLed after a varying
 * number of blocks, and so at varying instants inside a compaction transaction: every row is
 * still there exactly once, as a row or in one block, and the counters agree.
 */
describe('compaction killed with SIGKILL', () => {
  const cleanups: Array<() => void> = [];
  afterEach(() => {
    for (const c of cleanups.splice(0).reverse()) c();
  });

  it('leaves every row once, whatever instant the kill hits, and the next run finishes the job', async () => {
    const dir = tempDir();
    cleanups.push(() => dir.cleanup());
    const path = join(dir.path, 'q.db');
    const q = new SqliteQueue({ path, synchronous: 'full', compactTailRows: 0, compact: false });
    q.start();
    for (let i = 0; i < TOTAL; i += 20) q.append(Array.from({ length: 20 }, (_, k) => rec(i + k)));
    q.stop();

    // A child compacting a block at a time, saying so after each; killed after 1, 2, 3 blocks
    // of its run (the kill lands wherever the next block's transaction happens to be).
    const script = `
      const { SqliteQueue } = await import(${JSON.stringify(QUEUE_JS)});
      const q = new SqliteQueue({ path: ${JSON.stringify(path)}, synchronous: 'full', compactTailRows: 0 });
      q.start();
      for (;;) { const n = q.compact(1); process.stdout.write(n > 0 ? 'block\\n' : 'done\\n'); if (n === 0) break; }
      q.stop();`;
    for (const after of [1, 2, 3]) {
      const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
      cleanups.push(() => void (child.exitCode === null && child.kill('SIGKILL')));
      // Listened for at once: on a loaded machine the child may finish every block and exit
      // before the kill, and an 'exit' already emitted would never come again.
      const exited = new Promise((r) => child.once('exit', r));
      let blocks = 0;
      let done = false;
      child.stdout.setEncoding('utf8').on('data', (d: string) => {
        blocks += d.split('block').length - 1;
        if (d.includes('done')) done = true;
      });
      // On a loaded machine a kill lands blocks after the one it waited for, and the earlier
      // children may have left fewer than `after` blocks: then this child finishes the job.
      await waitFor(() => blocks >= after || done, { what: `${after} blocks compacted` });
      child.kill('SIGKILL');
      await exited;

      const check = new SqliteQueue({ path, synchronous: 'full', compactTailRows: 0, compact: false });
      check.start();
      try {
        const stats = check.stats();
        expect(stats).toMatchObject({ depth: TOTAL, appended: TOTAL, dropped: 0 });
        const rows = check.newestRecords(TOTAL);
        expect(rows.map((r) => r.id)).toEqual(Array.from({ length: TOTAL }, (_, k) => k + 1));
        expect(rows.map((r) => r.data)).toEqual(Array.from({ length: TOTAL }, (_, k) => rec(k).data));
        const inFile = check.database.prepare('SELECT (SELECT count(*) FROM records) + (SELECT coalesce(sum(n), 0) FROM blocks)').pluck().get();
        expect(inFile).toBe(TOTAL);
      } finally {
        check.stop();
      }
    }
    // The next run compacts what is left, and a drain sends each reading once, in order.
    const last = new SqliteQueue({ path, synchronous: 'off', compactTailRows: 0 });
    last.start();
    cleanups.push(() => last.stop());
    while (last.compact(100) > 0);
    expect(last.database.prepare('SELECT count(*) FROM records').pluck().get()).toBe(0);
    const sent: number[] = [];
    for (let l = last.lease({ maxRecords: 1500, maxBytes: 1e9 }); l !== null; l = last.lease({ maxRecords: 1500, maxBytes: 1e9 })) {
      sent.push(...(JSON.parse(l.payload!) as Array<{ ts: number }>).map((r) => r.ts - 1000));
      last.ack(l);
    }
    expect(sent).toEqual(Array.from({ length: TOTAL }, (_, k) => k));
  });
});
