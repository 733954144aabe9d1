/**
 * Reading a lease out of the file: the oldest free unsent rows, in the gaps between leased
 * and sent runs. The common case costs one statement per gap and almost nothing per row in
 * JavaScript: SQLite encodes the rows into the `ins` payload itself (record-store.ts
 * `batchIn`); append() let only valid records in. A byte cap that cuts a batch short takes
 * the row-by-row path.
 *
 * A request with `minId` and `olderToo` (live_first) reads the rows at or above `minId`
 * first, then fills the rest of the batch with the oldest rows below it: a few live readings
 * and a slice of the backlog go as one insert instead of a small batch and a full one (each
 * with its round trip, window slot and ack transaction). The rows keep that order in the
 * payload, in `records` and in `runs` (ascending id within each part).
 */
import type { FluxionRecord } from '../client/types.js';
import type { LeaseBook, LeaseRun } from './leases.js';
import { escapedArray, type EncodedChunk, type RecordStore } from './record-store.js';
import type { SentRuns } from './sent-runs.js';
import type { LeaseRequest, QueuedRecord } from './types.js';

export interface ReadLease {
  runs: LeaseRun[];
  count: number;
  bytes: number;
  /**
   * The rows as one JSON array for `ins`, JSON-escaped (the frame's `data` inside its quotes),
   * in parts; null on the row-by-row path (`records` is set).
   */
  escaped: Buffer[] | null;
  records: QueuedRecord[] | null;
  last: FluxionRecord;
}

/** Where a lease scan reads and how much it takes. */
interface Scan {
  rec: RecordStore;
  book: LeaseBook;
  sent: SentRuns;
  lastId: number;
  start: number;
  /** Also take rows below `start`, after those at or above it. */
  olderToo: boolean;
  maxRecords: number;
  maxBytes: number;
}

/** The free id intervals a scan reads, in order: from `start` up, then (olderToo) below it. */
function* scanGaps({ book, sent, lastId, start, olderToo }: Scan): Generator<[number, number]> {
  yield* book.gaps(start, lastId, sent);
  if (olderToo && start > 1) yield* book.gaps(1, Math.min(start - 1, lastId), sent);
}

export function readLease(rec: RecordStore, book: LeaseBook, sent: SentRuns, lastId: number, req: LeaseRequest): ReadLease | null {
  const start = Math.max(req.minId ?? 0, 1);
  const scan: Scan = { rec, book, sent, lastId, start, olderToo: req.olderToo === true, maxRecords: Math.max(1, Math.floor(req.maxRecords)), maxBytes: req.maxBytes };
  const encoded = readEncoded(scan);
  return encoded === 'rows' ? readRows(scan) : encoded;
}

function readEncoded(scan: Scan): ReadLease | null | 'rows' {
  const { rec, maxRecords, maxBytes } = scan;
  const chunks: EncodedChunk[] = [];
  const runs: LeaseRun[] = [];
  let count = 0;
  let bytes = 0;
  let newest: EncodedChunk | undefined;
  for (const [from, to] of scanGaps(scan)) {
    // Ids are dense (rows are appended with consecutive ids and leave oldest first), so a
    // range of as many ids as rows wanted holds about that many rows.
    let pos = from;
    while (pos <= to && count < maxRecords) {
      const end = Math.min(to, pos + (maxRecords - count) - 1);
      const c = rec.batchIn(pos, end);
      if (c === null) {
        const next = rec.firstIn(end + 1, to);
        pos = next?.id ?? to + 1;
        continue;
      }
      if (count + c.count > 1 && bytes + c.bytes > maxBytes) return 'rows';
      chunks.push(c);
      if (newest === undefined || c.lastId > newest.lastId) newest = c;
      const prev = runs[runs.length - 1];
      if (prev !== undefined && prev.hi + 1 === pos) prev.hi = end;
      else runs.push({ lo: pos, hi: end });
      count += c.count;
      bytes += c.bytes;
      pos = end + 1;
    }
    if (count >= maxRecords) break;
  }
  if (count === 0) return null;
  const escaped = escapedArray(chunks);
  return { runs, count, bytes, escaped, records: null, last: newest!.last };
}

function readRows(scan: Scan): ReadLease | null {
  const { rec, maxRecords, maxBytes } = scan;
  const taken: QueuedRecord[] = [];
  const runs: LeaseRun[] = [];
  let bytes = 0;
  let newest: QueuedRecord | undefined;
  read: for (const [from, to] of scanGaps(scan)) {
    const rows = rec.rowsIn(from, to, maxRecords - taken.length);
    let run: LeaseRun | undefined;
    for (const row of rows) {
      if (taken.length > 0 && bytes + row.bytes > maxBytes) break read;
      taken.push(row);
      if (newest === undefined || row.id > newest.id) newest = row;
      bytes += row.bytes;
      if (run) run.hi = row.id;
      else runs.push((run = { lo: from, hi: row.id }));
    }
    if (taken.length >= maxRecords) break;
  }
  if (taken.length === 0) return null;
  return { runs, count: taken.length, bytes, escaped: null, records: taken, last: newest! };
}

/** The rows of a lease still held, read back from the file (ascending id). */
export function leaseRows(rec: RecordStore, runs: readonly LeaseRun[], gone: ReadonlySet<number>): QueuedRecord[] {
  const out: QueuedRecord[] = [];
  for (const r of runs) {
    for (const row of rec.rowsIn(r.lo, r.hi, Number.MAX_SAFE_INTEGER)) if (!gone.has(row.id)) out.push(row);
  }
  return out;
}

/**
 * Sent runs for some rows of a lease: maximal stretches of rows that `include` takes and
 * that follow one another inside one lease run (a stretch never spans another lease's run).
 */
export function runsOfRows(leaseRuns: readonly LeaseRun[], rows: readonly QueuedRecord[], include: (r: QueuedRecord) => boolean): LeaseRun[] {
  const out: LeaseRun[] = [];
  for (const lr of leaseRuns) {
    let cur: LeaseRun | undefined;
    for (const row of rows) {
      if (row.id < lr.lo || row.id > lr.hi) continue;
      if (!include(row)) {
        cur = undefined;
        continue;
      }
      if (cur) cur.hi = row.id;
      else out.push((cur = { lo: row.id, hi: row.id }));
    }
  }
  return out;
}
