import type { Database, Statement } from 'better-sqlite3';
import type { QueuedRecord, RecordPage, SentQuery, SentRecord } from './types.js';

const RECORD_COLUMNS = 'id, col, doc, ts, data, bytes, enqueued_at AS enqueuedAt';
const RECORD_COLUMNS_R = 'r.id, r.col, r.doc, r.ts, r.data, r.bytes, r.enqueued_at AS enqueuedAt';

/** Largest id span one page of `sentPage`/`resendPage` scans, so a call stays short. */
export const PAGE_SCAN_SPAN = 50_000;

export interface IdBytes {
  id: number;
  bytes: number;
  enqueuedAt: number;
}

/** `sentAt` of row `r.id`: the time of the sent run holding it, or NULL when it is unsent. */
export const SENT_AT_OF_ROW =
  '(SELECT CASE WHEN s.hi >= r.id THEN s.sent_at END FROM sent_runs s WHERE s.lo <= r.id ORDER BY s.lo DESC LIMIT 1)';

/** What `batchIn` reads: the rows of an id range as one `ins` payload, built by SQLite. */
export interface EncodedChunk {
  count: number;
  lastId: number;
  bytes: number;
  /** JSON array of `{ts, doc, data, col}`. */
  json: string;
  /** The chunk's last record (the one with `lastId`). */
  last: { col: string; doc: string; ts: number; data: string };
}

/**
 * The prepared statements on `records`, prepared once at start. Which rows are sent is
 * kept in `sent_runs` (sent-runs.ts): the queue reads unsent rows as id ranges between runs,
 * so `records` is only ever inserted into and deleted from, and appends write only the table.
 */
export class RecordStore {
  readonly insert: Statement;
  /** (fromId, toId, limit) -> the rows in [fromId, toId], oldest first. */
  readonly rowsRange: Statement;
  /** (fromId, toId, limit) -> id, bytes, enqueuedAt of the rows in [fromId, toId]. */
  readonly lightRange: Statement;
  /** (fromId, toId) -> id, bytes, enqueuedAt of the first row in [fromId, toId]. */
  readonly firstInRange: Statement;
  readonly deleteRange: Statement;
  /** (id) -> the row. */
  readonly rowById: Statement;
  readonly deleteById: Statement;
  readonly maxId: Statement;
  readonly minId: Statement;
  readonly sentPage: Statement;
  readonly resendPage: Statement;
  private readonly batchRange: Statement;

  constructor(db: Database) {
    this.insert = db.prepare(
      'INSERT INTO records(id, col, doc, ts, data, bytes, enqueued_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
    );
    // Raw rows: better-sqlite3 builds an object per row through the V8 API at about twice
    // the cost of building it here from an array (measured: 4.1 vs 2.4 us a row).
    this.rowsRange = db
      .prepare(`SELECT ${RECORD_COLUMNS} FROM records WHERE id >= ? AND id <= ? ORDER BY id LIMIT ?`)
      .raw(true);
    this.lightRange = db.prepare(
      'SELECT id, bytes, enqueued_at AS enqueuedAt FROM records WHERE id >= ? AND id <= ? ORDER BY id LIMIT ?',
    );
    this.firstInRange = db.prepare(
      'SELECT id, bytes, enqueued_at AS enqueuedAt FROM records WHERE id >= ? AND id <= ? ORDER BY id LIMIT 1',
    );
    this.deleteRange = db.prepare('DELETE FROM records WHERE id >= ? AND id <= ?');
    this.rowById = db.prepare(`SELECT ${RECORD_COLUMNS} FROM records WHERE id = ?`);
    this.deleteById = db.prepare('DELETE FROM records WHERE id = ?');
    // One row for a whole batch: SQLite encodes the records (0.7 us a row, against 3.2 us
    // for reading them into JavaScript and encoding them there). A plain id range, with no
    // ORDER BY/LIMIT subquery, which would double that. With a single max() aggregate the
    // bare columns come from the row holding max(id).
    this.batchRange = db
      .prepare(
        `SELECT count(*), max(id), coalesce(sum(bytes), 0),
                json_group_array(json_object('ts', ts, 'doc', doc, 'data', data, 'col', col)), col, doc, ts, data
         FROM records WHERE id >= ? AND id <= ?`,
      )
      .raw(true);
    this.maxId = db.prepare('SELECT max(id) FROM records').pluck();
    this.minId = db.prepare('SELECT min(id) FROM records').pluck();
    this.sentPage = db.prepare(
      `SELECT * FROM (
         SELECT ${RECORD_COLUMNS_R}, ${SENT_AT_OF_ROW} AS sentAt FROM records r
         WHERE r.id > @after AND r.id <= @to AND r.enqueued_at >= @since AND r.enqueued_at < @until
           AND (@col IS NULL OR r.col = @col) AND (@doc IS NULL OR r.doc = @doc))
       WHERE sentAt IS NOT NULL ORDER BY id LIMIT @limit`,
    );
    this.resendPage = db.prepare(
      `SELECT * FROM (SELECT ${RECORD_COLUMNS_R}, ${SENT_AT_OF_ROW} AS sentAt FROM records r WHERE r.id > ? AND r.id <= ?)
       WHERE sentAt >= ? ORDER BY id LIMIT ?`,
    );
  }

