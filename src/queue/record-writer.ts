import type { FluxionRecord } from '../client/types.js';
import { AgentError, ErrorCodes } from '../errors.js';
import { excessOf, free, isOver, type Excess, type ResolvedQueueOptions } from './caps.js';
import type { QueueCounters } from './counters.js';
import type { LeaseBook } from './leases.js';
import type { SentRun, SentRuns } from './sent-runs.js';
import { recordBytes, type IdBytes, type RecordStore } from './record-store.js';
import { MetaKeys } from './schema.js';
import { DropReasons, type AppendResult, type DeadLetterInput, type DropReason } from './types.js';
import { validateRecord } from '../client/validate.js';
import { insJson, type BlockRow } from './block-codec.js';

/** Rows read per statement while looking for rows to drop. */
export const SCAN_CHUNK = 1000;

/**
 * The row-level writes of the queue: inserts under the caps, drops, prunes, and the
 * counters that follow them. Every method runs inside the queue's transaction; the queue
 * rolls `lastId`, `txBytes` and the counters back if the transaction fails.
 */
export class RecordWriter {
  /** Highest id handed out; ids come from here, not from AUTOINCREMENT (see schema.ts). */
  lastId = 0;
  /** Bytes of rows touched by the current transaction, for the bytesWritten estimate. */
  txBytes = 0;
  /** Set when `onFull: 'block'` refused an append; cleared when room is signalled. */
  blocked = false;
  /**
   * The bytes the queue file can hold while the disk is full (disk-guard.ts), Infinity
   * otherwise: below `maxBytes` it is the cap, so retained rows go first and `onFull` applies.
   */
  diskCap = Infinity;

  constructor(
    private readonly rec: RecordStore,
    private readonly counters: QueueCounters,
    private readonly book: LeaseBook,
    private readonly sent: SentRuns,
    private readonly options: ResolvedQueueOptions,
  ) {}

  /**
   * Housekeeping inside a transaction, at most `budget` rows: sent rows past retainSentMs or
   * beyond retainSentBytes (oldest sent first), unsent rows past maxAgeMs; saves the cursor.
   */
  pruneInTxn(now: number, budget: number): { prunedSent: number; droppedMaxAge: number; budgetLeft: number } {
    const { options: opts, counters } = this;
    let prunedSent = 0;
    let droppedMaxAge = 0;
    const spend = (): boolean => (budget > 0 ? (budget--, true) : false);
    if (opts.retainSentMs > 0 && Number.isFinite(opts.retainSentMs)) {
      const cutoff = now - opts.retainSentMs;
      prunedSent += this.deleteSentWhile(() => budget > 0, spend, (limit) => this.sent.before(cutoff, limit));
    }
    let excess = counters.get(MetaKeys.RETAINED_STORED) - opts.retainSentBytes;
    prunedSent += this.deleteSentWhile(
      () => budget > 0 && excess > 0,
      (r) => {
        if (excess <= 0 || !spend()) return false;
        excess -= r.stored;
        return true;
      },
    );
    if (opts.maxAgeMs > 0 && budget > 0) {
      const cutoff = now - opts.maxAgeMs;
      // Enqueue times rise with ids (give or take a clock step), so stop at the first young row.
      droppedMaxAge = this.dropUnsent(budget, (r) => r.enqueuedAt < cutoff);
      if (droppedMaxAge > 0) counters.add(MetaKeys.DROPPED_PREFIX + DropReasons.MAX_AGE, droppedMaxAge);
      budget -= droppedMaxAge;
    }
    counters.set(MetaKeys.CURSOR, this.book.cursor);
    return { prunedSent, droppedMaxAge, budgetLeft: budget };
  }

  /** True when `records` fit under the caps in force without pruning or dropping anything (a staged append, staging.ts). */
  fits(records: readonly FluxionRecord[]): boolean {
    return records.length > 0 && !isOver(this.excessFor(records).ex);
  }

  /**
   * What adding `records` would put over the caps in force (the disk's while it is full),
   * counting what rows take in the file (new rows: their logical size).
   */
  private excessFor(records: readonly FluxionRecord[]): { ex: Excess; total: number; caps: { maxRows: number; maxBytes: number }; diskBound: boolean } {
    const c = this.counters;
    let total = 0;
    for (const r of records) total += recordBytes(r);
    const diskBound = this.diskCap < this.options.maxBytes;
    const caps = diskBound ? { maxRows: this.options.maxRows, maxBytes: this.diskCap } : this.options;
    const rows = c.get(MetaKeys.UNSENT_ROWS) + c.get(MetaKeys.RETAINED_ROWS);
    const stored = c.get(MetaKeys.UNSENT_STORED) + c.get(MetaKeys.RETAINED_STORED);
    return { ex: excessOf(rows, stored, records.length, total, caps), total, caps, diskBound };
  }

