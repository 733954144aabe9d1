/**
 * What the queue does when its disk fills (issue 11 §2). A full disk must not wedge the
 * agent: SQLite then refuses every write, acks and deletes included, not only appends.
 *
 * On SQLITE_FULL, before anything is refused:
 * 1. the reserve file is deleted (disk-space.ts), so a checkpoint and a few deletes fit;
 * 2. the main file is confined to its size (`max_page_count`): from now on new rows reuse
 *    the pages of deleted rows, and a checkpoint never needs the filesystem to grow again;
 * 3. the WAL is checkpointed (and truncated, when the reserve was just freed);
 * 4. retained (already acked) rows are pruned, oldest acked first;
 * 5. the byte cap becomes what the file held (`RecordWriter.diskCap`), so the next appends
 *    prune retained rows and then apply `onFull`, exactly as at `maxBytes`.
 * A write that still fails throws EDGE_ERR_QUEUE_DISK_FULL (inputs hold their
 * acknowledgements, or count the reading as dropped), except acks: the server's answer is
 * kept in memory (its rows stay leased, so they are not sent again) and written when the
 * disk takes it; lost in a crash, it only costs a resend.
 *
 * Every housekeeping tick looks at the free space: once the filesystem has room for the
 * reserve twice over, the reserve is written again, the file is released and the cap
 * lifted. If the drain itself freed enough pages inside the confined file, the queue
 * reports itself no longer full while staying confined.
 */
import type { Database } from 'better-sqlite3';
import { AgentError, ErrorCodes } from '../errors.js';
import type { QueueCounters } from './counters.js';
import { DISK_PLAN, filesystemSpace, planDisk, queueFilesBytes, ReserveFile, type DiskPlan, type DiskStatus } from './disk-space.js';
import type { RecordWriter } from './record-writer.js';
import { MetaKeys } from './schema.js';

/** A write is tried at most this many times, making room before each retry. */
const ATTEMPTS = 3;
/** Least bytes of retained rows pruned to make room. */
const MIN_PRUNE_BYTES = 64 * 1024;
/** Acks kept in memory at most; beyond, the oldest is given up (its rows are sent again). */
const MAX_DEFERRED = 10_000;
/** The queue reports itself usable again from inside a confined file only after this long without SQLITE_FULL, in ms (no flapping). */
const QUIET_MS = 10_000;
/** Least time between two attempts to make room for deferred acks, in ms. */
const ROOM_RETRY_MS = 1000;
/** SQLite's largest page count: the `max_page_count` of a file that is not confined. */
const UNCONFINED_PAGES = 4294967294;

export interface DiskGuardHost {
  db(): Database;
  writer(): RecordWriter;
  counters: QueueCounters;
  /** The queue's transaction (rolls memory back on failure). */
  write<T>(op: string, fn: () => T): T;
  now(): number;
  /** The disk became full (true) or usable again (false). */
  changed(full: boolean, why: string): void;
}

/** A deferred write: the ack it records, and what to do if it is given up. */
interface Deferred {
  write(): void;
  giveUp(): void;
}

export class DiskGuard {
  full = false;
  fullEvents = 0;
  private plan: DiskPlan | null = null;
  private reserve: ReserveFile | null = null;
  private confined = false;
  private deferred: Deferred[] = [];
  private space: { freeBytes: number; totalBytes: number } | null = null;
  private lastFullAt = -Infinity;
  private lastRoomAt = -Infinity;

  constructor(
    private readonly path: string,
    private readonly maxFileBytes: number | undefined,
    private readonly h: DiskGuardHost,
  ) {}

  /** Sizes the queue from the space at start (before the file is opened); null when the filesystem cannot be asked. */
  planAtStart(): DiskPlan | null {
    const space = filesystemSpace(this.path);
    this.space = space;
    if (space === null) return null;
    // The queue's own files, and a reserve left by the previous run, are the queue's space too.
    const own = queueFilesBytes(this.path) + new ReserveFile(this.path, 0).sizeOnDisk();
    this.plan = planDisk(space.freeBytes + own);
    return this.plan;
  }

