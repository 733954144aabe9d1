/**
 * The queue's file and transactions: opening, checking and migrating the file, the staging
 * log's recovery, stop, and the transaction every write runs in (counters rolled back with
 * the file on failure, written to `meta` with it on success). SqliteQueue adds the operations.
 */
import { randomInt } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { Database, Transaction } from 'better-sqlite3';
import { AgentError, ErrorCodes } from '../errors.js';
import { resolveQueueOptions, setMaxBytes, type ResolvedQueueOptions } from './caps.js';
import { DiskGuard } from './disk-guard.js';
import { QueueCounters } from './counters.js';
import { DeadLetterStore } from './dead-letters.js';
import { LeaseBook } from './leases.js';
import { openQueueFile } from './open-queue-file.js';
import { LeaseOps } from './lease-ops.js';
import { RecordStore } from './record-store.js';
import { SentRuns } from './sent-runs.js';
import { MetaKeys, applyMigrations, latestVersion } from './schema.js';
import { RecordWriter } from './record-writer.js';
import { DeadLetterOps } from './dead-letter-api.js';
import { sqliteError } from './sqlite-errors.js';
import { RoomWaiters } from './room-waiters.js';
import { STAGE_MIN_ROOM_BYTES, Stager } from './staging.js';
import { stageLogInUse } from './stage-owner.js';
import type { AppendResult, DropReason, QueueDeps, QueueEvents, QueueLogger, QueueOptions, QueueStartInfo } from './types.js';

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

export abstract class QueueCore extends EventEmitter<QueueEvents> {
  readonly options: ResolvedQueueOptions;
  protected readonly logger: QueueLogger | undefined;
  protected readonly now: () => number;
  protected readonly counters = new QueueCounters();
  protected readonly book = new LeaseBook();
  protected readonly dl: DeadLetterOps;
  protected readonly leases: LeaseOps;
  protected o: Open | undefined;
  protected startInfo: QueueStartInfo | undefined;
  /** Enqueue time of the oldest unsent row; undefined = recompute on demand. */
  protected oldest: number | null | undefined;
  protected readonly waiters = new RoomWaiters((rows, bytes) => this.hasRoom(rows, bytes));
  /** A full disk: reserve, confinement, acks kept in memory (disk-guard.ts). */
  protected readonly disk: DiskGuard;
  /** Commit groups staged outside SQLite while no sender leases (staging.ts). */
  protected readonly stage: Stager;
  protected readonly stageFlushMs: number;

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
      write: (op, fn) => this.withSynchronous(true, () => this.write(op, fn)),
      onDisk: (fn) => this.disk.run(fn),
      roomy: () => this.disk.roomToStage(STAGE_MIN_ROOM_BYTES),
      flushed: () => {
        if (this.oldest === null) this.oldest = undefined;
      },
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
      const rec = new RecordStore(db, opts.decodedBlocks);
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
      if (!foreign) this.stage.open(this.w.lastId, this.stageFlushMs > 0, this.fileId());
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

  /** This file's id for the staging log (given once); 0 when it cannot be written (no staging then). */
  private fileId(): number {
    const id = this.counters.get(MetaKeys.STAGE_FILE_ID);
    if (id !== 0 || this.stageFlushMs === 0) return id;
    try {
      return this.write('start', () => {
        this.counters.set(MetaKeys.STAGE_FILE_ID, randomInt(1, 2 ** 32 - 1));
        return this.counters.get(MetaKeys.STAGE_FILE_ID);
      });
    } catch (err) {
      this.logger?.warn({ err }, 'queue: could not give the file an id; commit groups go straight to it');
      return 0;
    }
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

  /** Blocks inflated since start; one read again after it left the cache counts again (QueueOptions.decodedBlocks). */
  get blocksInflated(): number {
    return this.open().rec.blocks.inflates;
  }

  /** True if `rows` more rows of `bytes` fit beside the unsent rows (sent rows can be pruned). */
  abstract hasRoom(rows?: number, bytes?: number): boolean;

  /**
   * Runs a transaction that need not be fsynced: an ack lost in a power cut only means its
   * rows are sent again, which idempotent inserts absorb, and the next append's fsync makes
   * it durable anyway (the WAL is synced in order). At `synchronous: full` this spares one
   * fsync per batch sent: measured, acks otherwise doubled the fsyncs of a QoS 1 stream.
   */
  protected withoutFsync<T>(fn: () => T): T {
    return this.withSynchronous(false, fn);
  }

  /**
   * Runs `fn` with SQLite's `synchronous` at FULL (true) or NORMAL (false) when the queue is
   * configured `full`, then restores what was in force (a flush inside an ack is fsynced).
   */
  protected withSynchronous<T>(full: boolean, fn: () => T): T {
    if (this.options.synchronous !== 'full') return fn();
    const { db } = this.open();
    const was = db.pragma('synchronous', { simple: true }) === 2;
    if (was === full) return fn();
    db.pragma(`synchronous = ${full ? 'FULL' : 'NORMAL'}`);
    try {
      return fn();
    } finally {
      db.pragma(`synchronous = ${was ? 'FULL' : 'NORMAL'}`);
    }
  }

  /** The highest id SQLite may hold (staged ids are above it): readers of the file stop there. */
  protected get storedLastId(): number {
    return this.stage.storedLastId(this.w.lastId);
  }

  protected get w(): RecordWriter {
    return this.open().w;
  }

  protected open(): Open {
    if (!this.o) throw new AgentError(ErrorCodes.QUEUE_CLOSED, 'the queue is not started (call start() first)');
    return this.o;
  }

  /** Runs `fn` in one transaction; on failure rolls memory back with the file. */
  protected write<T>(op: string, fn: () => T): T {
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

  protected finishTxn(): void {
    if (this.w.txBytes === 0 && !this.counters.hasDirty) return;
    const page = this.open().pageSize;
    // Pages holding the touched rows, plus the partly filled tail page and the meta page.
    const pages = Math.ceil(this.w.txBytes / page) + 2;
    this.counters.add(MetaKeys.BYTES_WRITTEN, pages * (page + 24));
    const through = this.stage.storedThrough(this.w.lastId);
    if (through !== null) this.counters.set(MetaKeys.STAGE_THROUGH, through);
    this.counters.flush(this.open().upsertMeta, (key) => this.stage.lessInMeta(key));
  }

  protected afterAppend(result: AppendResult): void {
    if (result.dropped === 0) return;
    this.oldest = undefined;
    for (const [reason, count] of Object.entries(result.droppedByReason)) {
      this.emit('dropped', { reason: reason as DropReason, count });
    }
  }

  protected roomChanged(): void {
    this.waiters.check();
    if (this.w.blocked && this.hasRoom()) {
      this.w.blocked = false;
      this.emit('room');
    }
  }
}
