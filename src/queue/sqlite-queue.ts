import type { FluxionRecord } from '../client/types.js';
import { recordBytes } from './record-store.js';
import { statsFrom } from './counters.js';
import { MetaKeys } from './schema.js';
import { splitInvalid } from './record-writer.js';
import { readInfo } from './read-only.js';
import { compactOne } from './compaction.js';
import { MIN_BLOCK_ROWS, STAGE_MIN_ROOM_BYTES } from './staging.js';
import {
  DropReasons,
  type AppendResult,
  type DeadLetter,
  type DeadLetterFilter,
  type DeadLetterSummary,
  type DeadLetterInput,
  type DiskStatus,
  type DropReason,
  type Lease,
  type LeaseRequest,
  type PruneResult,
  type QueueInfo,
  type QueueStats,
  type QueuedRecord,
  type RecordPage,
  type RetryDeadLettersOptions,
  type RetryDeadLettersResult,
  type SentQuery,
  type SentRecord,
} from './types.js';
import { QueueCore } from './queue-core.js';

/** Most rows one prune() call deletes, so the periodic call never holds the writer long. */
const PRUNE_BUDGET = 5000;
/** Most blocks one prune() call makes: 20 x 2,000 rows, ahead of 1,000 readings/s at a 5 s tick. */
const COMPACT_BLOCKS = 20;

/**
 * The durable queue: the only owner of the SQLite file. Appends are synchronous and
 * committed when they return (the caller may then acknowledge its source); leases live
 * in memory; counters live in memory and in `meta`, written in the same transaction.
 */
export class SqliteQueue extends QueueCore {
  /**
   * Stores records in one transaction; when it returns they are durable (per `synchronous`)
   * and the caller may acknowledge its source. Throws EDGE_ERR_QUEUE_FULL (`onFull: 'block'`,
   * nothing stored) or EDGE_ERR_QUEUE_DISK_FULL (nothing stored, retry later). `alsoInTxn`
   * writes state that must be committed with these records or not at all (WindowStore).
   */
  append(records: readonly FluxionRecord[], alsoInTxn?: () => void): AppendResult {
    if (records.length === 0 && alsoInTxn === undefined) return { accepted: 0, rejected: 0, dropped: 0, droppedByReason: {}, invalid: 0 };
    // Checked here, once, so that every stored row can be sent as SQLite encodes it.
    const { good, bad } = splitInvalid(records);
    if (alsoInTxn === undefined && bad.length === 0 && this.stage.wanted() && this.disk.roomToStage(STAGE_MIN_ROOM_BYTES)) {
      const staged = this.stageAtCap(good);
      if (staged !== null) return staged;
    }
    // Ids stay in order in the file: what is staged goes first (a refusal throws, nothing stored).
    this.stage.flush();
    let purged = 0;
    const txn = (): AppendResult =>
      this.write('append', () => {
        const at = this.now();
        const r = this.w.append(good, at);
        alsoInTxn?.();
        if (bad.length > 0) {
          this.w.txBytes += this.open().dead.add(bad, at);
          this.counters.add(MetaKeys.DEAD_LETTERED, bad.length);
          purged = this.dl.enforceCapInTxn();
        }
        return { ...r, invalid: bad.length };
      });
    const result = this.disk.run(txn, () => good.reduce((n, r) => n + recordBytes(r), 0));
    this.dl.emitCap(purged);
    this.afterAppend(result);
    return result;
  }

  /**
   * Stages a group; at the caps, staged rows first become blocks (a flush: they then count
   * their share of a block, not their logical size) and `drop_oldest` drops for the group,
   * so a queue at its cap keeps taking readings as blocks, not as rows. Null: the SQLite
   * path decides (a drop of the newest, a refusal, a log that refused the group).
   */
  private stageAtCap(good: readonly FluxionRecord[]): AppendResult | null {
    let dropped = 0;
    if (!this.w.fits(good)) {
      // Fewer staged rows would be stored as rows, which count more than they do staged.
      if (this.stage.size >= MIN_BLOCK_ROWS && !this.stage.flushQuietly('cap')) return null;
      if (!this.w.fits(good) && this.options.onFull === 'drop_oldest') {
        dropped = this.write('makeRoom', () => this.w.makeRoomFor(good)) as number;
      }
      if (!this.w.fits(good)) return null;
    }
    const staged = this.stage.append(good);
    if (staged === null || dropped === 0) return staged;
    const result = { ...staged, dropped, droppedByReason: { [DropReasons.FULL_DROP_OLDEST]: dropped } };
    this.afterAppend(result);
    return result;
  }

