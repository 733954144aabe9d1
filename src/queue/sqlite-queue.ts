import { EventEmitter } from 'node:events';
import type { Database, Transaction } from 'better-sqlite3';
import type { FluxionRecord } from '../client/types.js';
import { AgentError, ErrorCodes } from '../errors.js';
import { resolveQueueOptions, setMaxBytes, type ResolvedQueueOptions } from './caps.js';
import { DiskGuard } from './disk-guard.js';
import { recordBytes } from './record-store.js';
import { QueueCounters, statsFrom } from './counters.js';
import { DeadLetterStore } from './dead-letters.js';
import { LeaseBook } from './leases.js';
import { openQueueFile } from './open-queue-file.js';
import { LeaseOps } from './lease-ops.js';
import { RecordStore } from './record-store.js';
import { SentRuns } from './sent-runs.js';
import { MetaKeys, applyMigrations, latestVersion } from './schema.js';
import { RecordWriter, splitInvalid } from './record-writer.js';
import { DeadLetterOps } from './dead-letter-api.js';
import { readInfo } from './read-only.js';
import { sqliteError } from './sqlite-errors.js';
import { RoomWaiters } from './room-waiters.js';
import { compactOne } from './compaction.js';
import { STAGE_MIN_ROOM_BYTES, Stager } from './staging.js';
import { stageLogInUse } from './stage-owner.js';
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
  type QueueDeps,
  type QueueEvents,
  type QueueInfo,
  type QueueLogger,
  type QueueOptions,
  type QueueStartInfo,
  type QueueStats,
  type QueuedRecord,
  type RecordPage,
  type RetryDeadLettersOptions,
  type RetryDeadLettersResult,
  type SentQuery,
  type SentRecord,
} from './types.js';

/** Most rows one prune() call deletes, so the periodic call never holds the writer long. */
const PRUNE_BUDGET = 5000;
/** Most blocks one prune() call makes: 20 x 2,000 rows, ahead of 1,000 readings/s at a 5 s tick. */
const COMPACT_BLOCKS = 20;
/** Default staging flush interval, in ms (docs/flash-wear.md: what it saves, measured). */
export const STAGE_FLUSH_MS = 5000;

interface Open {
  db: Database;
  rec: RecordStore;
  sent: SentRuns;
  dead: DeadLetterStore;
  upsertMeta: ReturnType<Database['prepare']>;
  txn: Transaction<(fn: () => unknown) => unknown>;
  w: RecordWriter;
  pageSize: number;
  schemaVersion: number;
}

/**
 * The durable queue: the only owner of the SQLite file. Appends are synchronous and
 * committed when they return (the caller may then acknowledge its source); leases live
 * in memory; counters live in memory and in `meta`, written in the same transaction.
 */
export class SqliteQueue extends EventEmitter<QueueEvents> {
  readonly options: ResolvedQueueOptions;
  private readonly logger: QueueLogger | undefined;
  private readonly now: () => number;
  private readonly counters = new QueueCounters();
  private readonly book = new LeaseBook();
  private readonly dl: DeadLetterOps;
  private readonly leases: LeaseOps;
  private o: Open | undefined;
  private startInfo: QueueStartInfo | undefined;
  /** Enqueue time of the oldest unsent row; undefined = recompute on demand. */
  private oldest: number | null | undefined;
  private readonly waiters = new RoomWaiters((rows, bytes) => this.hasRoom(rows, bytes));
  /** A full disk: reserve, confinement, acks kept in memory (disk-guard.ts). */
  private readonly disk: DiskGuard;
  /** Commit groups staged outside SQLite while no sender leases (staging.ts). */
  private readonly stage: Stager;
  private readonly stageFlushMs: number;