  /** Ids and counters for a group that fits (`fits`), as `append` would give them; the rows as blocks store them. */
  stageRows(records: readonly FluxionRecord[], now: number): BlockRow[] {
    const rows = new Array<BlockRow>(records.length);
    let bytes = 0;
    for (let i = 0; i < records.length; i++) {
      const r = records[i]!;
      const b = recordBytes(r);
      rows[i] = { id: ++this.lastId, enqueuedAt: now, bytes: b, json: insJson(r) };
      bytes += b;
    }
    this.moveCounts(records.length, bytes, 0, 0);
    this.counters.add(MetaKeys.APPENDED, records.length);
    return rows;
  }

  /**
   * `drop_oldest` ahead of a staged group (staging.ts): prunes retained rows, then drops the
   * oldest unsent ones until `records` fit the caps, counted; call inside a transaction.
   * Returns the readings dropped. The group itself is never dropped here: when the queue
   * holds nothing more to drop, it does not fit and takes the SQLite path (`append`).
   */
  makeRoomFor(records: readonly FluxionRecord[]): number {
    const c = this.counters;
    const { ex } = this.excessFor(records);
    if (!isOver(ex)) return 0;
    this.pruneSentFor(ex);
    if (!isOver(ex)) return 0;
    const n = this.dropUnsent(Number.MAX_SAFE_INTEGER, (r) => {
      if (!isOver(ex)) return false;
      free(ex, r.stored);
      return true;
    });
    if (n > 0) c.add(MetaKeys.DROPPED_PREFIX + DropReasons.FULL_DROP_OLDEST, n);
    return n;
  }

  /** Applies the caps and onFull, then inserts; call inside a transaction. */
  append(records: readonly FluxionRecord[], now: number): AppendResult {
    if (records.length === 0) return { accepted: 0, rejected: 0, dropped: 0, droppedByReason: {}, invalid: 0 };
    const rec = this.rec;
    const opts = this.options;
    const c = this.counters;
    let start = 0;
    let end = records.length;
    const droppedByReason: Partial<Record<DropReason, number>> = {};
    const { ex, total, caps, diskBound } = this.excessFor(records);
    if (isOver(ex)) this.pruneSentFor(ex);
    // A group larger than the caps themselves would wait forever under `block`: it is taken
    // once nothing else is queued, the caps then exceeded by that one group.
    const neverFits = records.length > caps.maxRows || total > caps.maxBytes;
    if (isOver(ex) && !(opts.onFull === 'block' && neverFits && c.get(MetaKeys.UNSENT_ROWS) === 0)) {
      if (opts.onFull === 'block') {
        this.blocked = true;
        // A full disk is reported as such: inputs that cannot wait (serial) count it as `disk_full`.
        if (diskBound) throw new AgentError(ErrorCodes.QUEUE_DISK_FULL, `the disk is full (the queue holds ${caps.maxBytes} bytes); holding new readings back`);
        throw new AgentError(ErrorCodes.QUEUE_FULL, `queue full (${opts.maxRows} rows / ${opts.maxBytes} bytes); holding new readings back`, {
          details: { rows: records.length, bytes: total, neverFits },
        });
      }
      let n = 0;
      if (opts.onFull === 'drop_oldest') {
        n = this.dropUnsent(Number.MAX_SAFE_INTEGER, (r) => {
          if (!isOver(ex)) return false;
          free(ex, r.stored);
          return true;
        });
        while (isOver(ex) && start < end) free(ex, recordBytes(records[start++]!));
        n += start;
      } else {
        while (isOver(ex) && end > start) free(ex, recordBytes(records[--end]!));
        n = records.length - end;
      }
      const reason = opts.onFull === 'drop_oldest' ? DropReasons.FULL_DROP_OLDEST : DropReasons.FULL_DROP_NEWEST;
      if (n > 0) {
        droppedByReason[reason] = n;
        c.add(MetaKeys.DROPPED_PREFIX + reason, n);
      }
    }
    let bytes = 0;
    for (let i = start; i < end; i++) {
      const r = records[i]!;
      const b = recordBytes(r);
      rec.insert.run(++this.lastId, r.col, r.doc, r.ts, r.data, b, now);
      bytes += b;
    }
    const accepted = end - start;
    this.moveCounts(accepted, bytes, 0, 0);
    c.add(MetaKeys.APPENDED, accepted);
    this.txBytes += bytes + 24 * accepted;
    const rejected = records.length - accepted;
    const dropped = Object.values(droppedByReason).reduce((a, b) => a + b, 0);
    return { accepted, rejected, dropped, droppedByReason, invalid: 0 };
  }


  /** Deletes retained sent rows, oldest sent first, until `ex` is covered or none are left. */
  pruneSentFor(ex: Excess): void {
    // Read about as many rows as the excess needs, not a whole chunk: at a cap (or on a full
    // disk) every append prunes a group's worth, and reading 1,000 rows to delete 100 made
    // those appends several times slower.
    const rows = this.counters.get(MetaKeys.RETAINED_ROWS);
    const avg = rows > 0 ? Math.max(1, this.counters.get(MetaKeys.RETAINED_STORED) / rows) : 16;
    const chunk = Math.min(SCAN_CHUNK, Math.max(ex.rows, Math.ceil((ex.bytes / avg) * 1.25)) + 8);
    this.deleteSentWhile(
      () => isOver(ex),
      (r) => {
        if (!isOver(ex)) return false;
        free(ex, r.stored);
        return true;
      },
      undefined,
      chunk,
    );
  }

