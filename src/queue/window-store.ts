/**
 * Open downsampling windows, saved in the queue file (table `open_windows`, migration 4) in
 * the same transaction as the records of the group that fed them: a reading is acknowledged
 * to its source only once its window state is on disk, so a restart resumes each window with
 * every reading it had, and never writes a partial window as if it were whole.
 *
 * One row per (rule, document, window start), rewritten per commit group that touches it:
 * a few hundred bytes per document, not a row per reading.
 */
import type { Database, Statement } from 'better-sqlite3';

export interface StoredWindow {
  rule: number;
  /** The document's key in the report stage. */
  key: string;
  /** Window start, ms since the epoch. */
  start: number;
  /** The accumulator, as plain data. */
  state: unknown;
}

export class WindowStore {
  private readonly put: Statement;
  private readonly del: Statement;
  private readonly all: Statement;

  constructor(db: Database) {
    this.put = db.prepare(
      'INSERT INTO open_windows(key, start, rule, state) VALUES (?, ?, ?, ?) ON CONFLICT(key, start) DO UPDATE SET rule = excluded.rule, state = excluded.state',
    );
    this.del = db.prepare('DELETE FROM open_windows WHERE key = ? AND start = ?');
    this.all = db.prepare('SELECT key, start, rule, state FROM open_windows ORDER BY start');
  }

  /** Saves windows; call inside the queue's transaction (SqliteQueue.append's `alsoInTxn`). */
  save(windows: readonly StoredWindow[]): void {
    for (const w of windows) this.put.run(w.key, w.start, w.rule, JSON.stringify(w.state));
  }

  /** Forgets closed windows; call in the transaction that appends their records. */
  remove(windows: ReadonlyArray<{ key: string; start: number }>): void {
    for (const w of windows) this.del.run(w.key, w.start);
  }

  load(): StoredWindow[] {
    return (this.all.all() as Array<{ key: string; start: number; rule: number; state: string }>).map((r) => ({
      key: r.key,
      start: r.start,
      rule: r.rule,
      state: JSON.parse(r.state) as unknown,
    }));
  }
}
