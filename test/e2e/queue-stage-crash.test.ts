import { spawn } from 'node:child_process';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { SqliteQueue } from '../../src/queue/index.js';
import { tempDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';

const QUEUE_JS = fileURLToPath(new URL('../../dist/queue/index.js', import.meta.url));

/**
 * A process appending commit groups of 20 (the built queue, synchronous: full or normal, nobody
 * leasing, so every group goes to the staging log) says which readings each append made
 * durable, and is SIGKILLed after a varying number of them: the kill lands in a log write, an
 * fdatasync, a flush transaction (every 30 ms, and every 1 MiB of log) or a rewind. After every
 * kill, every acknowledged reading is in the queue exactly once, in order, and the counters agree.
 */
describe('staging log killed with SIGKILL', () => {
  const cleanups: Array<() => void> = [];
  afterEach(() => {
    for (const c of cleanups.splice(0).reverse()) c();
  });

  // `normal` packs records (8-byte aligned, no fdatasync): other offsets, other rewinds. A
  // SIGKILL keeps the page cache, so every acknowledged reading must survive there too.
  it.each(['full', 'normal'] as const)('synchronous %s: keeps every acknowledged reading exactly once, whatever instant the kill hits', async (sync) => {
    const dir = tempDir();
    cleanups.push(() => dir.cleanup());
    const path = join(dir.path, 'q.db');
    // Reading n is {ts: 1000 + n}; each run goes on from what the queue holds.
    const script = `
      const { SqliteQueue } = await import(${JSON.stringify(QUEUE_JS)});
      const q = new SqliteQueue({ path: ${JSON.stringify(path)}, synchronous: '${sync}', stageFlushMs: 30 });
      q.start();
      let n = q.stats().appended;
      for (let g = 1; ; g++) {
        q.append(Array.from({ length: 20 }, (_, k) => ({ col: 'c', doc: 'd' + ((n + k) % 50), ts: 1000 + n + k, data: '{"t":' + (n + k) + '}' })));
        n += 20;
        process.stdout.write(n + '\\n');
        // Let the flush timer run now and then.
        if (g % 5 === 0) await new Promise((r) => setTimeout(r, g % 15 === 0 ? 31 : 0));
      }`;
    let acked = 0;
    let staged = 0;
    for (const after of [40, 900, 5_400, 6_000, 260, 11_000, 2_500, 130]) {
      const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
      cleanups.push(() => void (child.exitCode === null && child.kill('SIGKILL')));
      const start = acked;
      child.stdout.setEncoding('utf8').on('data', (d: string) => {
        for (const l of d.split('\n')) if (l !== '') acked = Math.max(acked, Number(l));
      });
      await waitFor(() => acked >= start + after, { what: `${after} readings acknowledged`, timeoutMs: 60_000 });
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));

      if (statSync(`${path}-stage`).size > 0) staged++;
      // Recovers the log (nobody else has the file open) and moves it into the file.
      const check = new SqliteQueue({ path, synchronous: sync, stageFlushMs: 0 });
      check.start();
      try {
        const stats = check.stats();
        const n = stats.appended;
        expect(n).toBeGreaterThanOrEqual(acked);
        expect(stats).toMatchObject({ depth: n, newestId: n, dropped: 0 });
        const rows = check.newestRecords(n);
        expect(rows.map((r) => r.id)).toEqual(Array.from({ length: n }, (_, k) => k + 1));
        expect(rows.map((r) => r.ts)).toEqual(Array.from({ length: n }, (_, k) => 1000 + k));
        const inFile = check.database.prepare('SELECT (SELECT count(*) FROM records) + (SELECT coalesce(sum(n), 0) FROM blocks)').pluck().get();
        expect(inFile).toBe(n);
        acked = n;
      } finally {
        check.stop();
      }
    }
    expect(staged).toBeGreaterThan(0); // the kills found groups in the log
    // A drain sends each reading once, in order.
    const last = new SqliteQueue({ path, synchronous: 'off' });
    last.start();
    cleanups.push(() => last.stop());
    const sent: number[] = [];
    for (let l = last.lease({ maxRecords: 5000, maxBytes: 1e9 }); l !== null; l = last.lease({ maxRecords: 5000, maxBytes: 1e9 })) {
      sent.push(...(JSON.parse(l.payload!) as Array<{ ts: number }>).map((r) => r.ts - 1000));
      last.ack(l);
    }
    expect(sent).toEqual(Array.from({ length: acked }, (_, k) => k));
  }, 180_000);
});
