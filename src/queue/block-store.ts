/**
 * The `blocks` table (schema 6): rows of the queue stored many to one row, each block
 * covering the id range [first_id, last_id] (block-codec.ts). Ids stay the unit of identity:
 * an id lives either in `records` or in exactly one block, and block ranges are disjoint, so
 * sent runs and leases, which address id ranges, need not know where a row is stored.
 * Blocks are made by compaction (compaction.ts) from unsent, unleased `records` rows.
 */
import type { Database, Statement } from 'better-sqlite3';
import { decodeBlock, encodeBlock, type BlockRow, type DecodedBlock } from './block-codec.js';
import type { QueuedRecord } from './types.js';

export interface BlockHead {
  first: number;
  last: number;
  n: number;
  /**
   * What the block's rows count against the byte cap, in all: a block made by this agent
   * (format 2) stores its share per row times `n`, the share being its stored size (body and
   * row overhead) over its rows, rounded up; a format 1 block (older) the sum of their logical sizes.
   */
  bytes: number;
}

/** A block just stored: bytes written, what its rows now count against the cap (stored) and what they counted as rows (logical). */
export interface StoredBlock {
  written: number;
  stored: number;
  logical: number;
}

/** Bytes a `blocks` row takes beside its body: record header, key and the small columns. */
const ROW_OVERHEAD = 40;

/**
 * Decoded blocks kept by default (QueueOptions.decodedBlocks; about 0.3 MB each for 1,667
 * readings): a lease reads a block in a few
 * slices, one after the other, and its ack reads the block again. With live readings arriving
 * a lease also reads their newest blocks (staged groups): with 4 kept, 11% of a 2,000,000
 * drain's blocks were inflated twice; with 8, none (outage-day bench). Since the sender keeps
 * 8 batches in flight, an ack comes back after the leases of 7 more batches: with 8 kept, the
 * acks' inflates took 4-5% of the agent's CPU in the live drain (a profile); with 16, none.
 */
export const DEFAULT_DECODED_BLOCKS = 16;
/** At most this many (about 80 MB): past it, a very wide window costs CPU (blocks inflated again), not memory. */
export const MAX_DECODED_BLOCKS = 256;

export class BlockStore {
  /** False on a file whose schema predates blocks (a read-only view of an older file). */
  readonly enabled: boolean;
  private readonly overlapStmt?: Statement;
  private readonly bodyStmt?: Statement;
  private readonly insertStmt?: Statement;
  private readonly deleteStmt?: Statement;
  private readonly maxStmt?: Statement;
  private readonly minStmt?: Statement;
  private readonly cache = new Map<string, DecodedBlock>();
  #inflates = 0;

  constructor(
    db: Database,
    /** How many decoded blocks are kept (QueueOptions.decodedBlocks). */
    private readonly cacheBlocks = DEFAULT_DECODED_BLOCKS,
  ) {
    this.enabled = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'blocks'").get() !== undefined;
    if (!this.enabled) return;
    // The block holding `from` (the last to start at or before it), then those starting in range.
    // No LIMIT clause: with one (even bound to the largest integer) the same plan took 13-18 us
    // a call instead of 5-6 on a drained file, and a lease and its ack make several calls. A
    // caller's limit stops the iteration instead.
    this.overlapStmt = db.prepare(
      `SELECT first_id AS first, last_id AS last, n, bytes FROM blocks
       WHERE first_id >= coalesce((SELECT first_id FROM blocks WHERE first_id <= @from ORDER BY first_id DESC LIMIT 1), @from)
         AND first_id <= @to AND last_id >= @from ORDER BY first_id`,
    );
    this.bodyStmt = db.prepare('SELECT body FROM blocks WHERE first_id = ?').pluck();
    this.insertStmt = db.prepare('INSERT INTO blocks(first_id, last_id, n, bytes, min_enq, max_enq, body) VALUES (?, ?, ?, ?, ?, ?, ?)');
    this.deleteStmt = db.prepare('DELETE FROM blocks WHERE first_id = ?');
    this.maxStmt = db.prepare('SELECT max(last_id) FROM blocks').pluck();
    this.minStmt = db.prepare('SELECT min(first_id) FROM blocks').pluck();
  }

  /** Blocks overlapping [from, to], ascending. */
  overlapping(from: number, to: number, limit = Number.MAX_SAFE_INTEGER): BlockHead[] {
    if (!this.enabled || to < from || limit < 1) return [];
    if (limit === Number.MAX_SAFE_INTEGER) return this.overlapStmt!.all({ from, to }) as BlockHead[];
    const out: BlockHead[] = [];
    for (const h of this.overlappingLazy(from, to)) {
      out.push(h);
      if (out.length >= limit) break;
    }
    return out;
  }

  /**
   * Blocks overlapping [from, to], ascending, read lazily: a caller that needs the first row
   * or two of a range reaching to the end of a day's backlog (thousands of blocks) stops early.
   * No write may happen while it is open (better-sqlite3 refuses them).
   */
  *overlappingLazy(from: number, to: number): Generator<BlockHead> {
    if (!this.enabled || to < from) return;
    yield* this.overlapStmt!.iterate({ from, to }) as IterableIterator<BlockHead>;
  }

  /** Blocks inflated so far (a block read again after it left the cache counts again). */
  get inflates(): number {
    return this.#inflates;
  }

  decoded(h: BlockHead): DecodedBlock {
    const key = `${h.first}:${h.last}:${h.n}`;
    let d = this.cache.get(key);
    if (d !== undefined) {
      this.cache.delete(key);
      this.cache.set(key, d);
      return d;
    }
    d = decodeBlock(this.bodyStmt!.get(h.first) as Buffer);
    this.#inflates++;
    if (d.version >= 2) d.share = h.bytes / h.n;
    this.cache.set(key, d);
    if (this.cache.size > this.cacheBlocks) this.cache.delete(this.cache.keys().next().value!);
    return d;
  }