  /** The rows of [fromId, toId] as one encoded chunk; null when there are none. */
  batchIn(fromId: number, toId: number): EncodedChunk | null {
    const r = this.batchRange.get(fromId, toId) as [number, number, number, string, string, string, number, string];
    if (r[0] === 0) return null;
    return { count: r[0], lastId: r[1], bytes: r[2], json: r[3], last: { col: r[4], doc: r[5], ts: r[6], data: r[7] } };
  }

  /** The rows in [fromId, toId], oldest first, at most `limit`. */
  rowsIn(fromId: number, toId: number, limit: number): QueuedRecord[] {
    const raw = this.rowsRange.all(fromId, toId, limit) as Array<[number, string, string, number, string, number, number]>;
    const out = new Array<QueuedRecord>(raw.length);
    for (let i = 0; i < raw.length; i++) {
      const r = raw[i]!;
      out[i] = { id: r[0], col: r[1], doc: r[2], ts: r[3], data: r[4], bytes: r[5], enqueuedAt: r[6] };
    }
    return out;
  }

  /**
   * One page of retained sent rows enqueued in [sinceMs, untilMs), ascending id, for
   * replay. Scans at most PAGE_SCAN_SPAN ids after the cursor (up to `maxId`), so a page may
   * be empty with `done: false`; call again with `afterId: nextAfterId`.
   */
  sentRowsPage(q: SentQuery, maxId: number): RecordPage<SentRecord> {
    const first = ((this.minId.get() as number | null) ?? 1) - 1;
    const after = Math.max(q.afterId ?? 0, first);
    const to = Math.min(after + PAGE_SCAN_SPAN, maxId);
    const rows = this.sentPage.all({
      after,
      to,
      since: q.sinceMs,
      until: q.untilMs ?? Number.MAX_SAFE_INTEGER,
      col: q.col ?? null,
      doc: q.doc ?? null,
      limit: q.limit,
    }) as SentRecord[];
    const nextAfterId = rows.length >= q.limit ? rows[rows.length - 1]!.id : Math.max(to, after);
    return { rows, nextAfterId, done: nextAfterId >= maxId };
  }
}

/** Size counted against the caps. `.length` (UTF-16 units) rather than Buffer.byteLength:
 * measured 3 ms vs 130 ms per million records here, and exact for ASCII JSON. */
export function recordBytes(r: { col: string; doc: string; data: string }): number {
  return r.col.length + r.doc.length + r.data.length + 16;
}
