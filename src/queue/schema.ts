import type { Database } from 'better-sqlite3';
import { AgentError, ErrorCodes } from '../errors.js';
import { validateRecord } from '../client/validate.js';
import { MERGE_MS } from './sent-runs.js';

/**
 * One schema step. `version` is the `PRAGMA user_version` the file has after `up` ran;
 * versions are consecutive from 1. Each step runs in its own transaction together with the
 * version bump, so a crash mid-migration leaves the file at the previous version.
 * To add a table (e.g. the KV outbox), append a step to QUEUE_MIGRATIONS; never edit a
 * released step.
 */
export interface QueueMigration {
  version: number;
  description: string;
  up(db: Database): void;
}

/** Counters kept in `meta` (INTEGER values), created at zero by migration 1. */
export const MetaKeys = {
  UNSENT_ROWS: 'unsent_rows',
  UNSENT_BYTES: 'unsent_bytes',
  RETAINED_ROWS: 'retained_rows',
  RETAINED_BYTES: 'retained_bytes',
  /**
   * What the unsent and retained rows take in the file, which the byte cap counts: a row of
   * `records` its logical size, a row in a block its share of the block's stored size
   * (block-store.ts). Absent from files of older agents: taken from the logical counters at
   * load (counters.ts), which they equal there.
   */
  UNSENT_STORED: 'unsent_stored_bytes',
  RETAINED_STORED: 'retained_stored_bytes',
  APPENDED: 'appended_total',
  SENT: 'sent_total',
  PRUNED_SENT: 'pruned_sent_total',
  DEAD_LETTERED: 'dead_lettered_total',
  BYTES_WRITTEN: 'bytes_written',
  CORRUPT_MOVED: 'corrupt_files_moved_aside',
  /** Lowest row id that may be unsent (a lower bound, saved now and then). */
  CURSOR: 'cursor',
  /** Highest id whose row SQLite holds or held: the staging log's records above it are recovered (staging.ts). */
  STAGE_THROUGH: 'stage_through',
  /** A random id of this file, carried by the staging log's records (stage-log.ts). */
  STAGE_FILE_ID: 'stage_file_id',
  /** Prefix of the per-reason drop totals, e.g. `dropped.max_age`. */
  DROPPED_PREFIX: 'dropped.',
} as const;

