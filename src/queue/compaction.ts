/**
 * Background compaction: unsent, unleased rows of `records` become blocks (block-store.ts)
 * of BLOCK_ROWS rows each, one block per transaction (the queue's): a crash leaves either
 * the rows or the block, never both and never neither. Ids do not change, so sent runs and
 * leases are untouched. Only full blocks are made: the newest rows stay rows until enough
 * follow them, so a quiet site keeps its recent readings as plain rows, and a file of an
 * older schema (rows only) is converted by this same path, a block at a time, after upgrade.
 */
import type { BlockRow } from './block-codec.js';
import type { QueueCounters } from './counters.js';
import type { LeaseBook } from './leases.js';
import { MetaKeys } from './schema.js';
import type { RecordStore } from './record-store.js';
import type { SentRuns } from './sent-runs.js';

/** Rows per block: measured, 2,000 readings of ~60 bytes deflate to ~13 bytes each. */
export const BLOCK_ROWS = 2000;

/**
 * Stores unsent rows (ascending id, already counted as unsent rows of their logical size) as
 * one block, and moves the unsent stored-bytes counter to what the block takes: from then on
 * they count their share of its stored size (block-store.ts). Every block of unsent rows is
 * written through here; call inside the queue's transaction. Returns the bytes written.
 */
export function writeBlock(rec: RecordStore, counters: QueueCounters, rows: readonly BlockRow[]): number {
  const b = rec.blocks.insert(rows);
  counters.add(MetaKeys.UNSENT_STORED, b.stored - b.logical);
  return b.written;
}

/**
 * Finds the next run of BLOCK_ROWS consecutive table rows that may be compacted and stores
 * it as one block; call inside a transaction. Rows above `upToId` are left alone. Returns the rows moved (0 = nothing to do)
 * and the bytes the block took.
 */
export function compactOne(
  rec: RecordStore,
  counters: QueueCounters,
  book: LeaseBook,
  sent: SentRuns,
  upToId: number,
  blockRows = BLOCK_ROWS,
): { rows: number; written: number } {
  for (const [from, to] of book.gaps(0, upToId, sent)) {
    let pos = from;
    while (pos <= to) {
      let rows = rec.tableBlockRows(pos, to, blockRows);
      if (rows.length === 0) break;
      // Never across a block: block ranges stay disjoint from each other and from rows.
      const inside = rec.blocks.overlapping(rows[0]!.id, rows[rows.length - 1]!.id, 1)[0];
      if (inside !== undefined) {
        const cut = rows.findIndex((r) => r.id > inside.first);
        rows = cut < 0 ? rows : rows.slice(0, cut);
        if (rows.length < blockRows) {
          pos = inside.last + 1;
          continue;
        }
      }
      if (rows.length < blockRows) break;
      const written = writeBlock(rec, counters, rows);
      rec.deleteTableRange(rows[0]!.id, rows[rows.length - 1]!.id);
      return { rows: rows.length, written };
    }
  }
  return { rows: 0, written: 0 };
}