  /**
   * The block rows of [from, to] as slices of comma-joined `ins` JSON objects, JSON-escaped
   * (one slice per block, DecodedBlock.escaped), with their count, bytes and last row; null
   * when blocks hold none of them. `heads`: the blocks overlapping [from, to] when the caller
   * has just read them.
   */
  fragments(
    from: number,
    to: number,
    heads: readonly BlockHead[] = this.overlapping(from, to),
  ): { parts: Buffer[]; count: number; bytes: number; lastId: number; last: QueuedRecord } | null {
    const parts: Buffer[] = [];
    let count = 0;
    let bytes = 0;
    let lastBlock: DecodedBlock | undefined;
    let lastK = -1;
    for (const h of heads) {
      const d = this.decoded(h);
      const a = d.indexOf(from);
      const end = d.indexOf(to + 1);
      if (a >= end) continue;
      parts.push(d.escaped(a, end));
      count += end - a;
      for (let k = a; k < end; k++) bytes += d.bytes[k]!;
      lastBlock = d;
      lastK = end - 1;
    }
    if (lastBlock === undefined) return null;
    return { parts, count, bytes, lastId: lastBlock.ids[lastK]!, last: lastBlock.row(lastK) };
  }

  /** id, bytes, stored bytes, enqueuedAt of the block rows in [from, to], ascending, at most `limit`. */
  lightIn(from: number, to: number, limit: number): Array<{ id: number; bytes: number; stored: number; enqueuedAt: number }> {
    const out: Array<{ id: number; bytes: number; stored: number; enqueuedAt: number }> = [];
    for (const h of this.overlappingLazy(from, to)) {
      const d = this.decoded(h);
      const end = d.indexOf(to + 1);
      for (let k = d.indexOf(from); k < end; k++) {
        if (out.length >= limit) return out;
        out.push({ id: d.ids[k]!, bytes: d.bytes[k]!, stored: d.stored(k), enqueuedAt: d.enq[k]! });
      }
    }
    return out;
  }

  /** What the block rows in [from, to] count against the byte cap (stored bytes). */
  storedIn(from: number, to: number): number {
    let s = 0;
    for (const h of this.overlapping(from, to)) {
      if (h.first >= from && h.last <= to) {
        s += h.bytes;
        continue;
      }
      const d = this.decoded(h);
      s += d.storedOf(d.indexOf(from), d.indexOf(to + 1));
    }
    return s;
  }

  /** The rows of blocks in [from, to], ascending, at most `limit`. */
  rowsIn(from: number, to: number, limit: number): QueuedRecord[] {
    const out: QueuedRecord[] = [];
    for (const h of this.overlappingLazy(from, to)) {
      const d = this.decoded(h);
      const end = d.indexOf(to + 1);
      for (let k = d.indexOf(from); k < end; k++) {
        if (out.length >= limit) return out;
        out.push(d.row(k));
      }
    }
    return out;
  }

  /**
   * Stores rows (ascending id, at least one) as one block. Its rows then count against the
   * byte cap by its stored size: the caller moves the counters from `logical` to `stored`
   * (compaction.ts `writeBlock`). `keep` (a rewrite) keeps the share and format of the block
   * the rows come from, so rows that stay count what they counted before.
   */
  insert(rows: readonly BlockRow[], keep?: { version: number; share: number | null }): StoredBlock {
    const body = encodeBlock(rows, keep?.version);
    let logical = 0;
    let minEnq = Infinity;
    let maxEnq = -Infinity;
    for (const r of rows) {
      logical += r.bytes;
      if (r.enqueuedAt < minEnq) minEnq = r.enqueuedAt;
      if (r.enqueuedAt > maxEnq) maxEnq = r.enqueuedAt;
    }
    const written = body.length + ROW_OVERHEAD;
    const share = keep === undefined ? Math.ceil(written / rows.length) : keep.share;
    const stored = share === null ? logical : share * rows.length;
    this.insertStmt!.run(rows[0]!.id, rows[rows.length - 1]!.id, rows.length, stored, minEnq, maxEnq, body);
    return { written, stored, logical };
  }

  /**
   * Deletes the rows of blocks in [from, to]: blocks inside go whole, a block reaching out
   * of the range is rewritten without them (its rows keep their share: counters stay exact
   * without knowing which of the kept rows are sent). Returns rows and stored bytes removed,
   * and bytes written.
   */
  deleteRange(from: number, to: number): { rows: number; stored: number; written: number } {
    let rows = 0;
    let stored = 0;
    let written = 0;
    for (const h of this.overlapping(from, to)) {
      this.forget(h);
      if (h.first >= from && h.last <= to) {
        this.deleteStmt!.run(h.first);
        rows += h.n;
        stored += h.bytes;
        written += ROW_OVERHEAD;
        continue;
      }
      const d = this.decoded(h);
      this.forget(h);
      const keep: BlockRow[] = [];
      for (let k = 0; k < d.n; k++) {
        const id = d.ids[k]!;
        if (id < from || id > to) keep.push(d.blockRow(k));
        else {
          rows++;
          stored += d.stored(k);
        }
      }
      this.deleteStmt!.run(h.first);
      if (keep.length > 0) written += this.insert(keep, { version: d.version, share: d.share }).written;
    }
    return { rows, stored, written };
  }

  maxId(): number | null {
    return this.enabled ? (this.maxStmt!.get() as number | null) : null;
  }

  minId(): number | null {
    return this.enabled ? (this.minStmt!.get() as number | null) : null;
  }

  private forget(h: BlockHead): void {
    this.cache.delete(`${h.first}:${h.last}:${h.n}`);
  }
}