export const QUEUE_MIGRATIONS: readonly QueueMigration[] = [
  {
    version: 1,
    description: 'records, dead_letters, meta',
    up(db) {
      // `id` is given by the queue (last id + 1) rather than AUTOINCREMENT, which would
      // rewrite sqlite_sequence in every transaction: one more page per commit on flash.
      db.exec(`
        CREATE TABLE records (
          id INTEGER PRIMARY KEY,
          col TEXT NOT NULL,
          doc TEXT NOT NULL,
          ts INTEGER NOT NULL,
          data TEXT NOT NULL,
          bytes INTEGER NOT NULL,
          enqueued_at INTEGER NOT NULL,
          sent_at INTEGER -- unused since schema 3 (see sent_runs)
        );
        -- Sent rows only: pruning oldest-sent first and the resend window read it; unsent
        -- rows are found through the rowid and the in-memory cursor, so appends pay nothing.
        CREATE INDEX records_sent_at ON records(sent_at) WHERE sent_at IS NOT NULL;
        CREATE TABLE dead_letters (
          id INTEGER PRIMARY KEY,
          at INTEGER NOT NULL,
          reason TEXT NOT NULL,
          source TEXT NOT NULL,
          origin TEXT,
          payload BLOB,
          record TEXT
        );
        CREATE TABLE meta (key TEXT PRIMARY KEY, value) WITHOUT ROWID;
      `);
      const put = db.prepare('INSERT INTO meta(key, value) VALUES (?, 0)');
      for (const [name, key] of Object.entries(MetaKeys)) {
        if (name !== 'DROPPED_PREFIX') put.run(key);
      }
    },
  },
  {
    version: 2,
    description: 'kv_outbox (device metadata: outbox and synced state, one row per key)',
    up(db) {
      // One row per key, rewritten in place: a long outage of minute heartbeats keeps a
      // handful of rows rather than growing. `seq` orders the writes and lets an ack of an
      // older value leave a newer one pending; `acked_value` is what the server last took.
      db.exec(`
        CREATE TABLE kv_outbox (
          col TEXT NOT NULL,
          key TEXT NOT NULL,
          source TEXT NOT NULL,
          op TEXT NOT NULL CHECK (op IN ('set', 'delete')),
          value TEXT,
          seq INTEGER NOT NULL,
          state TEXT NOT NULL CHECK (state IN ('pending', 'acked', 'failed')),
          attempts INTEGER NOT NULL DEFAULT 0,
          last_error TEXT,
          updated_at INTEGER NOT NULL,
          acked_value TEXT,
          retired INTEGER NOT NULL DEFAULT 0,
          PRIMARY KEY (col, key)
        ) WITHOUT ROWID;
        CREATE INDEX kv_outbox_pending ON kv_outbox(seq) WHERE state = 'pending';
      `);
    },
  },
  {
    version: 3,
    description: 'sent_runs (sent rows as id runs; records.sent_at no longer written)',
    up(db) {
      db.exec(`
        CREATE TABLE sent_runs (lo INTEGER PRIMARY KEY, hi INTEGER NOT NULL, sent_at INTEGER NOT NULL);
        CREATE INDEX sent_runs_sent_at ON sent_runs(sent_at);
      `);
      // Sent rows that follow one another (no unsent row between them) and were acked within
      // MERGE_MS of the run's first become one run, as the queue itself would have made them.
      // Collected first: better-sqlite3 refuses writes while an iterator is open.
      const runs: Array<{ lo: number; hi: number; first: number; at: number }> = [];
      let run: { lo: number; hi: number; first: number; at: number } | null = null;
      const flush = (): void => {
        if (run) runs.push(run);
        run = null;
      };
      for (const [id, sentAt] of db.prepare('SELECT id, sent_at FROM records ORDER BY id').raw(true).iterate() as Iterable<[number, number | null]>) {
        if (sentAt === null) {
          flush();
          continue;
        }
        if (run !== null && sentAt - run.first <= MERGE_MS && run.first - sentAt <= MERGE_MS) {
          run.hi = id;
          run.at = Math.max(run.at, sentAt);
        } else {
          flush();
          run = { lo: id, hi: id, first: sentAt, at: sentAt };
        }
      }
      flush();
      const put = db.prepare('INSERT INTO sent_runs(lo, hi, sent_at) VALUES (?, ?, ?)');
      for (const r of runs) put.run(r.lo, r.hi, r.at);
      // The column stays (dropping it rewrites the whole file on flash) but is never read again.
      db.exec('DROP INDEX records_sent_at');
      deadLetterInvalidUnsent(db);
    },
  },
  {
    version: 4,
    description: 'sparkplug_births (alias tables of Sparkplug B edge nodes and devices)',
    up(db) {
      // One row per node (device '') and per device, rewritten at each birth only: data
      // messages never write here. `birth` is JSON {bdSeq, birthTs, metrics: [[name, type, alias]]}.
      db.exec(`
        CREATE TABLE sparkplug_births (
          node TEXT NOT NULL,
          device TEXT NOT NULL,
          birth TEXT NOT NULL,
          updated_at INTEGER NOT NULL,
          PRIMARY KEY (node, device)
        ) WITHOUT ROWID;
      `);
    },
  },
  {
    version: 5,
    description: 'open_windows (downsampling windows still open, resumed after a restart)',
    up(db) {
      db.exec('CREATE TABLE open_windows (key TEXT NOT NULL, start INTEGER NOT NULL, rule INTEGER NOT NULL, state TEXT NOT NULL, PRIMARY KEY (key, start)) WITHOUT ROWID');
    },
  },
  {
    version: 6,
    description: 'blocks (queued rows stored many to a row, compressed; see block-store.ts)',
    up(db) {
      // Existing rows stay in `records`, readable as before: compaction turns them into
      // blocks a block per transaction after the upgrade, so a large file is not rewritten
      // in one long transaction at start. Ids and sent runs are kept as they are.
      db.exec(`
        CREATE TABLE blocks (
          first_id INTEGER PRIMARY KEY,
          last_id INTEGER NOT NULL,
          n INTEGER NOT NULL,
          bytes INTEGER NOT NULL,
          min_enq INTEGER NOT NULL,
          max_enq INTEGER NOT NULL,
          body BLOB NOT NULL
        );
      `);
    },
  },
];

