import { existsSync } from 'node:fs';
import Database from 'better-sqlite3';
import { AgentError, ErrorCodes } from '../errors.js';
import { QueueCounters } from './counters.js';
import { DeadLetterStore } from './dead-letters.js';
import { MetaKeys } from './schema.js';
import type { DeadLetter, QueueInfo, QueueStats } from './types.js';

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
          const maxId = (db.prepare('SELECT max(id) FROM records').pluck().get() as number | null) ?? 0;
          const from = Math.min(Math.max(1, counters.get(MetaKeys.CURSOR)), maxId + 1);
          const oldest = db
            .prepare('SELECT enqueued_at FROM records WHERE id >= ? AND sent_at IS NULL ORDER BY id LIMIT 1')
            .pluck()
            .get(from) as number | undefined;
          const droppedByReason = counters.droppedByReason();
          return {
            depth: counters.get(MetaKeys.UNSENT_ROWS),
            bytes: counters.get(MetaKeys.UNSENT_BYTES),
            retainedRows: counters.get(MetaKeys.RETAINED_ROWS),
            retainedBytes: counters.get(MetaKeys.RETAINED_BYTES),
            oldestUnsentEnqueuedAt: oldest ?? null,
            oldestUnsentAgeMs: oldest === undefined ? null : Math.max(0, now - oldest),
            appended: counters.get(MetaKeys.APPENDED),
            sent: counters.get(MetaKeys.SENT),
            prunedSent: counters.get(MetaKeys.PRUNED_SENT),
            dropped: Object.values(droppedByReason).reduce((a, b) => a + b, 0),
            droppedByReason,
            deadLettered: counters.get(MetaKeys.DEAD_LETTERED),
            deadLetterDepth: deadStore().recount(),
            bytesWritten: counters.get(MetaKeys.BYTES_WRITTEN),
            corruptFilesMovedAside: counters.get(MetaKeys.CORRUPT_MOVED),
            leased: 0,
            leases: 0,
            newestId: maxId,
          };
        })(),
      ),
    listDeadLetters: (opts = {}) => guard(() => deadStore().page(opts.afterId ?? 0, opts.limit ?? 100)),
    countDeadLetters: () => guard(() => deadStore().recount()),
    info: () => guard(() => readInfo(db, path, true)),
    close: () => db.close(),
  };
}
