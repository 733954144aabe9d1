/**
 * The lease lifecycle on the queue file: handing out leases (lease-reader.ts), acks that
 * turn them into sent runs (sent-runs.ts), dead-lettering rows out of a lease, and the
 * cursor (the lowest id that may be unsent) that every scan starts from.
 */
import type { DeadLetterOps } from './dead-letter-api.js';
import type { DeadLetterStore } from './dead-letters.js';
import type { QueueCounters } from './counters.js';
import { leaseRows, readLease, runsOfRows, type ReadLease } from './lease-reader.js';
import type { LeaseBook } from './leases.js';
import { PAGE_SCAN_SPAN, unescapeParts, type IdBytes, type RecordStore } from './record-store.js';
import type { RecordWriter } from './record-writer.js';
import { MetaKeys } from './schema.js';
import type { SentRuns } from './sent-runs.js';
import type { Lease, LeaseRequest, QueuedRecord, RecordPage, SentRecord } from './types.js';

/** What the lease operations need of the queue that owns the file. */
export interface LeaseHost {
  /** The highest id the file may hold (rows staged outside it are above, staging.ts). */
  lastId(): number;
  files(): { rec: RecordStore; sent: SentRuns; dead: DeadLetterStore };
  book: LeaseBook;
  counters: QueueCounters;
  writer(): RecordWriter;
  dl: DeadLetterOps;
  now(): number;
  write<T>(op: string, fn: () => T): T;
  withoutFsync<T>(fn: () => T): T;
  /** Rows left the unsent set: the oldest-unsent time and waiting appenders must look again. */
  changed(): void;
  /** Runs a write that may wait for a full disk (disk-guard.ts); false when it was kept for later. */
  deferWrite(write: () => void, giveUp: () => void): boolean;
}

export class LeaseOps {
  constructor(private readonly h: LeaseHost) {}

  /**
   * The oldest unsent, unleased rows with id >= minId, ascending, up to maxRecords and
   * maxBytes (at least one row); with `olderToo`, then the oldest below minId to fill the
   * batch. Null when there is nothing to send. No disk write.
   */
  lease(req: LeaseRequest): Lease | null {
    const { rec, sent } = this.h.files();
    const found = readLease(rec, this.h.book, sent, this.h.lastId(), req);
    if (found === null) return null;
    const leaseId = this.h.book.add(found.runs, found.count, found.bytes);
    return this.leaseObject(leaseId, found);
  }

  /**
   * Marks the lease's rows sent (all, or only `ids`) in one transaction and frees them.
   * Returns the rows marked. An unknown or finished lease (e.g. from before a restart) is
   * ignored: its rows are simply sent again, which the server's idempotent inserts absorb.
   */
  ack(lease: Lease, ids?: readonly number[]): number {
    const { rec, sent } = this.h.files();
    const state = this.h.book.get(lease.leaseId);
    if (!state) return 0;
    const at = this.h.now();
    let runs = state.runs;
    let n = state.count;
    let b = state.bytes;
    let acked: number[] | null = null;
    if (ids !== undefined || state.gone.size > 0) {
      // Only some rows: runs over exactly those, so that none covers a row still unsent.
      const want = ids === undefined ? null : new Set(ids);
      const take = (r: QueuedRecord): boolean => !state.gone.has(r.id) && (want === null || want.has(r.id));
      const rows = lease.records.filter(take);
      runs = runsOfRows(state.runs, lease.records, take);
      acked = rows.map((r) => r.id);
      n = rows.length;
      b = rows.reduce((sum, r) => sum + r.bytes, 0);
    }
    const record = (): void => {
      this.h.withoutFsync(() =>
        this.h.write('ack', () => {
          // Read from the file, not the lease: the runs hold exactly the acked rows, and what a
          // row counts stored (its block's share) is fixed once it is in a block.
          let stored = 0;
          for (const r of runs) stored += rec.storedIn(r.lo, r.hi);
          for (const r of runs) sent.add(r.lo, r.hi, at);
          this.h.writer().moveCounts(-n, -b, n, b, -stored, stored);
          this.h.counters.add(MetaKeys.SENT, n);
          this.h.writer().txBytes += 24 * runs.length;
        }),
      );
      if (acked !== null) this.h.book.drop(lease.leaseId, acked, b);
      if (acked === null || state.count === 0) this.h.book.end(lease.leaseId);
      this.advanceCursorPast(this.h.now());
      this.h.changed();
    };
    // On a full disk the ack waits in memory and its rows stay leased, so they are not sent
    // again meanwhile; given up (too many waiting), they go back to the pool.
    this.h.deferWrite(record, () => this.h.book.end(lease.leaseId));
    return n;
  }