  /**
   * Opens the file with `open`; if that fails on a full disk and a reserve is left (a restart
   * on a disk that stayed full), frees the reserve and tries once more. Opening a WAL file
   * writes its -shm index and may write WAL pages.
   */
  open<T>(open: () => T): T {
    try {
      return open();
    } catch (err) {
      const code = String(((err as { cause?: { code?: unknown } } | null)?.cause as { code?: unknown } | undefined)?.code ?? '');
      const reserve = new ReserveFile(this.path, 0);
      const free = filesystemSpace(this.path)?.freeBytes ?? 0;
      const full = (code === 'SQLITE_FULL' || code.startsWith('SQLITE_IOERR')) && free < DISK_PLAN.openReserveBytes;
      if (!full || reserve.sizeOnDisk() === 0) throw err;
      reserve.release();
      return open();
    }
  }

  /** After the file is opened: the WAL's size and the reserve. */
  configure(): void {
    this.full = false;
    this.confined = false;
    this.h.writer().diskCap = Infinity;
    const plan = this.plan;
    if (plan === null) return;
    const db = this.h.db();
    const pageSize = db.pragma('page_size', { simple: true }) as number;
    db.pragma(`wal_autocheckpoint = ${plan.walPages}`);
    db.pragma(`journal_size_limit = ${plan.walPages * (pageSize + 24)}`);
    this.reserve = new ReserveFile(this.path, plan.reserveBytes);
    this.tick();
  }

  /**
   * Runs a write; on a full disk makes room and tries again (ATTEMPTS in all). Throws the
   * last EDGE_ERR_QUEUE_DISK_FULL when no room could be made. `needBytes`: what the write adds
   * (asked only on a full disk).
   */
  run<T>(fn: () => T, needBytes: () => number = () => 0): T {
    let full: AgentError | undefined;
    for (let attempt = 0; ; attempt++) {
      try {
        const out = fn();
        if (attempt > 0 || this.deferred.length > 0) this.flushDeferred();
        return out;
      } catch (err) {
        if (!isSqliteFull(err) || attempt + 1 >= ATTEMPTS) {
          // The cap that the full disk set refused it: still a full disk, caused by SQLite's refusal.
          if (full !== undefined && err instanceof AgentError && err.code === ErrorCodes.QUEUE_DISK_FULL && err.cause === undefined) {
            throw new AgentError(ErrorCodes.QUEUE_DISK_FULL, err.message, { cause: full.cause });
          }
          throw err;
        }
        full = err as AgentError;
        this.makeRoom(attempt, needBytes());
      }
    }
  }

  /**
   * Runs a write that may wait (an ack): when the disk refuses it even after making room,
   * it is kept in memory and retried later; returns false then. `giveUp` runs if it never
   * can be written (too many waiting).
   */
  runOrDefer(write: () => void, giveUp: () => void): boolean {
    if (this.deferred.length === 0) {
      try {
        this.run(write);
        return true;
      } catch (err) {
        if (!isSqliteFull(err)) throw err;
      }
      this.deferred.push({ write, giveUp });
      return false;
    }
    // Behind others: in order, after them, as far as the disk takes them now.
    this.deferred.push({ write, giveUp });
    if (this.deferred.length > MAX_DEFERRED) this.deferred.shift()!.giveUp();
    this.flushDeferred();
    return this.deferred.length === 0;
  }

  /**
   * Writes the deferred acks, in order, as far as the disk takes them; when it refuses,
   * makes room once (at most every ROOM_RETRY_MS, so a stream of acks on a hopeless disk
   * does not checkpoint and prune for each) and tries again.
   */
  flushDeferred(): void {
    let madeRoom = false;
    while (this.deferred.length > 0) {
      try {
        this.deferred[0]!.write();
      } catch (err) {
        if (!isSqliteFull(err)) {
          // Not a full disk: the ack cannot be written at all; its rows are sent again.
          this.deferred.shift()!.giveUp();
          continue;
        }
        if (madeRoom || this.h.now() - this.lastRoomAt < ROOM_RETRY_MS) return;
        madeRoom = true;
        this.makeRoom(0, 0);
        continue;
      }
      this.deferred.shift();
    }
  }

