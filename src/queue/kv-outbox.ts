/**
 * The key/value outbox of device metadata, in the queue's SQLite file (table `kv_outbox`,
 * migration 2). One row per (collection, key) holds both what should be on the server
 * (`op`, `value`, written by a new `seq`) and what the server last acknowledged
 * (`acked_value`), so that:
 * - a value equal to the one already desired is not written again, across restarts;
 * - offline changes pile up as one row per key (newest value wins), replayed in `seq` order;
 * - an ack names the `seq` it answers: the ack of an older value never clears a newer one.
 * An acked delete removes the row: the agent no longer owns that key.
 */
import { existsSync } from 'node:fs';
import Database, { type Database as Db, type Statement } from 'better-sqlite3';
import { AgentError, ErrorCodes } from '../errors.js';
import { sqliteError } from './sqlite-errors.js';

export type KvOp = 'set' | 'delete';
export type KvState = 'pending' | 'acked' | 'failed';
/** Who wants the key: the config (`static`), a `kind: metadata` rule (`dynamic`), the gateway heartbeat. */
export type KvSource = 'static' | 'dynamic' | 'heartbeat';

export interface KvEntry {
  col: string;
  key: string;
  source: KvSource;
  op: KvOp;
  /** The value to set; null for a delete. */
  value: string | null;
  /** Order of the write; a newer write of the same key has a higher one. */
  seq: number;
  state: KvState;
  /** Failed attempts since the last change or success. */
  attempts: number;
  lastError: string | null;
  /** When the row last changed, ms since the epoch. */
  updatedAt: number;
  /** The value the server last acknowledged for this key (null: none yet). */
  ackedValue: string | null;
  /** No longer desired (removed from the config with `prune: false`): left on the server, never resynced. */
  retired: boolean;
}

/** A value wanted on the server. `value` must be non-empty (FluxionDB closes the socket on an empty one). */
export interface KvWrite {
  col: string;
  key: string;
  value: string;
  source: KvSource;
}

export interface KvKey {
  col: string;
  key: string;
}

export interface KvCounts {
  acked: number;
  pending: number;
  failed: number;
}

/** A `kv_outbox` row as SQLite returns it: snake_case names, `retired` as 0 or 1. */
type Row = Omit<KvEntry, 'lastError' | 'updatedAt' | 'ackedValue' | 'retired'> & {
  last_error: string | null;
  updated_at: number;
  acked_value: string | null;
  retired: number;
};

const toEntry = ({ last_error, updated_at, acked_value, retired, ...same }: Row): KvEntry => ({
  ...same,
  lastError: last_error,
  updatedAt: updated_at,
  ackedValue: acked_value,
  retired: retired !== 0,
});

/**
 * Statements on `kv_outbox`. Each public method is one transaction; SQLite failures come
 * out as EDGE_ERR_QUEUE_IO or EDGE_ERR_QUEUE_DISK_FULL with nothing written.
 */
export class KvOutbox {
  private readonly st: Record<
    'get' | 'upsert' | 'touch' | 'pending' | 'ackSet' | 'ackDelete' | 'fail' | 'retry' | 'all' | 'ofCol' | 'counts' | 'maxSeq' | 'markDelete' | 'retire',
    Statement
  >;
  private seq: number;

  constructor(
    private readonly db: Db,
    private readonly now: () => number = Date.now,
  ) {
    this.st = {
      get: db.prepare('SELECT * FROM kv_outbox WHERE col = ? AND key = ?'),
      upsert: db.prepare(
        `INSERT INTO kv_outbox(col, key, source, op, value, seq, state, attempts, last_error, updated_at, acked_value, retired)
         VALUES (@col, @key, @source, @op, @value, @seq, 'pending', 0, NULL, @now, NULL, 0)
         ON CONFLICT(col, key) DO UPDATE SET source = excluded.source, op = excluded.op, value = excluded.value,
           seq = excluded.seq, state = 'pending', attempts = 0, last_error = NULL, updated_at = excluded.updated_at, retired = 0`,
      ),
      touch: db.prepare('UPDATE kv_outbox SET source = ?, retired = 0 WHERE col = ? AND key = ?'),
      pending: db.prepare("SELECT * FROM kv_outbox WHERE state = 'pending' ORDER BY seq LIMIT ?"),
      ackSet: db.prepare(
        "UPDATE kv_outbox SET state = 'acked', acked_value = value, attempts = 0, last_error = NULL, updated_at = ? WHERE col = ? AND key = ? AND seq = ? AND op = 'set'",
      ),
      ackDelete: db.prepare("DELETE FROM kv_outbox WHERE col = ? AND key = ? AND seq = ? AND op = 'delete'"),
      fail: db.prepare("UPDATE kv_outbox SET state = 'failed', attempts = attempts + 1, last_error = ?, updated_at = ? WHERE col = ? AND key = ? AND seq = ?"),
      retry: db.prepare("UPDATE kv_outbox SET state = 'pending' WHERE state = 'failed'"),
      all: db.prepare('SELECT * FROM kv_outbox ORDER BY col, key'),
      ofCol: db.prepare('SELECT * FROM kv_outbox WHERE col = ? ORDER BY key'),
      counts: db.prepare('SELECT state, count(*) AS n FROM kv_outbox GROUP BY state'),
      maxSeq: db.prepare('SELECT max(seq) FROM kv_outbox').pluck(),
      markDelete: db.prepare(
        "UPDATE kv_outbox SET op = 'delete', value = NULL, seq = ?, state = 'pending', attempts = 0, last_error = NULL, updated_at = ?, retired = 0 WHERE col = ? AND key = ?",
      ),
      retire: db.prepare('UPDATE kv_outbox SET retired = 1 WHERE col = ? AND key = ?'),
    };
    this.seq = (this.st.maxSeq.get() as number | null) ?? 0;
  }