  constructor(options: QueueOptions, deps: QueueDeps = {}) {
    super();
    this.options = resolveQueueOptions(options);
    this.logger = deps.logger;
    this.now = deps.now ?? Date.now;
    this.dl = new DeadLetterOps(this, {
      store: () => this.open().dead,
      write: (op, fn) => this.write(op, fn),
      appendInTxn: (records) => this.w.append(records, this.now()),
      afterAppend: (r) => this.afterAppend(r),
      counters: this.counters,
      now: this.now,
      maxRows: this.options.deadLetterMaxRows,
    });
    this.disk = new DiskGuard(this.options.path, this.options.maxFileBytes, {
      db: () => this.open().db,
      writer: () => this.w,
      counters: this.counters,
      write: (op, fn) => this.write(op, fn),
      now: this.now,
      changed: (full, why) => {
        this.emit('disk', { full, why, status: this.disk.status(this.options.maxBytes) });
        if (!full) this.roomChanged();
      },
    });
    this.stageFlushMs = this.options.compact ? (options.stageFlushMs ?? STAGE_FLUSH_MS) : 0;
    this.stage = new Stager(`${this.options.path}-stage`, this.stageFlushMs, this.options.synchronous === 'full', {
      rec: () => this.open().rec,
      writer: () => this.w,
      counters: this.counters,
      // Fsynced even inside withoutFsync (an ack): the log is rewound once the flush returns.
      write: (op, fn) => this.withFsync(() => this.write(op, fn)),
      onDisk: (fn) => this.disk.run(fn),
      now: this.now,
      logger: this.logger,
    });
    this.leases = new LeaseOps({
      lastId: () => this.storedLastId,
      deferWrite: (write, giveUp) => this.disk.runOrDefer(write, giveUp),
      files: () => this.open(),
      book: this.book,
      counters: this.counters,
      writer: () => this.w,
      dl: this.dl,
      now: this.now,
      write: (op, fn) => this.write(op, fn),
      withoutFsync: (fn) => this.withoutFsync(fn),
      changed: () => {
        this.oldest = undefined;
        this.roomChanged();
      },
    });
  }

  /** Opens, checks and migrates the file. Safe to call twice. */
  start(): QueueStartInfo {
    if (this.o) return this.startInfo!;
    const opts = this.options;
    // A log that another process (a running agent) stages into is its own: not ours to recover.
    const foreign = this.stageFlushMs === 0 && stageLogInUse(opts.path);
    const plan = this.disk.planAtStart();
    if (plan !== null && opts.autoMaxBytes) setMaxBytes(opts, plan.autoMaxBytes);
    const fileOpts = { synchronous: opts.synchronous, maxFileBytes: opts.maxFileBytes, startupCheck: opts.startupCheck, now: this.now };
    const { db, corrupt } = this.disk.open(() => openQueueFile(opts.path, fileOpts));
    try {
      const migratedFrom = applyMigrations(db, opts.migrations);
      const rec = new RecordStore(db);
      const sent = new SentRuns(db);
      this.o = {
        db,
        rec,
        sent,
        dead: new DeadLetterStore(db),
        w: new RecordWriter(rec, this.counters, this.book, sent, opts),
        upsertMeta: db.prepare('INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value'),
        txn: db.transaction((fn: () => unknown) => {
          const result = fn();
          this.finishTxn();
          return result;
        }),
        pageSize: db.pragma('page_size', { simple: true }) as number,
        schemaVersion: latestVersion(opts.migrations),
      };
      this.counters.load(db);
      // Never below a sent run's end: a new row with an id inside a run would count as sent.
      // ... nor below an id the staging log may hold from before (STAGE_THROUGH).
      this.w.lastId = Math.max(this.o.rec.maxId() ?? 0, sent.maxHi(), this.counters.get(MetaKeys.STAGE_THROUGH));
      this.book.clear();
      // The saved cursor is a lower bound; ids can restart lower if the newest rows were
      // deleted before a restart, hence the min().
      this.book.cursor = Math.min(Math.max(1, this.counters.get(MetaKeys.CURSOR)), this.w.lastId + 1);
      sent.load(this.book.cursor);
      this.oldest = undefined;
      this.disk.configure();
      if (corrupt) this.write('start', () => this.counters.add(MetaKeys.CORRUPT_MOVED, 1));
      if (!foreign) this.stage.open(this.w.lastId, this.stageFlushMs > 0);
      this.startInfo = { schemaVersion: this.o.schemaVersion, migratedFrom, corrupt };
    } catch (err) {
      this.o = undefined;
      db.close();
      throw err instanceof AgentError ? err : sqliteError(err, 'start');
    }
    if (corrupt) {
      this.logger?.error({ ...corrupt }, 'queue file was corrupt: moved aside, started an empty queue');
      this.emit('corrupt', corrupt);
    }
    return this.startInfo;
  }

  /** Saves the cursor, checkpoints and closes. Safe to call twice. */
  stop(): void {
    const o = this.o;
    if (!o) return;
    try {
      this.stage.close();
      this.disk.flushDeferred();
      this.disk.clear();
      this.leases.advanceCursor();
      this.write('stop', () => this.counters.set(MetaKeys.CURSOR, this.book.cursor));
      o.db.pragma('optimize');
      o.db.pragma('wal_checkpoint(TRUNCATE)');
    } catch (err) {
      this.logger?.warn({ err }, 'queue: final checkpoint failed; the WAL will be replayed at next start');
    }
    this.waiters.rejectAll('queue stopped');
    this.book.clear();
    this.o = undefined;
    o.db.close();
  }

