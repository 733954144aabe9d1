import type { Database, Statement } from 'better-sqlite3';
import type { FluxionRecord } from '../client/types.js';
import type { DeadLetter, DeadLetterFilter, DeadLetterInput, DeadLetterSummary } from './types.js';

interface DeadLetterRow {
  id: number;
  at: number;
  reason: string;
  source: string;
  origin: string | null;
  payload: Buffer | string | null;
  record: string | null;
}

/** Rows deleted per statement when purging, so one call never holds the writer for long. */
const PURGE_CHUNK = 5000;

/**
 * SQL for the dead_letters table. Methods that write must run inside the queue's
 * transaction (the queue owns transactions, counters and error mapping).
 */
export class DeadLetterStore {
  private readonly insert: Statement;
  private readonly list: Statement;
  private readonly get: Statement;
  private readonly remove: Statement;
  private readonly updateReason: Statement;
  private readonly purgeOldest: Statement;
  private readonly purgeBefore: Statement;
  private readonly count: Statement;
  private readonly filtered: Statement;
  private readonly summaryStmt: Statement;
  /** Rows in the table; counted at open (the table is capped, so COUNT is quick). */
  depth: number;

  constructor(db: Database) {
    this.insert = db.prepare(
      'INSERT INTO dead_letters(at, reason, source, origin, payload, record) VALUES (?, ?, ?, ?, ?, ?)',
    );
    this.list = db.prepare('SELECT * FROM dead_letters WHERE id > ? ORDER BY id LIMIT ?');
    this.get = db.prepare('SELECT * FROM dead_letters WHERE id = ?');
    this.remove = db.prepare('DELETE FROM dead_letters WHERE id = ?');
    this.updateReason = db.prepare('UPDATE dead_letters SET reason = ? WHERE id = ?');
    this.purgeOldest = db.prepare(
      'DELETE FROM dead_letters WHERE id IN (SELECT id FROM dead_letters ORDER BY id LIMIT ?)',
    );
    this.purgeBefore = db.prepare(
      'DELETE FROM dead_letters WHERE id IN (SELECT id FROM dead_letters WHERE at < ? ORDER BY id LIMIT ?)',
    );
    this.count = db.prepare('SELECT count(*) AS n FROM dead_letters').pluck();
    // The reason code is the text before the first ':' ("no_rule: ..."); NULL filters match all.
    this.filtered = db.prepare(
      `SELECT * FROM dead_letters WHERE id > @after
         AND (@reason IS NULL OR substr(reason, 1, instr(reason || ':', ':') - 1) = @reason)
         AND (@source IS NULL OR source = @source)
       ORDER BY id LIMIT @limit`,
    );
    this.summaryStmt = db.prepare(
      `SELECT substr(reason, 1, instr(reason || ':', ':') - 1) AS reason, source, count(*) AS count
         FROM dead_letters GROUP BY 1, 2 ORDER BY 3 DESC, 1, 2`,
    );
    this.depth = this.count.get() as number;
  }

  /** Inserts; returns the bytes written (for the flash estimate). */
  add(items: readonly DeadLetterInput[], at: number): number {
    let bytes = 0;
    for (const d of items) {
      const record = d.record ? JSON.stringify(d.record) : null;
      const payload = d.payload ?? null;
      this.insert.run(at, d.reason, d.source, d.origin ?? null, payload, record);
      bytes += 32 + d.reason.length + (payload?.length ?? 0) + (record?.length ?? 0);
    }
    this.depth += items.length;
    return bytes;
  }

  /** Purges the oldest rows beyond `maxRows`; returns how many. */
  enforceCap(maxRows: number): number {
    let purged = 0;
    while (this.depth > maxRows) {
      const n = this.purgeOldest.run(Math.min(PURGE_CHUNK, this.depth - maxRows)).changes;
      if (n === 0) break;
      this.depth -= n;
      purged += n;
    }
    return purged;
  }

  page(afterId: number, limit: number): DeadLetter[] {
    return (this.list.all(afterId, limit) as DeadLetterRow[]).map(toDeadLetter);
  }

  /** A page filtered by reason code and source (see DeadLetterFilter). */
  search(f: DeadLetterFilter): DeadLetter[] {
    const rows = this.filtered.all({ after: f.afterId ?? 0, limit: f.limit ?? 100, reason: f.reason ?? null, source: f.source ?? null });
    return (rows as DeadLetterRow[]).map(toDeadLetter);
  }

  /** Counts per reason code and source, largest first. */
  summary(): DeadLetterSummary[] {
    return this.summaryStmt.all() as DeadLetterSummary[];
  }

  byId(id: number): DeadLetter | undefined {
    const row = this.get.get(id) as DeadLetterRow | undefined;
    return row && toDeadLetter(row);
  }

  /** Replaces a dead letter's reason (a retry found a new one); false when the id is gone. */
  setReason(id: number, reason: string): boolean {
    return this.updateReason.run(reason, id).changes > 0;
  }

  delete(id: number): boolean {
    const n = this.remove.run(id).changes;
    this.depth -= n;
    return n > 0;
  }

  /** Deletes up to one chunk older than `beforeMs`; returns how many. */
  purgeOlderThan(beforeMs: number): number {
    const n = this.purgeBefore.run(beforeMs, PURGE_CHUNK).changes;
    this.depth -= n;
    return n;
  }

  recount(): number {
    this.depth = this.count.get() as number;
    return this.depth;
  }
}

function toDeadLetter(row: DeadLetterRow): DeadLetter {
  let record: FluxionRecord | null = null;
  if (row.record !== null) {
    try {
      record = JSON.parse(row.record) as FluxionRecord;
    } catch {
      record = null;
    }
  }
  return {
    id: row.id,
    at: row.at,
    reason: row.reason,
    source: row.source,
    origin: row.origin,
    payload: row.payload,
    record,
  };
}