  /** Housekeeping: takes the reserve when the disk gets tight, lifts the confinement once space is back. */
  tick(): void {
    const reserve = this.reserve;
    if (reserve === null) return;
    const space = (this.space = filesystemSpace(this.path));
    if (space === null) return;
    if (!this.confined) {
      // A disk with plenty of room does not fill between two ticks; a tight one keeps the
      // reserve, and without one (no room to write it: e.g. a restart on a full disk) the file
      // may not grow, or a checkpoint could need room the disk does not have.
      if (space.freeBytes < DISK_PLAN.reserveWhenFreeBelow && !reserve.held() && !reserve.take()) this.confine();
      return;
    }
    const db = this.h.db();
    const pageSize = db.pragma('page_size', { simple: true }) as number;
    // A file at its own ceiling (maxFileBytes) stays confined whatever the filesystem says.
    const fileBytes = (db.pragma('page_count', { simple: true }) as number) * pageSize;
    const atCeiling = this.maxFileBytes !== undefined && fileBytes >= this.maxFileBytes * 0.9;
    const roomy = space.freeBytes >= DISK_PLAN.reserveWhenFreeBelow || (space.freeBytes >= 2 * reserve.bytes && reserve.take());
    if (!atCeiling && roomy) {
      this.confined = false;
      this.h.writer().diskCap = Infinity;
      const pages = this.maxFileBytes === undefined ? UNCONFINED_PAGES : Math.max(1, Math.floor(this.maxFileBytes / pageSize));
      db.pragma(`max_page_count = ${pages}`);
      this.flushDeferred();
      if (this.full) this.setFull(false, 'the filesystem has room again');
      return;
    }
    // The drain freed room inside the confined file (retained rows are pruned as appends need
    // their pages): new readings fit again.
    const w = this.h.writer();
    w.diskCap = this.fileHolds(this.storedBytes());
    const room = w.diskCap - this.h.counters.get(MetaKeys.UNSENT_STORED);
    const quiet = this.h.now() - this.lastFullAt >= QUIET_MS;
    if (this.full && quiet && this.deferred.length === 0 && room >= Math.max(2 * reserve.bytes, w.diskCap / 10)) {
      this.setFull(false, 'rows were sent and pruned: the queue file has room again (the filesystem is still full)');
    }
  }

  /**
   * True when the disk is far from full: at least `minBytes` free on the filesystem and below
   * maxFileBytes. Commit groups are staged outside SQLite only then (staging.ts); near a full
   * disk every append goes straight to SQLite, where the steps above handle the refusal.
   */
  roomToStage(minBytes: number): boolean {
    if (this.full || this.confined || this.h.writer().diskCap !== Infinity) return false;
    if (this.maxFileBytes !== undefined) {
      const db = this.h.db();
      const used = (db.pragma('page_count', { simple: true }) as number) * (db.pragma('page_size', { simple: true }) as number);
      if (this.maxFileBytes - used < minBytes) return false;
    }
    const space = filesystemSpace(this.path);
    return space === null || space.freeBytes - (this.reserve?.held() === true ? 0 : DISK_PLAN.reserveWhenFreeBelow) >= minBytes;
  }

  status(maxBytes: number): DiskStatus {
    // Fresh for every look (a statfs costs microseconds): metrics and health see the free space now.
    if (this.reserve !== null) this.space = filesystemSpace(this.path) ?? this.space;
    return {
      freeBytes: this.space?.freeBytes ?? null,
      totalBytes: this.space?.totalBytes ?? null,
      full: this.full,
      confined: this.confined,
      reserveHeld: this.reserve?.held() ?? false,
      reserveBytes: this.reserve?.bytes ?? 0,
      maxBytes: Math.min(maxBytes, this.h.writer().diskCap),
      pendingAcks: this.deferred.length,
      fullEvents: this.fullEvents,
    };
  }