  get started(): boolean {
    return this.o !== undefined;
  }

  /** The open connection, for stores that live in the same file (e.g. a KV outbox added by a
   * migration). Use it only from src/queue/; the queue owns its transactions. */
  get database(): Database {
    return this.open().db;
  }

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
    if (alsoInTxn === undefined && bad.length === 0 && this.stage.wanted() && this.w.fits(good) && this.disk.roomToStage(STAGE_MIN_ROOM_BYTES)) {
      const staged = this.stage.append(good);
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

  appendOne(record: FluxionRecord): AppendResult {
    return this.append([record]);
  }

  /** True if `rows` more rows of `bytes` fit beside the unsent rows (sent rows can be pruned). */
  hasRoom(rows = 1, bytes = 0): boolean {
    return (
      this.counters.get(MetaKeys.UNSENT_ROWS) + rows <= this.options.maxRows &&
      this.counters.get(MetaKeys.UNSENT_BYTES) + bytes <= this.options.maxBytes
    );
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
   * maxBytes (at least one row). Null when there is nothing to send. No disk write.
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
        const done = compactOne(rec, this.book, sent, this.w.lastId - this.options.compactTailRows);
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

  // ---- internals -------------------------------------------------------------------

  /**
   * Runs a transaction that need not be fsynced: an ack lost in a power cut only means its
   * rows are sent again, which idempotent inserts absorb, and the next append's fsync makes
   * it durable anyway (the WAL is synced in order). At `synchronous: full` this spares one
   * fsync per batch sent: measured, acks otherwise doubled the fsyncs of a QoS 1 stream.
   */
  private withoutFsync<T>(fn: () => T): T {
    if (this.options.synchronous !== 'full') return fn();
    const { db } = this.open();
    db.pragma('synchronous = NORMAL');
    try {
      return fn();
    } finally {
      db.pragma('synchronous = FULL');
    }
  }

  /** The highest id SQLite may hold (staged ids are above it): readers of the file stop there. */
  private get storedLastId(): number {
    return this.stage.storedLastId(this.w.lastId);
  }

  /** Runs `fn` with `synchronous` as configured, also inside withoutFsync. */
  private withFsync<T>(fn: () => T): T {
    const { db } = this.open();
    if (this.options.synchronous !== 'full' || db.pragma('synchronous', { simple: true }) === 2) return fn();
    db.pragma('synchronous = FULL');
    try {
      return fn();
    } finally {
      db.pragma('synchronous = NORMAL');
    }
  }

  private get w(): RecordWriter {
    return this.open().w;
  }

  private open(): Open {
    if (!this.o) throw new AgentError(ErrorCodes.QUEUE_CLOSED, 'the queue is not started (call start() first)');
    return this.o;
  }

  /** Runs `fn` in one transaction; on failure rolls memory back with the file. */
  private write<T>(op: string, fn: () => T): T {
    const o = this.open();
    // Every other transaction finds the staged rows in the file (a failure leaves them staged).
    if (op !== 'stageFlush' && op !== 'makeRoom' && this.stage.size > 0) this.stage.flushQuietly(op);
    const snap = this.counters.snapshot();
    const lastId = this.w.lastId;
    this.w.txBytes = 0;
    try {
      return o.txn(fn) as T;
    } catch (err) {
      this.counters.restore(snap);
      this.w.lastId = lastId;
      this.oldest = undefined;
      o.sent.load(this.book.cursor);
      o.dead.recount();
      if (err instanceof AgentError) throw err;
      throw sqliteError(err, op);
    }
  }

  private finishTxn(): void {
    if (this.w.txBytes === 0 && !this.counters.hasDirty) return;
    const page = this.open().pageSize;
    // Pages holding the touched rows, plus the partly filled tail page and the meta page.
    const pages = Math.ceil(this.w.txBytes / page) + 2;
    this.counters.add(MetaKeys.BYTES_WRITTEN, pages * (page + 24));
    const through = this.stage.storedThrough(this.w.lastId);
    if (through !== null) this.counters.set(MetaKeys.STAGE_THROUGH, through);
    this.counters.flush(this.open().upsertMeta, (key) => this.stage.lessInMeta(key));
  }

  private afterAppend(result: AppendResult): void {
    if (result.dropped === 0) return;
    this.oldest = undefined;
    for (const [reason, count] of Object.entries(result.droppedByReason)) {
      this.emit('dropped', { reason: reason as DropReason, count });
    }
  }

  private roomChanged(): void {
    this.waiters.check();
    if (this.w.blocked && this.hasRoom()) {
      this.w.blocked = false;
      this.emit('room');
    }
  }
}
