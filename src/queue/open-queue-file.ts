import { existsSync, mkdirSync, renameSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { AgentError, ErrorCodes } from '../errors.js';
import type { CorruptFileInfo, SynchronousMode } from './types.js';

export interface OpenQueueFileOptions {
  synchronous: SynchronousMode;
  maxFileBytes?: number;
  startupCheck: 'quick' | 'off';
  now: () => number;
}

/** Pages. The default 1,000 (4 MiB) checkpoints often; a longer interval lets a page that
 * was appended to and then marked sent reach the main file once instead of twice. */
const WAL_AUTOCHECKPOINT_PAGES = 4000;
/** After a checkpoint, the WAL file is truncated back to this size (bytes). */
const JOURNAL_SIZE_LIMIT = 32 * 1024 * 1024;
/** Negative = KiB: a bounded page cache (8 MiB) whatever the file size. */
const CACHE_SIZE = -8000;
/** Page cache while the start-up check reads the file: 1 MiB. */
const CHECK_CACHE_SIZE = -1000;

/** True for errors that mean the file's content is bad (not the disk or permissions). */
export function isCorruptionError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && (code.startsWith('SQLITE_CORRUPT') || code === 'SQLITE_NOTADB');
}

/** Opens the queue file read-write, checks it, and moves it aside if it is corrupt. */
export function openQueueFile(
  path: string,
  opts: OpenQueueFileOptions,
): { db: Database.Database; corrupt: CorruptFileInfo | null } {
  try {
    mkdirSync(dirname(path), { recursive: true });
  } catch (err) {
    throw new AgentError(ErrorCodes.QUEUE_IO, `cannot create the directory of queue file ${path}`, { cause: err });
  }
  let problem: string | null;
  let db: Database.Database | undefined;
  try {
    db = new Database(path);
    problem = configure(db, opts, true);
  } catch (err) {
    if (!isCorruptionError(err)) {
      db?.close();
      throw new AgentError(ErrorCodes.QUEUE_IO, `cannot open queue file ${path}: ${(err as Error).message}`, { cause: err });
    }
    problem = (err as Error).message;
  }
  if (problem === null) return { db: db!, corrupt: null };

  const at = opts.now();
  const movedTo = `${path}.corrupt-${new Date(at).toISOString().replace(/[:.]/g, '-')}`;
  try {
    // Never delete: the operator may want to salvage rows. Rename while the connection is
    // still open, because closing the last connection deletes the -wal, which may hold the
    // newest rows.
    for (const suffix of ['', '-wal', '-shm']) {
      if (existsSync(path + suffix)) renameSync(path + suffix, movedTo + suffix);
    }
  } catch (err) {
    db?.close();
    throw new AgentError(ErrorCodes.QUEUE_CORRUPT, `queue file ${path} is corrupt (${problem}) and could not be moved aside`, {
      cause: err,
    });
  }
  db?.close();
  try {
    db = new Database(path);
    configure(db, opts, false);
  } catch (err) {
    db?.close();
    throw new AgentError(ErrorCodes.QUEUE_IO, `cannot create a fresh queue file ${path}`, { cause: err });
  }
  return { db, corrupt: { path, movedTo, reason: problem, at } };
}

/** Applies the pragmas; returns the integrity problem found, or null. */
function configure(db: Database.Database, opts: OpenQueueFileOptions, check: boolean): string | null {
  db.pragma('busy_timeout = 5000');
  // The first statement that reads the header: a file that is not SQLite fails here.
  const mode = db.pragma('journal_mode = WAL', { simple: true });
  if (mode !== 'wal') {
    throw new AgentError(ErrorCodes.QUEUE_IO, `queue file ${db.name} cannot use WAL mode (got ${String(mode)})`);
  }
  if (check && opts.startupCheck === 'quick') {
    // The check reads every page once, so a cache only raises the peak RSS: with
    // better-sqlite3's default (16 MB) it cost +16 MB on a 2,000,000-row file; 1 MB, +1 MB.
    db.pragma(`cache_size = ${CHECK_CACHE_SIZE}`);
    const rows = db.pragma('quick_check(20)') as Array<{ quick_check: string }>;
    const msgs = rows.map((r) => r.quick_check);
    if (msgs.length !== 1 || msgs[0] !== 'ok') return msgs.join('; ');
  }
  db.pragma(`synchronous = ${opts.synchronous.toUpperCase()}`);
  db.pragma(`cache_size = ${CACHE_SIZE}`);
  db.pragma(`wal_autocheckpoint = ${WAL_AUTOCHECKPOINT_PAGES}`);
  db.pragma(`journal_size_limit = ${JOURNAL_SIZE_LIMIT}`);
  if (opts.maxFileBytes !== undefined) {
    const pageSize = db.pragma('page_size', { simple: true }) as number;
    db.pragma(`max_page_count = ${Math.max(1, Math.floor(opts.maxFileBytes / pageSize))}`);
  }
  return null;
}