  /** Forgets the deferred acks (stop: their rows are sent again after the restart). */
  clear(): void {
    this.deferred = [];
  }

  private makeRoom(attempt: number, needBytes: number): void {
    const db = this.h.db();
    const w = this.h.writer();
    const stored = this.storedBytes();
    this.lastFullAt = this.lastRoomAt = this.h.now();
    if (!this.full) this.setFull(true, 'SQLite reported SQLITE_FULL');
    const freed = this.reserve?.held() === true;
    // All but the part a restart on a disk that stays full needs to open the file.
    if (freed) this.reserve!.release(DISK_PLAN.openReserveBytes);
    if (!this.confined) this.confine();
    try {
      // Truncating gives the WAL's space back; only worth it when the reserve makes room to grow it again.
      db.pragma(freed ? 'wal_checkpoint(TRUNCATE)' : 'wal_checkpoint(PASSIVE)');
    } catch {
      // A checkpoint that cannot finish now finishes at a later commit.
    }
    const step = Math.max(needBytes, MIN_PRUNE_BYTES, Math.floor(stored * 0.05));
    const fits = this.fileHolds(stored);
    w.diskCap = attempt === 0 ? fits : Math.max(0, Math.min(fits, w.diskCap) - step * attempt);
    // In slices, each checkpointed: on a disk with no byte free the WAL cannot grow, and a
    // delete of many rows in one transaction needs more WAL pages than are left (measured:
    // after a restart on a full disk, a 600 KB prune failed where 64 KB slices went through).
    for (let left = step * (attempt + 1); left > 0; ) {
      const before = this.storedBytes();
      try {
        this.h.write('makeRoom', () => w.pruneSentFor({ rows: 0, bytes: Math.min(left, MIN_PRUNE_BYTES) }));
        db.pragma('wal_checkpoint(PASSIVE)');
      } catch {
        // Not even a delete fits: the retry fails too, and the caller holds its data.
        break;
      }
      const freed = before - this.storedBytes();
      if (freed <= 0) break;
      left -= freed;
    }
  }

  /** The file may not grow from now on: new rows reuse the pages of deleted ones. */
  private confine(): void {
    const db = this.h.db();
    try {
      // Pages appended to the WAL and not yet in the file would still need room at a checkpoint.
      db.pragma('wal_checkpoint(PASSIVE)');
    } catch {
      // Finishes at a later commit.
    }
    db.pragma(`max_page_count = ${db.pragma('page_count', { simple: true }) as number}`);
    this.confined = true;
    this.h.writer().diskCap = this.fileHolds(this.storedBytes());
  }

  /**
   * The row bytes the confined file holds when full, at the density of the rows in it now
   * (`stored` bytes in its used pages), less a margin for pages that cannot be filled.
   * Recomputed at every refusal, so the cap follows the file rather than ratcheting down.
   */
  private fileHolds(stored: number): number {
    const db = this.h.db();
    const pages = db.pragma('page_count', { simple: true }) as number;
    const free = db.pragma('freelist_count', { simple: true }) as number;
    const used = Math.max(1, pages - free);
    return Math.floor(((stored * pages) / used) * 0.95);
  }

  private setFull(full: boolean, why: string): void {
    this.full = full;
    if (full) this.fullEvents++;
    this.h.changed(full, why);
  }

  /** What the rows take in the file (the counters the byte cap counts). */
  private storedBytes(): number {
    const c = this.h.counters;
    return c.get(MetaKeys.UNSENT_STORED) + c.get(MetaKeys.RETAINED_STORED);
  }
}

/** True for a write refused because the disk (or the confined file) is full. */
export function isSqliteFull(err: unknown): boolean {
  return err instanceof AgentError && err.code === ErrorCodes.QUEUE_DISK_FULL && (err.cause as { code?: unknown } | undefined)?.code === 'SQLITE_FULL';
}
