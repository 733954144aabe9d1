import { statSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isAgentError } from '../../src/errors.js';
import { SqliteQueue } from '../../src/queue/index.js';
import { IS_ROOT, mountTmpfs, NEEDS_ROOT, type Tmpfs } from '../helpers/tmpfs.js';

const rec = (n: number) => ({ col: 'c', doc: `d${n % 7}`, ts: 1_700_000_000_000 + n, data: JSON.stringify({ n, pad: 'x'.repeat(60) }) });

/**
 * The staging log on a real filesystem that another program fills while groups are staged
 * (a 48 MiB tmpfs: groups are staged only while 32 MiB are free). The flush that meets the
 * full disk (the file confined to its size) keeps the rows staged; appends are refused as on
 * any full disk (QUEUE_DISK_FULL), and every acknowledged reading is sent once, the staged
 * ones once the file has room for them.
 */
describe.skipIf(!IS_ROOT)(`the staging log on a disk that fills (${NEEDS_ROOT})`, () => {
  let fs: Tmpfs;
  let q: SqliteQueue | undefined;
  beforeEach(() => {
    fs = mountTmpfs(48 * 1024 * 1024);
  });
  afterEach(() => {
    q?.stop();
    q = undefined;
    fs.unmount();
  });

  it('keeps every acknowledged reading when the disk fills under staged groups, and stages again once space returns', () => {
    const path = join(fs.path, 'q.db');
    q = new SqliteQueue({ path, synchronous: 'full', maxBytes: 1e9, onFull: 'block' });
    q.start();
    let n = 0;
    const append = (): boolean => {
      try {
        q!.append(Array.from({ length: 20 }, (_, i) => rec(n + i)));
        n += 20;
        return true;
      } catch (err) {
        expect(isAgentError(err, 'EDGE_ERR_QUEUE_DISK_FULL')).toBe(true);
        return false;
      }
    };
    for (let g = 0; g < 50; g++) expect(append()).toBe(true);
    expect(statSync(`${path}-stage`).size).toBeGreaterThan(0);
    expect(q.stats()).toMatchObject({ depth: 1000, appended: 1000 });

    fs.fill(); // another program takes every byte left
    // Housekeeping meets the full disk: the flush goes through on the reserve, or its rows stay staged.
    q.prune();
    // Appends go to SQLite now, until the disk refuses one.
    let refused = false;
    for (let g = 0; g < 10_000 && !refused; g++) refused = !append();
    expect(refused).toBe(true);
    expect(q.stats()).toMatchObject({ depth: n, appended: n });

    // The sender drains on the full disk what the file holds; groups staged when the disk
    // filled wait in the log (durable) until the file has room for them.
    const drain = (): number[] => {
      const out: number[] = [];
      for (let l = q!.lease({ maxRecords: 1000, maxBytes: 1e9 }); l !== null; l = q!.lease({ maxRecords: 1000, maxBytes: 1e9 })) {
        for (const r of l.records) out.push((JSON.parse(r.data) as { n: number }).n);
        q!.ack(l);
      }
      return out;
    };
    const onFullDisk = drain();
    // Space returns: the rest is moved in and sent, and the queue takes readings again.
    fs.release();
    q.prune();
    const before = n;
    for (let g = 0; g < 5; g++) expect(append()).toBe(true);
    const after = drain();
    expect([...onFullDisk, ...after]).toEqual(Array.from({ length: n }, (_, i) => i));
    expect(n - before).toBe(100);
    expect(q.stats()).toMatchObject({ depth: 0, sent: n, appended: n });
  });
});
