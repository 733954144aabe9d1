import { existsSync } from 'node:fs';
import Database from 'better-sqlite3';
import { AgentError, ErrorCodes } from '../errors.js';
import { QueueCounters, statsFrom } from './counters.js';
import { DeadLetterStore } from './dead-letters.js';
import { RecordStore, SENT_AT_OF_ROW } from './record-store.js';
import { MetaKeys } from './schema.js';
import type { DeadLetter, QueueInfo, QueueStats, RecordPage, SentQuery, SentRecord } from './types.js';

export function readInfo(db: Database.Database, path: string, readonly: boolean): QueueInfo {
  return {
    path,
    schemaVersion: db.pragma('user_version', { simple: true }) as number,
    journalMode: db.pragma('journal_mode', { simple: true }) as string,
    synchronous: db.pragma('synchronous', { simple: true }) as number,
    pageSize: db.pragma('page_size', { simple: true }) as number,
    readonly,
  };
}

/** A view of a queue file for `fluxion-edge status`: never writes, works beside a running agent. */
export interface ReadOnlyQueue {
  /** Counters as last committed by the writer; `leased` is always 0 here. */
  stats(now?: number): QueueStats;
  listDeadLetters(opts?: { limit?: number; afterId?: number }): DeadLetter[];
  countDeadLetters(): number;
  info(): QueueInfo;
  /** Highest row id in the file now (0 when empty). */
  newestId(): number;
  /**
   * What `SqliteQueue.leaseSent` returns, without a lease or a write: retained sent rows
   * enqueued in [sinceMs, untilMs), ascending id, scanning at most PAGE_SCAN_SPAN ids per
   * call (a page may be empty with `done: false`). Only rows with id <= `maxId` (default:
   * the newest now), so that a replay ends at the rows that existed when it began.
   */
  sentPage(q: SentQuery & { maxId?: number }): RecordPage<SentRecord>;
  /** How many rows the pages of `sentPage` hold in all, with the same filters (one COUNT). */
  countSent(q: Omit<SentQuery, 'afterId' | 'limit'> & { maxId?: number }): number;
  close(): void;
}

/**
 * Opens a queue file read-only (`readonly`, `fileMustExist`). In WAL mode readers do not
 * block the agent's writer, and see the last committed state.
 */
export function openQueueReadOnly(path: string): ReadOnlyQueue {
  if (!existsSync(path)) throw new AgentError(ErrorCodes.QUEUE_IO, `no queue file at ${path}`);
  let db: Database.Database;
  try {
    db = new Database(path, { readonly: true, fileMustExist: true });
    db.pragma('busy_timeout = 5000');
  } catch (err) {
    throw new AgentError(ErrorCodes.QUEUE_IO, `cannot open queue file ${path} read-only: ${(err as Error).message}`, {
      cause: err,
    });
  }
  const counters = new QueueCounters();
  let dead: DeadLetterStore | undefined;
  const deadStore = (): DeadLetterStore => (dead ??= new DeadLetterStore(db));
  // Files from before schema 3 mark sent rows in `records.sent_at`; the agent converts them
  // at its next start. Until then status reads them the old way, and replay waits.
  const legacy = (db.pragma('user_version', { simple: true }) as number) < 3;
  const sentAt = legacy ? 'r.sent_at' : SENT_AT_OF_ROW;
  let rec: RecordStore | undefined;
  const records = (): RecordStore => {
    if (legacy) {
      throw new AgentError(ErrorCodes.QUEUE_IO, `queue file ${path} has an older schema: start the agent once to upgrade it, then replay`);
    }
    return (rec ??= new RecordStore(db));
  };
  let countStmt: Database.Statement | undefined;
  // Before schema 3 there are no blocks either: the table alone answers.
  const newestId = (): number => (legacy ? (db.prepare('SELECT max(id) FROM records').pluck().get() as number | null) : records().maxId()) ?? 0;
  const guard = <T>(fn: () => T): T => {
    try {
      return fn();
    } catch (err) {
      if (err instanceof AgentError) throw err;
      throw new AgentError(ErrorCodes.QUEUE_IO, `cannot read queue file ${path}: ${(err as Error).message}`, { cause: err });
    }
  };
  return {
    stats: (now = Date.now()) =>
      guard(() =>
        db.transaction(() => {
          counters.load(db);
          const maxId = newestId();
          const from = Math.min(Math.max(1, counters.get(MetaKeys.CURSOR)), maxId + 1);
          const inTable = db
            .prepare(`SELECT r.id, r.enqueued_at AS at FROM records r WHERE r.id >= ? AND ${sentAt} IS NULL ORDER BY r.id LIMIT 1`)
            .get(from) as { id: number; at: number } | undefined;
          const inBlocks = legacy ? undefined : records().firstUnsentInBlocks(from, inTable?.id ?? maxId);
          const oldest = inBlocks?.enqueuedAt ?? inTable?.at;
          return statsFrom(counters, {
            oldest: oldest ?? null,
            now,
            deadLetterDepth: deadStore().recount(),
            leased: 0,
            leases: 0,
            newestId: maxId,
          });
        })(),
      ),
    listDeadLetters: (opts = {}) => guard(() => deadStore().page(opts.afterId ?? 0, opts.limit ?? 100)),
    countDeadLetters: () => guard(() => deadStore().recount()),
    info: () => guard(() => readInfo(db, path, true)),
    newestId: () => guard(newestId),
    sentPage: (q) => guard(() => records().sentRowsPage(q, q.maxId ?? newestId())),
    countSent: (q) =>
      guard(() => {
        records();
        countStmt ??= db
          .prepare(
            `SELECT count(*) FROM records r
             WHERE r.id <= @maxId AND r.enqueued_at >= @since AND r.enqueued_at < @until
               AND (@col IS NULL OR r.col = @col) AND (@doc IS NULL OR r.doc = @doc) AND ${SENT_AT_OF_ROW} IS NOT NULL`,
          )
          .pluck();
        const maxId = q.maxId ?? newestId();
        return records().countSentInBlocks(q, maxId) + (countStmt.get({
          maxId,
          since: q.sinceMs,
          until: q.untilMs ?? Number.MAX_SAFE_INTEGER,
          col: q.col ?? null,
          doc: q.doc ?? null,
        }) as number);
      }),
    close: () => db.close(),
  };
}

/**
 * True when another connection has the file open (a running agent, or a reader such as
 * `fluxion-edge status`). Asks SQLite for an exclusive lock without waiting: in WAL mode
 * every open connection holds a shared lock that refuses it. Commands that append rows
 * check this first, because a running agent hands out row ids from memory and would
 * collide with rows another process appended.
 */
export function queueFileInUse(path: string): boolean {
  if (!existsSync(path)) throw new AgentError(ErrorCodes.QUEUE_IO, `no queue file at ${path}`);
  let db: Database.Database | undefined;
  try {
    db = new Database(path, { fileMustExist: true });
    db.pragma('busy_timeout = 0');
    db.pragma('locking_mode = EXCLUSIVE');
    db.exec('BEGIN EXCLUSIVE');
    db.exec('COMMIT');
    return false;
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED') return true;
    throw new AgentError(ErrorCodes.QUEUE_IO, `cannot open queue file ${path}: ${(err as Error).message}`, { cause: err });
  } finally {
    db?.close();
  }
}