/**
 * Since schema 3 the queue checks records when they are appended and sends stored rows
 * without looking at them again; rows an older agent stored unchecked are moved to the
 * dead letters here, once, as the sender would have done when sending them.
 */
function deadLetterInvalidUnsent(db: Database): void {
  // The same check as append() (validateRecord), not a copy of it in SQL. Collected first:
  // better-sqlite3 refuses writes while an iterator is open.
  const bad: Array<{ id: number; bytes: number; record: Record<string, unknown>; problem: string }> = [];
  const unsent = db.prepare('SELECT id, col, doc, ts, data, bytes FROM records WHERE sent_at IS NULL');
  for (const r of unsent.iterate() as Iterable<{ id: number; col: unknown; doc: unknown; ts: unknown; data: unknown; bytes: number }>) {
    const record = { col: r.col, doc: r.doc, ts: r.ts, data: r.data };
    const problem = validateRecord(record);
    if (problem !== null) bad.push({ id: r.id, bytes: r.bytes, record, problem });
  }
  if (bad.length === 0) return;
  const at = Date.now();
  const put = db.prepare("INSERT INTO dead_letters(at, reason, source, origin, payload, record) VALUES (?, ?, 'queue', NULL, NULL, ?)");
  const del = db.prepare('DELETE FROM records WHERE id = ?');
  const bump = db.prepare('UPDATE meta SET value = value + ? WHERE key = ?');
  let bytes = 0;
  for (const b of bad) {
    put.run(at, `invalid record (found by the schema 3 upgrade): ${b.problem}`, JSON.stringify(b.record));
    del.run(b.id);
    bytes += b.bytes;
  }
  bump.run(-bad.length, MetaKeys.UNSENT_ROWS);
  bump.run(-bytes, MetaKeys.UNSENT_BYTES);
  // Rows of `records` count their logical size stored too; a file without the key takes it from UNSENT_BYTES at load.
  bump.run(-bytes, MetaKeys.UNSENT_STORED);
  bump.run(bad.length, MetaKeys.DEAD_LETTERED);
}

/** The version the given migration list leads to. */
export function latestVersion(migrations: readonly QueueMigration[]): number {
  return migrations.length === 0 ? 0 : migrations[migrations.length - 1]!.version;
}

/**
 * Brings the file to the newest version; returns the version it had before. A file newer
 * than this code is refused (a downgraded agent must not guess at a schema it does not know).
 */
export function applyMigrations(db: Database, migrations: readonly QueueMigration[]): number {
  migrations.forEach((m, i) => {
    if (m.version !== i + 1) throw new Error(`queue migration #${i} has version ${m.version}, expected ${i + 1}`);
  });
  const from = db.pragma('user_version', { simple: true }) as number;
  const latest = latestVersion(migrations);
  if (from > latest) {
    throw new AgentError(
      ErrorCodes.QUEUE_IO,
      `queue file ${db.name} has schema version ${from}, newer than this agent knows (${latest}); ` +
        'run a newer fluxion-edge, or move the file aside to start an empty queue',
    );
  }
  for (const m of migrations) {
    if (m.version <= from) continue;
    db.transaction(() => {
      m.up(db);
      db.pragma(`user_version = ${m.version}`);
    })();
  }
  return from;
}