  /**
   * Deletes sent rows run by run (oldest acked first, or the runs `runsFrom` gives), row by
   * row while `pick` says yes, as long as `more()` holds. Returns how many rows went.
   */
  private deleteSentWhile(
    more: () => boolean,
    pick: (r: IdBytes) => boolean,
    runsFrom: (limit: number) => SentRun[] = (limit) => this.sent.oldest(limit),
    chunk = SCAN_CHUNK,
  ): number {
    let total = 0;
    while (more()) {
      const runs = runsFrom(16);
      if (runs.length === 0) break;
      for (const run of runs) {
        if (!more()) break;
        const rows = this.rec.light(run.lo, run.hi, chunk);
        let n = 0;
        let b = 0;
        let st = 0;
        for (const r of rows) {
          if (!pick(r)) break;
          n++;
          b += r.bytes;
          st += r.stored;
        }
        const whole = n === rows.length && rows.length < chunk;
        let upTo = whole ? run.hi : n > 0 ? rows[n - 1]!.id : run.lo - 1;
        if (!whole && n > 0 && this.diskCap !== Infinity) {
          // On a full disk a cut inside a block takes the rest of the block too (its rows are
          // sent, in this run): rewriting a block to keep a few acked rows costs pages the disk
          // may not have. Retention is then approximate by one block, never short of what was asked.
          const h = this.rec.blocks.overlapping(upTo, upTo, 1)[0];
          if (h !== undefined && h.last > upTo && h.last <= run.hi) {
            for (const r of this.rec.light(upTo + 1, h.last, Number.MAX_SAFE_INTEGER)) {
              n++;
              b += r.bytes;
              st += r.stored;
            }
            upTo = h.last;
          }
        }
        if (n > 0) this.txBytes += this.rec.deleteRange(run.lo, upTo);
        if (upTo >= run.lo) this.sent.shrink(run, upTo);
        this.moveCounts(0, 0, -n, -b, 0, -st);
        this.counters.add(MetaKeys.PRUNED_SENT, n);
        this.txBytes += b;
        total += n;
        // A row `pick` refused ends the work; a full chunk goes on with the same run.
        if (!whole) {
          if (n < rows.length) return total;
          break;
        }
      }
    }
    return total;
  }

  /**
   * Deletes unsent, unleased rows oldest first while `pick` says true; stop at the first false. Leased rows are skipped: they are on their way to the server.
   */
  dropUnsent(budget: number, pick: (r: IdBytes) => boolean): number {
    const rec = this.rec;
    let n = 0;
    for (const [from, to] of this.book.gaps(0, this.lastId, this.sent)) {
      let pos = from;
      for (;;) {
        const rows = rec.light(pos, to, SCAN_CHUNK);
        // The picked rows are a prefix of the gap: deleted as one range, so that a block
        // holding them is rewritten once, not once a row.
        let k = 0;
        let bytes = 0;
        let stored = 0;
        while (k < rows.length && n < budget && pick(rows[k]!)) {
          bytes += rows[k]!.bytes;
          stored += rows[k]!.stored;
          k++;
          n++;
        }
        if (k > 0) {
          this.txBytes += rec.deleteRange(rows[0]!.id, rows[k - 1]!.id) + stored;
          this.moveCounts(-k, -bytes, 0, 0, -stored, 0);
        }
        if (k < rows.length) return n;
        if (rows.length < SCAN_CHUNK) break;
        pos = rows[rows.length - 1]!.id + 1;
      }
    }
    return n;
  }

  /** Moves the counters: rows, logical bytes and stored bytes (the latter default to the logical, as for rows of `records`). */
  moveCounts(unsentRows: number, unsentBytes: number, retainedRows: number, retainedBytes: number, unsentStored = unsentBytes, retainedStored = retainedBytes): void {
    const c = this.counters;
    c.add(MetaKeys.UNSENT_ROWS, unsentRows);
    c.add(MetaKeys.UNSENT_BYTES, unsentBytes);
    c.add(MetaKeys.RETAINED_ROWS, retainedRows);
    c.add(MetaKeys.RETAINED_BYTES, retainedBytes);
    c.add(MetaKeys.UNSENT_STORED, unsentStored);
    c.add(MetaKeys.RETAINED_STORED, retainedStored);
  }
}

/**
 * Splits records into those the server can take and those it must not get (validateRecord),
 * the latter as dead letters. One pass; `good` is the input itself when all pass.
 */
export function splitInvalid(records: readonly FluxionRecord[]): { good: readonly FluxionRecord[]; bad: DeadLetterInput[] } {
  let good: FluxionRecord[] | null = null;
  const bad: DeadLetterInput[] = [];
  for (let i = 0; i < records.length; i++) {
    const record = records[i]!;
    const problem = validateRecord(record);
    if (problem === null) {
      good?.push(record);
      continue;
    }
    good ??= records.slice(0, i);
    bad.push({ reason: `invalid record: ${problem}`, source: 'queue', record });
  }
  return { good: good ?? records, bad };
}
