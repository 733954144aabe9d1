import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { QUEUE_MIGRATIONS, type SqliteQueue } from '../../../src/queue/index.js';
import { MERGE_MS } from '../../../src/queue/sent-runs.js';
import { applyMigrations } from '../../../src/queue/schema.js';
import Database from 'better-sqlite3';
import { queueFixture } from '../../helpers/queue.js';

const rec = (i: number) => ({ col: 'c', doc: `d${i % 3}`, ts: 1000 + i, data: `{"v":${i}}` });

describe('SqliteQueue: sent runs, encoded leases, checks at append', () => {
  const f = queueFixture();
  const open = f.open;
  const runs = (q: SqliteQueue) => q.database.prepare('SELECT lo, hi, sent_at AS at FROM sent_runs ORDER BY lo').all();

  it('marks acked batches sent as id runs: one run while acks follow closely, a new one after MERGE_MS', () => {
    const q = open();
    q.append(Array.from({ length: 9 }, (_, i) => rec(i + 1)));
    const a = q.lease({ maxRecords: 3, maxBytes: 1e6 })!;
    const b = q.lease({ maxRecords: 3, maxBytes: 1e6 })!;
    const c = q.lease({ maxRecords: 3, maxBytes: 1e6 })!;
    q.ack(b); // out of order: b first, then a joins it from below
    f.clock += 10;
    q.ack(a);
    expect(runs(q)).toEqual([{ lo: 1, hi: 6, at: f.clock }]);
    f.clock += MERGE_MS + 1;
    q.ack(c);
    expect(runs(q)).toEqual([
      { lo: 1, hi: 6, at: f.clock - MERGE_MS - 1 },
      { lo: 7, hi: 9, at: f.clock },
    ]);
    expect(q.stats()).toMatchObject({ depth: 0, sent: 9, retainedRows: 9, leased: 0, oldestUnsentEnqueuedAt: null });
    // After a restart the runs come back from the file: nothing is leased twice.
    q.stop();
    const q2 = open();
    expect(q2.lease({ maxRecords: 100, maxBytes: 1e6 })).toBeNull();
    q2.append([rec(10)]);
    expect(q2.lease({ maxRecords: 100, maxBytes: 1e6 })!.records.map((r) => r.id)).toEqual([10]);
  });

  it('an ack between two open runs joins them into one', () => {
    const q = open();
    q.append(Array.from({ length: 9 }, (_, i) => rec(i + 1)));
    const [a, b, c] = [1, 2, 3].map(() => q.lease({ maxRecords: 3, maxBytes: 1e6 })!);
    q.ack(a);
    q.ack(c);
    expect(runs(q)).toHaveLength(2);
    f.clock += 5;
    q.ack(b);
    expect(runs(q)).toEqual([{ lo: 1, hi: 9, at: f.clock }]);
    expect(q.stats()).toMatchObject({ depth: 0, sent: 9, retainedRows: 9 });
  });

  it('never hands out an id that a sent run covers, even after the rows of the run are gone', () => {
    const q = open();
    q.append([rec(1), rec(2), rec(3)]);
    q.ack(q.lease({ maxRecords: 10, maxBytes: 1e6 })!);
    q.database.prepare('DELETE FROM records').run(); // as if an operator emptied the table
    q.stop();
    const q2 = open();
    q2.append([rec(4)]);
    expect(q2.newestId()).toBe(4);
    expect(q2.lease({ maxRecords: 10, maxBytes: 1e6 })!.records.map((r) => r.id)).toEqual([4]);
  });

  it('hands out a lease as one ins payload built by SQLite, and its rows on demand', () => {
    const q = open();
    const records = Array.from({ length: 5 }, (_, i) => rec(i + 1));
    q.append(records);
    const lease = q.lease({ maxRecords: 10, maxBytes: 1e6 })!;
    expect(lease.count).toBe(5);
    expect(JSON.parse(lease.payload!)).toEqual(records);
    expect(lease.last).toEqual(records[4]);
    expect(lease.records.map((r) => r.id)).toEqual([1, 2, 3, 4, 5]);
    expect(lease.bytes).toBe(lease.records.reduce((s, r) => s + r.bytes, 0));
    // A byte cap that cuts the batch short goes row by row: no payload, the rows at hand.
    const q2 = open({ path: join(f.dir.path, 'q2.db') });
    q2.append(records);
    const cut = q2.lease({ maxRecords: 10, maxBytes: 60 })!;
    expect(cut.payload).toBeNull();
    expect(cut.records.map((r) => r.id)).toEqual([1, 2]);
  });

  it('acks part of a lease (a probe) without marking the rest sent, and skips a dead-lettered row', () => {
    const q = open();
    q.append(Array.from({ length: 6 }, (_, i) => rec(i + 1)));
    const lease = q.lease({ maxRecords: 6, maxBytes: 1e6 })!;
    expect(q.ack(lease, [1, 2, 4])).toBe(3);
    expect(q.deadLetterLeased(lease, [3], 'poison')).toBe(1);
    expect(q.stats()).toMatchObject({ depth: 2, sent: 3, leased: 2 });
    expect(q.ack(lease)).toBe(2); // 5 and 6
    expect(q.stats()).toMatchObject({ depth: 0, sent: 5, leased: 0, leases: 0, deadLettered: 1 });
    expect(runs(q)).toEqual([
      { lo: 1, hi: 2, at: f.clock },
      { lo: 4, hi: 6, at: f.clock },
    ]);
  });

  it('dead-letters invalid records at append, with their reason, and stores the valid ones', () => {
    const q = open();
    const result = q.append([rec(1), { col: 'c', doc: '', ts: 5, data: '{}' }, { col: 'c', doc: 'd', ts: 0, data: '{}' }, rec(2)]);
    expect(result).toMatchObject({ accepted: 2, invalid: 2, dropped: 0 });
    expect(q.stats()).toMatchObject({ depth: 2, deadLettered: 2, deadLetterDepth: 2 });
    expect(q.listDeadLetters().map((d) => [d.source, d.reason])).toEqual([
      ['queue', 'invalid record: record.doc must be a non-empty string (got an empty string)'],
      ['queue', 'invalid record: record.ts must be an integer > 0 (got 0)'],
    ]);
  });

  it('upgrades a schema 2 file: sent rows become runs, unchecked invalid rows become dead letters', () => {
    // A file as a schema 2 agent left it: sent_at on each sent row, and a row it never checked.
    const db = new Database(join(f.dir.path, 'q.db'));
    applyMigrations(db, QUEUE_MIGRATIONS.slice(0, 2));
    const put = db.prepare('INSERT INTO records(id, col, doc, ts, data, bytes, enqueued_at, sent_at) VALUES (?, ?, ?, ?, ?, 20, ?, ?)');
    for (let i = 1; i <= 6; i++) {
      const r = rec(i);
      const sentAt = i <= 3 ? f.clock : i === 5 ? f.clock + 5000 : null;
      put.run(i, r.col, i === 6 ? '' : r.doc, r.ts, r.data, f.clock, sentAt);
    }
    const meta = db.prepare('UPDATE meta SET value = ? WHERE key = ?');
    meta.run(2, 'unsent_rows');
    meta.run(40, 'unsent_bytes');
    meta.run(4, 'retained_rows');
    meta.run(80, 'retained_bytes');
    db.close();

    const q = open();
    expect(runs(q)).toEqual([
      { lo: 1, hi: 3, at: f.clock },
      { lo: 5, hi: 5, at: f.clock + 5000 },
    ]);
    expect(q.stats()).toMatchObject({ depth: 1, deadLettered: 1, deadLetterDepth: 1 });
    expect(q.listDeadLetters()[0]).toMatchObject({
      source: 'queue',
      reason: 'invalid record (found by the schema 3 upgrade): record.doc must be a non-empty string (got an empty string)',
      record: { col: 'c', doc: '', ts: 1006 },
    });
    expect(q.lease({ maxRecords: 10, maxBytes: 1e6 })!.records.map((r) => r.id)).toEqual([4]);
    expect(q.resendCandidates(f.clock + 1, { limit: 10 }).rows.map((r) => r.id)).toEqual([5]);
  });
});
