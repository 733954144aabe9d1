/**
 * The queue's row and byte counters recounted from the tables, the slow way: every row of
 * `records` and every row of every block, each classed as sent (inside a sent run) or
 * unsent. The counters in `meta` (counters.ts) are kept by the transactions that change the
 * rows and must always equal this; a check, not something the queue runs at start (a day's
 * backlog is tens of thousands of blocks to inflate).
 */
import type { Database } from 'better-sqlite3';
import { BlockStore } from './block-store.js';

export interface RowCounts {
  unsentRows: number;
  /** Logical bytes (QueueStats.bytes). */
  unsentBytes: number;
  /** Bytes on disk as the byte cap counts them (QueueStats.storedBytes). */
  unsentStored: number;
  retainedRows: number;
  retainedBytes: number;
  retainedStored: number;
}

export function recountRows(db: Database): RowCounts {
  const runs = db.prepare('SELECT lo, hi FROM sent_runs ORDER BY lo').raw(true).all() as Array<[number, number]>;
  const out: RowCounts = { unsentRows: 0, unsentBytes: 0, unsentStored: 0, retainedRows: 0, retainedBytes: 0, retainedStored: 0 };
  const add = (id: number, bytes: number, stored: number): void => {
    if (isSent(runs, id)) {
      out.retainedRows++;
      out.retainedBytes += bytes;
      out.retainedStored += stored;
    } else {
      out.unsentRows++;
      out.unsentBytes += bytes;
      out.unsentStored += stored;
    }
  };
  for (const [id, bytes] of db.prepare('SELECT id, bytes FROM records ORDER BY id').raw(true).iterate() as Iterable<[number, number]>) {
    add(id, bytes, bytes);
  }
  const blocks = new BlockStore(db);
  for (const h of blocks.overlapping(0, Number.MAX_SAFE_INTEGER)) {
    const d = blocks.decoded(h);
    for (let k = 0; k < d.n; k++) add(d.ids[k]!, d.bytes[k]!, d.stored(k));
  }
  return out;
}

/** Whether `id` lies in one of `runs` (disjoint, ascending by lo). */
function isSent(runs: ReadonlyArray<readonly [number, number]>, id: number): boolean {
  let lo = 0;
  let hi = runs.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (runs[mid]![0] <= id) lo = mid + 1;
    else hi = mid;
  }
  return lo > 0 && runs[lo - 1]![1] >= id;
}