  /**
   * Wants each value on the server. A key whose desired value is already this one is left
   * as it is (only its source is updated): nothing new to send. Returns how many keys
   * changed and are now pending.
   */
  set(items: readonly KvWrite[]): number {
    if (items.length === 0) return 0;
    return this.txn('kv set', () => {
      let changed = 0;
      const now = this.now();
      for (const w of items) {
        if (w.value.length === 0) throw new AgentError(ErrorCodes.RECORD_INVALID, `metadata ${w.key}: an empty value cannot be stored (FluxionDB refuses it)`);
        const row = this.st.get.get(w.col, w.key) as Row | undefined;
        if (row !== undefined && row.op === 'set' && row.value === w.value) {
          if (row.source !== w.source || row.retired !== 0) this.st.touch.run(w.source, w.col, w.key);
          continue;
        }
        this.st.upsert.run({ col: w.col, key: w.key, source: w.source, op: 'set', value: w.value, seq: ++this.seq, now });
        changed++;
      }
      return changed;
    });
  }

  /**
   * Writes each key again although its desired value did not change (the server's copy
   * differs: someone edited it, or the server forgot it). Failed rows become pending too.
   */
  resend(keys: readonly KvKey[]): number {
    if (keys.length === 0) return 0;
    return this.txn('kv resend', () => {
      let n = 0;
      const now = this.now();
      for (const k of keys) {
        const row = this.st.get.get(k.col, k.key) as Row | undefined;
        if (row === undefined) continue;
        this.st.upsert.run({ col: row.col, key: row.key, source: row.source, op: row.op, value: row.value, seq: ++this.seq, now });
        if (row.retired !== 0) this.st.retire.run(row.col, row.key);
        n++;
      }
      return n;
    });
  }

  /**
   * Keys no longer desired: with `prune` a delete is queued; otherwise the key is left on
   * the server and retired (never resynced, deleted by a later prune). Returns how many changed.
   */
  remove(keys: readonly KvKey[], prune: boolean): number {
    if (keys.length === 0) return 0;
    return this.txn('kv remove', () => {
      let n = 0;
      const now = this.now();
      for (const k of keys) {
        const row = this.st.get.get(k.col, k.key) as Row | undefined;
        if (row === undefined || row.op === 'delete') continue;
        if (prune) this.st.markDelete.run(++this.seq, now, k.col, k.key);
        else if (row.retired === 0) this.st.retire.run(k.col, k.key);
        else continue;
        n++;
      }
      return n;
    });
  }

  /** The oldest pending writes, in `seq` order. No disk write. */
  pending(limit: number): KvEntry[] {
    return this.read(() => (this.st.pending.all(Math.max(1, limit)) as Row[]).map(toEntry));
  }

  /** The server acknowledged this write; false when a newer write of the key replaced it meanwhile. */
  ack(e: Pick<KvEntry, 'col' | 'key' | 'seq' | 'op'>): boolean {
    return this.txn('kv ack', () =>
      e.op === 'set' ? this.st.ackSet.run(this.now(), e.col, e.key, e.seq).changes > 0 : this.st.ackDelete.run(e.col, e.key, e.seq).changes > 0,
    );
  }

  /** The write failed for a reason that retrying at once will not fix; kept until `retryFailed()`. */
  fail(e: Pick<KvEntry, 'col' | 'key' | 'seq'>, error: string): void {
    this.txn('kv fail', () => this.st.fail.run(error, this.now(), e.col, e.key, e.seq));
  }

  /** Makes every failed write pending again; returns how many. */
  retryFailed(): number {
    return this.txn('kv retry', () => this.st.retry.run().changes);
  }

  /** Every row, or those of one collection, ordered by key. No disk write. */
  entries(col?: string): KvEntry[] {
    return this.read(() => ((col === undefined ? this.st.all.all() : this.st.ofCol.all(col)) as Row[]).map(toEntry));
  }

  counts(): KvCounts {
    return this.read(() => countsOf(this.st.counts.all() as Array<{ state: KvState; n: number }>));
  }

  private txn<T>(op: string, fn: () => T): T {
    const seq = this.seq;
    try {
      return this.db.transaction(fn)();
    } catch (err) {
      this.seq = seq;
      if (err instanceof AgentError) throw err;
      throw sqliteError(err, op);
    }
  }

  private read<T>(fn: () => T): T {
    try {
      return fn();
    } catch (err) {
      throw sqliteError(err, 'kv read');
    }
  }
}

function countsOf(rows: Array<{ state: KvState; n: number }>): KvCounts {
  const c: KvCounts = { acked: 0, pending: 0, failed: 0 };
  for (const r of rows) c[r.state] = r.n;
  return c;
}

/**
 * The outbox of a queue file, read through a read-only connection (works beside a running
 * agent). A file that predates the outbox (schema version 1) reads as empty.
 */
export function readKvOutbox(path: string): KvEntry[] {
  if (!existsSync(path)) throw new AgentError(ErrorCodes.QUEUE_IO, `no queue file at ${path}`);
  let db: Db | undefined;
  try {
    db = new Database(path, { readonly: true, fileMustExist: true });
    db.pragma('busy_timeout = 5000');
    const exists = db.prepare("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'kv_outbox'").pluck().get() as number;
    if (exists === 0) return [];
    return (db.prepare('SELECT * FROM kv_outbox ORDER BY col, key').all() as Row[]).map(toEntry);
  } catch (err) {
    throw new AgentError(ErrorCodes.QUEUE_IO, `cannot read the metadata outbox of ${path}: ${(err as Error).message}`, { cause: err });
  } finally {
    db?.close();
  }
}
