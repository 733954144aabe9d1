/**
 * Commit groups staged in the staging log (stage-log.ts) and moved into SQLite now and then.
 *
 * While no sender leases (FluxionDB unreachable: the flash-wear and outage case), an append
 * that needs no drop writes its group to the log, one page, fsynced with `synchronous: full`,
 * and is committed when it returns: ids, caps and counters are handled in memory as for a
 * SQLite append. A flush moves every staged row into SQLite in one transaction, as blocks
 * (block-store.ts), with the counters written once: every `flushMs`, when the log holds
 * STAGE_MAX_ROWS rows or STAGE_MAX_FILE_BYTES bytes, before any read of rows from SQLite and
 * any other write to it (the queue calls `flush` first) and at stop. While a sender leases,
 * appends go straight to SQLite as before: its rows would be flushed at the next lease anyway.
 * The log is tied to its queue file by `meta.stage_file_id`.
 *
 * Crash safety: `meta` never counts staged rows (the counters are written less what is
 * staged, `lessInMeta`), and `meta.stage_through` is the highest id whose row SQLite holds
 * or held. Recovery at start takes the log's valid records above that id, counts them as
 * appended and flushes them; a crash between a flush's commit and the log's rewind leaves
 * records at or below it, which are skipped: nothing is stored twice.
 */
import type { FluxionRecord } from '../client/types.js';
import { AgentError, ErrorCodes } from '../errors.js';
import type { BlockRow } from './block-codec.js';
import { BLOCK_ROWS, writeBlock } from './compaction.js';
import type { QueueCounters } from './counters.js';
import { recordBytes } from './record-bytes.js';
import type { RecordStore } from './record-store.js';
import type { RecordWriter } from './record-writer.js';
import { MetaKeys } from './schema.js';
import { StageLog, STAGE_PAGE } from './stage-log.js';
import type { AppendResult, QueueLogger } from './types.js';

/** Staged rows that make a flush at once: bounds memory and the size of one flush. */
export const STAGE_MAX_ROWS = 20_000;
/** Bytes of staging log that make a flush at once: the log is rewound and reused, so this bounds its size on disk. */
export const STAGE_MAX_FILE_BYTES = 1024 * 1024;
/**
 * Groups are staged only while the disk has this much room (free, and below maxFileBytes):
 * a flush must find room in SQLite, and near a full disk appends go straight to SQLite,
 * where the disk guard handles a refusal as before (disk-guard.ts).
 */
export const STAGE_MIN_ROOM_BYTES = 32 * STAGE_MAX_FILE_BYTES;
/** Least time between two warnings about the staging log, in ms. */
const WARN_EVERY_MS = 10_000;

export interface StageHost {
  rec(): RecordStore;
  writer(): RecordWriter;
  counters: QueueCounters;
  /** The queue's transaction (rolls memory back on failure). */
  write<T>(op: string, fn: () => T): T;
  /** Staged rows are now in the file (the queue's cached oldest-unsent time must look again). */
  flushed(): void;
  /** True when the disk has room to stage (and to give the log its size). */
  roomy(): boolean;
  /** Runs a write under the disk guard (makes room on SQLITE_FULL and retries). */
  onDisk<T>(fn: () => T): T;
  now(): number;
  logger: QueueLogger | undefined;
}