  appendOne(record: FluxionRecord): AppendResult {
    return this.append([record]);
  }

  /** True if `rows` more rows of `bytes` fit beside the unsent rows (sent rows can be pruned; the cap counts stored bytes). */
  hasRoom(rows = 1, bytes = 0): boolean {
    return (
      this.counters.get(MetaKeys.UNSENT_ROWS) + rows <= this.options.maxRows &&
      this.counters.get(MetaKeys.UNSENT_STORED) + bytes <= this.options.maxBytes
    );
  }

  /**
   * True while appends go to the staging log: no sender has leased for `stage_flush`
   * (FluxionDB unreachable), so nothing committed now leaves soon. Inputs whose source keeps
   * unacknowledged readings then gather bigger commit groups.
   */
  staging(): boolean {
    return this.stage.wanted();
  }

  /** Resolves when hasRoom(rows, bytes); rejects with EDGE_ERR_STOPPED on stop() or abort. */
  waitForRoom(rows = 1, bytes = 0, signal?: AbortSignal): Promise<void> {
    // A group larger than a cap is taken once the queue is empty (RecordWriter.append).
    return this.waiters.wait(Math.min(rows, this.options.maxRows), Math.min(bytes, this.options.maxBytes), signal);
  }

  /** The highest id appended so far (0 if none): the sender's live_first boundary. */
  newestId(): number {
    return this.w.lastId;
  }

  /**
   * The oldest unsent, unleased rows with id >= minId, ascending, up to maxRecords and
   * maxBytes (at least one row); with `olderToo`, then the oldest below minId to fill the
   * batch. Null when there is nothing to send. No disk write.
   */
  lease(req: LeaseRequest): Lease | null {
    this.stage.leased();
    this.stage.flushQuietly('lease');
    return this.leases.lease(req);
  }

  /**
   * Marks the lease's rows sent (all, or only `ids`) in one transaction and frees them.
   * Returns the rows marked. An unknown or finished lease (e.g. from before a restart) is
   * ignored: its rows are simply sent again, which the server's idempotent inserts absorb.
   */
  ack(lease: Lease, ids?: readonly number[]): number {
    return this.leases.ack(lease, ids);
  }

  /** Returns the lease's rows to the pool (after a failed send). No disk write. */
  release(lease: Lease): void {
    this.book.end(lease.leaseId);
  }

  /**
   * Moves leased rows that the server cannot take (poison isolation) to the dead letters,
   * in one transaction, and takes them out of the lease. Returns how many moved.
   */
  deadLetterLeased(lease: Lease, ids: readonly number[], reason: string): number {
    return this.leases.deadLetterLeased(lease, ids, reason);
  }

  /**
   * Retained sent rows enqueued in [sinceMs, untilMs), ascending id, for replay. Each call
   * scans at most PAGE_SCAN_SPAN ids, so a page may be empty with `done: false`.
   */
  leaseSent(q: SentQuery): RecordPage<SentRecord> {
    return this.open().rec.sentRowsPage(q, this.storedLastId);
  }

  /**
   * Rows acked at or after `sentSinceMs`, ascending id, in pages: the sender re-sends them
   * after a reconnect because the server may have died before flushing them.
   */
  resendCandidates(sentSinceMs: number, opts: { afterId?: number; limit: number }): RecordPage<SentRecord> {
    return this.leases.resendCandidates(sentSinceMs, opts);
  }

  /**
   * The newest `limit` rows still in the file (sent or not), oldest first: after a restart
   * the collision guard learns from them what a broker may redeliver.
   */
  newestRecords(limit: number): QueuedRecord[] {
    this.stage.flushQuietly('read');
    const last = this.storedLastId;
    return this.open().rec.rowsIn(Math.max(1, last - limit + 1), last, limit);
  }

  /**
   * When the newest ack on file was recorded (ms since the epoch), null when no sent row is
   * retained. Acks are written only while the server answers, so after a lost link this is
   * the last ack before it went down, however long ago that was, and across restarts too.
   */
  lastAckedAt(): number | null {
    return this.open().sent.newestAt();
  }