  private leaseObject(leaseId: number, found: ReadLease): Lease {
    let records = found.records;
    const load = (): QueuedRecord[] => {
      const state = this.h.book.get(leaseId);
      return leaseRows(this.h.files().rec, found.runs, state?.gone ?? new Set());
    };
    let payload: string | null | undefined;
    return {
      leaseId,
      count: found.count,
      bytes: found.bytes,
      escaped: found.escaped,
      get payload(): string | null {
        if (payload === undefined) payload = found.escaped === null ? null : unescapeParts(found.escaped);
        return payload;
      },
      last: found.last,
      // Encoded leases read their rows only when the sender needs them (a failure, a split).
      get records(): readonly QueuedRecord[] {
        return (records ??= load());
      },
    };
  }

  /**
   * Moves leased rows that the server cannot take (poison isolation) to the dead letters,
   * in one transaction, and takes them out of the lease. Returns how many moved.
   */
  deadLetterLeased(lease: Lease, ids: readonly number[], reason: string): number {
    const { rec, dead } = this.h.files();
    const state = this.h.book.get(lease.leaseId);
    if (!state) return 0;
    const inLease = (id: number): boolean => !state.gone.has(id) && state.runs.some((r) => r.lo <= id && id <= r.hi);
    const target = [...new Set(ids)].filter(inLease);
    const at = this.h.now();
    let purged = 0;
    let bytes = 0;
    const moved = this.h.write('deadLetterLeased', () => {
      let n = 0;
      for (const id of target) {
        const row = rec.rowById(id);
        if (!row) continue;
        const record = { col: row.col, doc: row.doc, ts: row.ts, data: row.data };
        const stored = rec.storedIn(id, id);
        this.h.writer().txBytes += dead.add([{ reason, source: 'sender', record }], at);
        this.h.writer().txBytes += rec.deleteRange(id, id);
        this.h.writer().moveCounts(-1, -row.bytes, 0, 0, -stored, 0);
        bytes += row.bytes;
        n += 1;
      }
      this.h.counters.add(MetaKeys.DEAD_LETTERED, n);
      purged = this.h.dl.enforceCapInTxn();
      return n;
    });
    this.h.dl.emitCap(purged);
    this.h.book.drop(lease.leaseId, target, bytes);
    if (state.count === 0) this.h.book.end(lease.leaseId);
    this.h.changed();
    return moved;
  }

  /** Moves the cursor to the first unsent row; returns its enqueue time (null if none). */
  advanceCursor(): number | null {
    const { rec, sent } = this.h.files();
    const lastId = this.h.lastId();
    let pos = this.h.book.cursor;
    let found: IdBytes | undefined;
    while (pos <= lastId && found === undefined) {
      const s = sent.from(pos);
      if (s !== undefined && s.lo <= pos) {
        pos = s.hi + 1;
        continue;
      }
      const to = s === undefined ? lastId : s.lo - 1;
      found = rec.firstIn(pos, to);
      pos = to + 1;
    }
    this.h.book.cursor = found?.id ?? lastId + 1;
    sent.trimBelow(this.h.book.cursor, this.h.now());
    return found?.enqueuedAt ?? null;
  }

  /** After an ack: moves the cursor over sent runs that start at it (no file read). */
  private advanceCursorPast(now: number): void {
    const { sent } = this.h.files();
    for (let s = sent.from(this.h.book.cursor); s !== undefined && s.lo <= this.h.book.cursor; s = sent.from(this.h.book.cursor)) {
      this.h.book.cursor = s.hi + 1;
    }
    sent.trimBelow(this.h.book.cursor, now);
  }


  /** Rows acked at or after `sentSinceMs`, ascending id, in pages of at most PAGE_SCAN_SPAN ids. */
  resendCandidates(sentSinceMs: number, opts: { afterId?: number; limit: number }): RecordPage<SentRecord> {
    const { rec, sent } = this.h.files();
    const lastId = this.h.lastId();
    let after = opts.afterId ?? 0;
    if (after === 0) {
      const min = sent.minIdSince(sentSinceMs);
      if (min === null) return { rows: [], nextAfterId: lastId, done: true };
      after = min - 1;
    }
    const to = after + PAGE_SCAN_SPAN;
    const rows = rec.resendRows(after, to, sentSinceMs, opts.limit);
    const nextAfterId = rows.length >= opts.limit ? rows[rows.length - 1]!.id : Math.min(to, lastId);
    return { rows, nextAfterId, done: nextAfterId >= lastId };
  }
}