export class Stager {
  private rows: BlockRow[] = [];
  private rowBytes = 0;
  private flushing = false;
  private lastLeaseAt = -Infinity;
  private lastWarnAt = -Infinity;
  /** The last flush failed: appends go to SQLite (and fail there) until one succeeds. */
  private stuck = false;
  private fileId = 0;
  private own = false;
  private log: StageLog | null = null;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly path: string,
    /** Flush interval in ms; 0: appends are not staged (a log left by a crash is still recovered). */
    private readonly flushMs: number,
    private readonly sync: boolean,
    private readonly h: StageHost,
  ) {}

  /** Rows staged and not yet in SQLite. */
  get size(): number {
    return this.rows.length;
  }

  /** The highest id SQLite may hold: readers of the file look no further. */
  storedLastId(lastId: number): number {
    return this.rows.length === 0 ? lastId : this.rows[0]!.id - 1;
  }

  /** Enqueue time of the oldest staged row (the oldest unsent one when SQLite holds none). */
  oldestAt(): number | null {
    return this.rows[0]?.enqueuedAt ?? null;
  }

  /** What `meta` must hold less than memory for `key`: the staged rows are not in the file yet. */
  lessInMeta(key: string): number {
    if (this.flushing || this.rows.length === 0) return 0;
    if (key === MetaKeys.UNSENT_ROWS || key === MetaKeys.APPENDED) return this.rows.length;
    // Staged rows count their logical size as stored bytes until a flush makes them a block.
    if (key === MetaKeys.UNSENT_BYTES || key === MetaKeys.UNSENT_STORED) return this.rowBytes;
    return 0;
  }

  /** The bound to keep in `meta.stage_through` with this transaction, or null to leave it. */
  storedThrough(lastId: number): number | null {
    return this.flushing || this.rows.length === 0 ? lastId : null;
  }

  /**
   * Opens the log and recovers what it holds above `bound` (the ids SQLite holds or held):
   * counted as appended, then flushed. `own`: this queue stages appends (else the log is
   * emptied and closed). Returns the rows recovered.
   */
  open(bound: number, own: boolean, fileId: number): number {
    this.fileId = fileId;
    this.own = own && this.flushMs > 0;
    const log = new StageLog(this.path, this.sync, undefined, this.own ? STAGE_MAX_FILE_BYTES + 16 * STAGE_PAGE : 0);
    let records;
    try {
      records = log.open();
    } catch (err) {
      log.close();
      throw new AgentError(ErrorCodes.QUEUE_IO, `cannot read the staging log ${this.path}`, { cause: err });
    }
    this.log = log;
    const w = this.h.writer();
    if (records.some((r) => r.fileId !== fileId)) {
      // Left by a file that was deleted or replaced (e.g. moved aside as corrupt): kept for salvage, never replayed here.
      const to = `${this.path}.orphan-${new Date(this.h.now()).toISOString().replace(/[:.]/g, '-')}`;
      try {
        log.moveAside(to);
        this.h.logger?.warn({ movedTo: to }, 'queue: the staging log belongs to another queue file; moved aside');
      } catch (err) {
        this.h.logger?.warn({ err }, 'queue: the staging log belongs to another queue file and could not be moved aside; it is not replayed');
      }
    }
    let next = bound + 1;
    for (const r of records) {
      // Records of an earlier cycle left behind the newest ones (their ids are in SQLite), or
      // of another file (this one was deleted or replaced: 0 = a file without an id).
      if (r.firstId < next || r.fileId !== fileId || fileId === 0) continue;
      for (let k = 0; k < r.lines.length; k++) {
        const row = JSON.parse(r.lines[k]!) as FluxionRecord;
        const bytes = recordBytes(row);
        this.rows.push({ id: r.firstId + k, enqueuedAt: r.enqueuedAt, bytes, json: r.lines[k]! });
        this.rowBytes += bytes;
      }
      next = r.firstId + r.lines.length;
    }
    const n = this.rows.length;
    if (n > 0) {
      w.lastId = Math.max(w.lastId, next - 1);
      w.moveCounts(n, this.rowBytes, 0, 0);
      this.h.counters.add(MetaKeys.APPENDED, n);
      this.h.logger?.info({ rows: n }, 'queue: recovered readings from the staging log');
      this.flushQuietly('recovery');
    }
    // What is left is at or below stage_through: emptied (reset also gives an owned log its size).
    if (this.rows.length === 0) this.reset();
    if (!own && this.rows.length === 0) this.close();
    else if (own && this.flushMs > 0) {
      this.timer = setInterval(() => this.flushQuietly('timer'), this.flushMs);
      this.timer.unref();
    }
    return n;
  }

  /** A sender leased: appends go straight to SQLite for a while (their rows leave soon). */
  leased(): void {
    this.lastLeaseAt = this.h.now();
  }

  /** True when an append should be staged: the log is open and owned, and no sender is leasing. */
  wanted(): boolean {
    return this.log !== null && this.timer !== undefined && !this.stuck && this.fileId !== 0 && this.h.now() - this.lastLeaseAt >= this.flushMs;
  }

  /**
   * Stages a group that fits the caps without a drop (RecordWriter.fits): ids and counters
   * as an append, the group written and made durable. Null when the log refused it (a full
   * disk, an I/O error): nothing was stored, memory is as before.
   */
  append(records: readonly FluxionRecord[]): AppendResult | null {
    const c = this.h.counters;
    const w = this.h.writer();
    const snap = c.snapshot();
    const lastId = w.lastId;
    const at = this.h.now();
    const rows = w.stageRows(records, at);
    try {
      const written = this.log!.append({ fileId: this.fileId, firstId: rows[0]!.id, enqueuedAt: at, lines: rows.map((r) => r.json) });
      c.add(MetaKeys.BYTES_WRITTEN, Math.ceil(written / STAGE_PAGE) * STAGE_PAGE);
    } catch (err) {
      c.restore(snap);
      w.lastId = lastId;
      this.log!.spoilTail();
      this.warn({ err }, 'queue: the staging log refused a commit group; it goes to SQLite');
      return null;
    }
    for (const r of rows) {
      this.rows.push(r);
      this.rowBytes += r.bytes;
    }
    if (this.rows.length >= STAGE_MAX_ROWS || this.log!.bytes >= STAGE_MAX_FILE_BYTES) this.flushQuietly('size');
    return { accepted: rows.length, rejected: 0, dropped: 0, droppedByReason: {}, invalid: 0 };
  }

  /**
   * Moves the staged rows into SQLite in one transaction, as blocks, and rewinds the log.
   * Throws (EDGE_ERR_QUEUE_DISK_FULL, ...) when SQLite refused them: they stay staged.
   */
  flush(): void {
    if (this.rows.length === 0) return;
    const rows = this.rows;
    const c = this.h.counters;
    this.stuck = true;
    this.h.onDisk(() => {
      try {
        this.h.write('stageFlush', () => {
          this.flushing = true;
          this.h.writer().txBytes += storeRows(this.h.rec(), c, rows);
          // Written whole now: meta held them less the staged rows.
          c.touch(MetaKeys.UNSENT_ROWS);
          c.touch(MetaKeys.UNSENT_BYTES);
          c.touch(MetaKeys.UNSENT_STORED);
          c.touch(MetaKeys.APPENDED);
        });
      } finally {
        this.flushing = false;
      }
      // Committed: from here on they are the file's (the disk guard may write deferred acks
      // before onDisk returns, and their meta must count these rows).
      this.rows = [];
      this.rowBytes = 0;
      this.stuck = false;
      this.h.flushed();
    });
    if (this.log?.needsReset === true) this.reset();
    else this.log?.rewind();
  }

  /** flush(), a failure logged (at a bounded rate): the rows stay staged and are tried again later. */
  flushQuietly(why: string): boolean {
    try {
      this.flush();
      return true;
    } catch (err) {
      this.warn({ err, why, staged: this.rows.length }, 'queue: could not move staged readings into the queue file; they stay in the staging log');
      return false;
    }
  }

  /** Flushes (what a failed flush leaves is recovered at the next start) and closes. */
  close(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    if (this.log === null) return;
    // Emptied once flushed: a log left beside a file is then always one a crash left.
    if (this.flushQuietly('stop')) {
      try {
        this.log.truncate();
      } catch {
        // Its records are at or below stage_through: skipped at the next start.
      }
    }
    this.log.close();
    this.log = null;
    this.rows = [];
    this.rowBytes = 0;
  }

  /** Empties the log once nothing in it is needed; a failure is harmless (its ids are at or below stage_through). */
  private reset(): void {
    try {
      // Given its size only on a disk with room (a tight one keeps every byte for SQLite).
      this.log?.reset(this.own && this.h.roomy());
    } catch (err) {
      this.warn({ err }, 'queue: could not empty the staging log');
    }
  }

  private warn(obj: Record<string, unknown>, msg: string): void {
    const t = this.h.now();
    if (t - this.lastWarnAt < WARN_EVERY_MS) return;
    this.lastWarnAt = t;
    this.h.logger?.warn(obj, msg);
  }
}

/** Fewest staged rows a flush stores as a block. */
export const MIN_BLOCK_ROWS = 100;

/** Stores staged rows as blocks of at most BLOCK_ROWS (rows of their own on a file older than blocks); returns bytes written (an estimate). */
function storeRows(rec: RecordStore, counters: QueueCounters, rows: readonly BlockRow[]): number {
  let written = 0;
  // A handful of rows makes a block that compresses poorly (its fixed cost shared by few
  // rows would count more than the rows themselves): those stay rows, as appends make them.
  if (rec.blocks.enabled && rows.length >= MIN_BLOCK_ROWS) {
    // writeBlock: the stored-bytes counter takes the block's share instead of the logical size.
    for (let i = 0; i < rows.length; i += BLOCK_ROWS) written += writeBlock(rec, counters, rows.slice(i, i + BLOCK_ROWS));
    return written;
  }
  for (const r of rows) {
    const x = JSON.parse(r.json) as FluxionRecord;
    rec.insert.run(r.id, x.col, x.doc, x.ts, x.data, r.bytes, r.enqueuedAt);
    written += r.bytes + 24;
  }
  return written;
}