  /**
   * Housekeeping, bounded per call (the agent calls it every few seconds): deletes sent
   * rows past retainSentMs or beyond retainSentBytes (oldest sent first), drops unsent rows
   * older than maxAgeMs, and saves the cursor.
   */
  prune(): PruneResult {
    this.open();
    this.stage.flushQuietly('prune');
    this.disk.flushDeferred();
    this.disk.tick();
    this.leases.advanceCursor();
    const { prunedSent, droppedMaxAge, budgetLeft } = this.disk.run(() => this.write('prune', () => this.w.pruneInTxn(this.now(), PRUNE_BUDGET)));
    if (this.options.compact && !this.disk.status(this.options.maxBytes).full) {
      // Compaction only saves space: when it fails the rows simply stay rows.
      try {
        this.compact(COMPACT_BLOCKS);
      } catch (err) {
        this.logger?.warn({ err }, 'queue: compaction failed; queued rows stay as they are');
      }
    }
    if (droppedMaxAge > 0) {
      this.oldest = undefined;
      this.emit('dropped', { reason: DropReasons.MAX_AGE, count: droppedMaxAge });
    }
    this.roomChanged();
    return { prunedSent, droppedMaxAge, more: budgetLeft <= 0 };
  }

  /**
   * Moves up to `maxBlocks` blocks' worth of unsent, unleased rows into blocks, a block per
   * transaction (compaction.ts); prune() calls it. Returns the rows moved.
   */
  compact(maxBlocks = 1): number {
    const { rec, sent } = this.open();
    let moved = 0;
    for (let i = 0; i < maxBlocks; i++) {
      const r = this.write('compact', () => {
        const done = compactOne(rec, this.counters, this.book, sent, this.w.lastId - this.options.compactTailRows);
        this.w.txBytes += done.written;
        return done.rows;
      });
      if (r === 0) break;
      moved += r;
    }
    return moved;
  }

  /** Stores one dead letter (a message or record that cannot be delivered). */
  deadLetter(item: DeadLetterInput): void {
    this.dl.addMany([item]);
  }

  /** Stores dead letters in one transaction; returns how many. */
  deadLetterMany(items: readonly DeadLetterInput[]): number {
    return this.dl.addMany(items);
  }

  /** Dead letters with id > afterId (default 0), oldest first, at most `limit` (default 100), optionally by reason code and source. */
  listDeadLetters(opts?: DeadLetterFilter): DeadLetter[] {
    return this.dl.list(opts);
  }

  /** Dead letters per reason code and source. */
  deadLetterSummary(): DeadLetterSummary[] {
    return this.dl.summary();
  }

  countDeadLetters(): number {
    return this.dl.count();
  }

  /** Appends dead letters' records again and removes them, in one transaction. */
  retryDeadLetters(opts?: RetryDeadLettersOptions): RetryDeadLettersResult {
    this.open();
    this.stage.flush();
    return this.dl.retry(opts);
  }

  /** Deletes the given ids, or those older than olderThanMs, or all; returns how many. */
  purgeDeadLetters(opts?: { ids?: readonly number[]; olderThanMs?: number }): number {
    return this.dl.purge(opts);
  }

  /**
   * Counts readings an input could neither store nor hold back (a serial line on a full
   * disk) as dropped with `reason`; written to the file with the next transaction.
   */
  noteDropped(reason: DropReason, count: number): void {
    if (count <= 0) return;
    this.counters.add(MetaKeys.DROPPED_PREFIX + reason, count);
    this.emit('dropped', { reason, count });
  }

  stats(): QueueStats {
    const { dead } = this.open();
    if (this.oldest === undefined) this.oldest = this.leases.advanceCursor();
    return statsFrom(this.counters, {
      oldest: this.oldest ?? this.stage.oldestAt(),
      now: this.now(),
      deadLetterDepth: dead.depth,
      leased: this.book.leasedRows,
      leases: this.book.leaseCount,
      newestId: this.w.lastId,
    });
  }

  /** The queue's filesystem: free space, full or not, reserve, the cap in force, acks waiting in memory. */
  diskStatus(): DiskStatus {
    this.open();
    return this.disk.status(this.options.maxBytes);
  }

  info(): QueueInfo {
    this.open();
    this.stage.flushQuietly('read');
    return readInfo(this.open().db, this.options.path, false);
  }
}
