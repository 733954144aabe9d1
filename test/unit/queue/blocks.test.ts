import { describe, expect, it } from 'vitest';
import { QUEUE_MIGRATIONS, openQueueReadOnly, type SqliteQueue } from '../../../src/queue/index.js';
import { decodeBlock, encodeBlock } from '../../../src/queue/block-codec.js';
import { BLOCK_ROWS } from '../../../src/queue/compaction.js';
import { BlockStore } from '../../../src/queue/block-store.js';
import { queueFixture } from '../../helpers/queue.js';

// Readings of the kind over 10 documents; `ts` and `data` carry the reading number.
const rec = (i: number) => ({ col: i % 7 === 0 ? 'c7' : 'c', doc: `d${i % 10}`, ts: 1000 + i, data: `{"temperature":${i},"humidity":40.2}` });
const nums = (rows: readonly { data: string }[]) => rows.map((r) => (JSON.parse(r.data) as { temperature: number }).temperature);
const range = (from: number, n: number) => Array.from({ length: n }, (_, k) => from + k);

/** Appends readings from..from+n-1 in groups of 20, `clockStep` ms apart per group. */
function fill(q: SqliteQueue, f: { clock: number }, from: number, n: number, clockStep = 0): void {
  for (let i = from; i < from + n; i += 20) {
    q.append(range(i, Math.min(20, from + n - i)).map(rec));
    f.clock += clockStep;
  }
}

const count = (q: SqliteQueue, table: string) => q.database.prepare(`SELECT count(*) FROM ${table}`).pluck().get() as number;

/** Leases and acks everything unsent; returns the readings in the order leased. */
function drain(q: SqliteQueue): number[] {
  const out: number[] = [];
  for (let l = q.lease({ maxRecords: 1500, maxBytes: 1e9 }); l !== null; l = q.lease({ maxRecords: 1500, maxBytes: 1e9 })) {
    out.push(...nums(JSON.parse(l.payload ?? JSON.stringify(l.records)) as { data: string }[]));
    q.ack(l);
  }
  return out;
}

describe('SqliteQueue: rows stored as compressed blocks', () => {
  const f = queueFixture();
  // Compaction of rows appended straight to SQLite (a live sender, an upgraded file): the
  // staging log, which writes blocks itself, is off here (test/unit/queue/staging.test.ts).
  const open = (o = {}) => f.open({ compactTailRows: 0, stageFlushMs: 0, ...o });

  it('compacts unsent rows into blocks, keeps ids, and leases across blocks and rows oldest first, each once', () => {
    const q = open();
    fill(q, f, 0, 2 * BLOCK_ROWS + 500);
    const before = q.stats();
    expect(q.compact(10)).toBe(2 * BLOCK_ROWS);
    expect(count(q, 'blocks')).toBe(2);
    expect(count(q, 'records')).toBe(500);
    expect(q.stats()).toMatchObject({ depth: before.depth, bytes: before.bytes });
    // A lease reads the same rows with the same ids as before compaction, partly from a block.
    const l = q.lease({ maxRecords: 10, maxBytes: 1e9, minId: BLOCK_ROWS - 4 })!;
    expect(l.records.map((r) => r.id)).toEqual(range(BLOCK_ROWS - 4, 10));
    expect(l.records[0]).toMatchObject({ ...rec(BLOCK_ROWS - 5), enqueuedAt: 1_000_000 });
    expect(JSON.parse(l.payload!)).toEqual(range(BLOCK_ROWS - 5, 10).map((i) => { const { col, doc, ts, data } = rec(i); return { ts, doc, data, col }; }));
    q.release(l);
    const sent = drain(q);
    expect(sent).toEqual(range(0, 2 * BLOCK_ROWS + 500));
    expect(q.stats()).toMatchObject({ depth: 0, sent: 2 * BLOCK_ROWS + 500, retainedRows: 2 * BLOCK_ROWS + 500 });
  });

  it('blocks written by an earlier agent (version 2, unescaped) lease the same escaped payload as version 3 blocks', () => {
    const leases = (rewrite: boolean): Array<{ payload: string; escaped: string }> => {
      const q = f.open({ path: `${f.dir.path}/v${rewrite ? 2 : 3}.db`, compactTailRows: 0, stageFlushMs: 0 });
      fill(q, f, 0, 2 * BLOCK_ROWS + 500);
      q.compact(10);
      if (rewrite) {
        for (const { first, body } of q.database.prepare('SELECT first_id AS first, body FROM blocks').all() as Array<{ first: number; body: Buffer }>) {
          const d = decodeBlock(body);
          expect(d.version).toBe(3);
          const old = encodeBlock(Array.from({ length: d.n }, (_, k) => d.blockRow(k)), 2);
          q.database.prepare('UPDATE blocks SET body = ? WHERE first_id = ?').run(old, first);
        }
      }
      const out: Array<{ payload: string; escaped: string }> = [];
      // Across the block boundary, and from blocks into the rows.
      for (const minId of [1, BLOCK_ROWS - 4, 2 * BLOCK_ROWS - 3]) {
        const l = q.lease({ maxRecords: 700, maxBytes: 1e9, minId })!;
        out.push({ payload: l.payload!, escaped: Buffer.concat(l.escaped!).toString('utf8') });
        q.release(l);
      }
      expect(drain(q)).toEqual(range(0, 2 * BLOCK_ROWS + 500));
      return out;
    };
    const v3 = leases(false);
    const v2 = leases(true);
    expect(v2).toEqual(v3);
    for (const l of v3) expect(l.escaped).toBe(JSON.stringify(l.payload).slice(1, -1));
    expect(JSON.parse(v3[1]!.payload)).toEqual(range(BLOCK_ROWS - 5, 700).map((i) => { const { col, doc, ts, data } = rec(i); return { ts, doc, data, col }; }));
  });

  it('leaves leased and sent rows, and the newest compactTailRows ids, as rows', () => {
    const q = open({ compactTailRows: BLOCK_ROWS });
    fill(q, f, 0, BLOCK_ROWS + 500);
    expect(q.compact(10)).toBe(0); // ids 501.. are the tail: fewer than a block below it
    const l = q.lease({ maxRecords: 10, maxBytes: 1e9 })!; // ids 1..10 leased
    fill(q, f, BLOCK_ROWS + 500, BLOCK_ROWS);
    expect(q.compact(10)).toBe(BLOCK_ROWS);
    expect(q.database.prepare('SELECT first_id, last_id FROM blocks').raw(true).all()).toEqual([[11, 10 + BLOCK_ROWS]]);
    q.ack(l);
    fill(q, f, 2 * BLOCK_ROWS + 500, 20);
    expect(q.compact(10)).toBe(0); // ids 1..10 are sent
    expect(drain(q)).toEqual(range(10, 2 * BLOCK_ROWS + 510));
  });

  it('replays by time range, collection and document across block boundaries', () => {
    const q = open();
    // Enqueue time rises by 1 ms per group of 20: reading i enqueued at 1,000,000 + floor(i / 20).
    fill(q, f, 0, 3 * BLOCK_ROWS, 1);
    expect(q.compact(10)).toBe(3 * BLOCK_ROWS);
    drain(q);
    fill(q, f, 3 * BLOCK_ROWS, 200, 1); // unsent rows after the blocks: never replayed
    const since = 1_000_000 + (BLOCK_ROWS - 100) / 20;
    const until = 1_000_000 + (2 * BLOCK_ROWS + 100) / 20;
    const all = (doc?: string) => {
      const out: number[] = [];
      for (let p = q.leaseSent({ sinceMs: since, untilMs: until, limit: 333, doc }); ; p = q.leaseSent({ sinceMs: since, untilMs: until, limit: 333, doc, afterId: p.nextAfterId })) {
        out.push(...nums(p.rows));
        if (p.done) return out;
      }
    };
    const want = range(BLOCK_ROWS - 100, BLOCK_ROWS + 200);
    expect(all()).toEqual(want);
    expect(all('d3')).toEqual(want.filter((i) => i % 10 === 3));
    const ro = openQueueReadOnly(q.options.path);
    try {
      expect(ro.countSent({ sinceMs: since, untilMs: until })).toBe(want.length);
      expect(ro.countSent({ sinceMs: 0, col: 'c7' })).toBe(range(0, 3 * BLOCK_ROWS).filter((i) => i % 7 === 0).length);
      expect(ro.stats().depth).toBe(200);
      expect(ro.stats().oldestUnsentEnqueuedAt).toBe(1_000_000 + (3 * BLOCK_ROWS) / 20);
    } finally {
      ro.close();
    }
  });

  it('takes single rows out of a block: a poison record dead-lettered, drop_oldest, max_age, retention', () => {
    const q = open({ maxRows: 2 * BLOCK_ROWS, maxAgeMs: 60_000, retainSentMs: 30_000 });
    fill(q, f, 0, 2 * BLOCK_ROWS);
    q.compact(10);
    // drop_oldest: 20 more evict the 20 oldest unsent, out of the first block.
    fill(q, f, 2 * BLOCK_ROWS, 20);
    expect(q.stats().droppedByReason.queue_full_drop_oldest).toBe(20);
    const l = q.lease({ maxRecords: 100, maxBytes: 1e9 })!;
    expect(nums(l.records)).toEqual(range(20, 100));
    expect(q.deadLetterLeased(l, [50], 'poison')).toBe(1);
    expect(q.listDeadLetters()[0]!.record).toEqual(rec(49));
    expect(q.ack(l)).toBe(99);
    f.clock += 45_000; // the sent rows pass retain_sent, none is yet past max_age
    expect(q.prune().prunedSent).toBe(99);
    f.clock += 20_000; // everything left is past max_age
    q.prune();
    const s = q.stats();
    expect(s.depth).toBe(0);
    expect(s.appended).toBe(2 * BLOCK_ROWS + 20);
    expect(s.sent + s.deadLettered + s.dropped).toBe(s.appended);
    expect(count(q, 'blocks') + count(q, 'records')).toBe(0);
  });

  it('a compaction that fails at any step leaves the rows as they were (crash safety by transaction)', () => {
    const q = open();
    fill(q, f, 0, BLOCK_ROWS + 40);
    const l = q.lease({ maxRecords: 5, maxBytes: 1e9 })!;
    q.ack(l);
    const db = q.database;
    const steps = [
      'CREATE TEMP TRIGGER fail BEFORE INSERT ON blocks BEGIN SELECT RAISE(ABORT, \'crash\'); END',
      'CREATE TEMP TRIGGER fail AFTER INSERT ON blocks BEGIN SELECT RAISE(ABORT, \'crash\'); END',
      'CREATE TEMP TRIGGER fail BEFORE DELETE ON records BEGIN SELECT RAISE(ABORT, \'crash\'); END',
      'CREATE TEMP TRIGGER fail AFTER DELETE ON records WHEN old.id = 5 + 2000 BEGIN SELECT RAISE(ABORT, \'crash\'); END',
      "CREATE TEMP TRIGGER fail BEFORE UPDATE ON meta BEGIN SELECT RAISE(ABORT, 'crash'); END",
    ];
    const stats = q.stats();
    for (const step of steps) {
      db.exec(step);
      expect(() => q.compact(1)).toThrow();
      db.exec('DROP TRIGGER fail');
      expect(count(q, 'blocks')).toBe(0);
      expect(count(q, 'records')).toBe(BLOCK_ROWS + 40);
      expect(q.stats()).toEqual(stats);
    }
    expect(q.compact(1)).toBe(BLOCK_ROWS);
    expect(drain(q)).toEqual(range(5, BLOCK_ROWS + 35));
  });

  it('upgrades a file of schema 5 in place: queued, leased, sent and dead-lettered rows keep their state', () => {
    const old = f.open({ migrations: QUEUE_MIGRATIONS.slice(0, 5) });
    fill(old, f, 0, BLOCK_ROWS + 100);
    const sent = old.lease({ maxRecords: 30, maxBytes: 1e9 })!;
    old.deadLetterLeased(sent, [3], 'poison');
    old.ack(sent); // ids 1..30 but 3: sent
    old.lease({ maxRecords: 10, maxBytes: 1e9 }); // ids 31..40 leased when the agent stops
    old.stop();
    f.queues.length = 0;

    const q = open();
    expect(q.start().migratedFrom).toBe(5);
    expect(q.stats()).toMatchObject({ depth: BLOCK_ROWS + 100 - 30, sent: 29, deadLettered: 1 });
    expect(q.compact(10)).toBe(BLOCK_ROWS);
    expect(count(q, 'records')).toBe(29 + 70);
    expect(q.listDeadLetters().map((d) => d.record)).toEqual([rec(2)]);
    expect(nums(q.leaseSent({ sinceMs: 0, limit: 100 }).rows)).toEqual(range(0, 30).filter((i) => i !== 2));
    // The rows leased at the stop go again, the sent ones do not.
    expect(drain(q)).toEqual(range(30, BLOCK_ROWS + 70));
  });

  it('finds the blocks overlapping an id range, ascending, the one holding its first id included; a limit stops early', () => {
    const q = open();
    fill(q, f, 0, 3 * BLOCK_ROWS);
    while (q.compact(100) > 0);
    const blocks = new BlockStore(q.database);
    const all = blocks.overlapping(1, Number.MAX_SAFE_INTEGER);
    expect(all.length).toBe(3);
    expect(all.map((h) => h.first)).toEqual([...all.map((h) => h.first)].sort((a, b) => a - b));
    const [a, b, c] = all as [(typeof all)[0], (typeof all)[0], (typeof all)[0]];
    expect(all.reduce((n, h) => n + h.n, 0)).toBe(3 * BLOCK_ROWS);
    // From inside the first block to inside the second: both; the limit takes the first only.
    expect(blocks.overlapping(a.first + 5, b.first + 5).map((h) => h.first)).toEqual([a.first, b.first]);
    expect(blocks.overlapping(a.first + 5, b.first + 5, 1)).toEqual([a]);
    expect(blocks.overlapping(a.first + 5, c.last, 2)).toEqual([a, b]);
    expect(blocks.overlapping(a.first + 5, c.last, 0)).toEqual([]);
    // Inside one block, and past the last one.
    expect(blocks.overlapping(b.first + 1, b.first + 2)).toEqual([b]);
    expect(blocks.overlapping(c.last + 1, c.last + 100)).toEqual([]);
    // The lazy form gives the same, and the statement is free again after an early stop.
    expect([...blocks.overlappingLazy(a.first, c.last)]).toEqual(all);
    expect(blocks.overlapping(c.first, c.first, 1)).toEqual([c]);
    q.append([rec(10 ** 6)]);
    expect(drain(q).length).toBe(3 * BLOCK_ROWS + 1);
  });

  it('keeps decodedBlocks decoded blocks: a window of leases is acked without inflating its blocks again, unless the cache is smaller than the window', () => {
    // 8 leases in flight (the sender's default window) of 1,500 rows, which end inside a
    // block, so that an ack counts the stored bytes of part of a block from the decoded block.
    // They are acked in order once all 8 were read, as acks come back behind the window.
    const inflatesFor = (decodedBlocks: number): number => {
      const q = f.open({ path: `${f.dir.path}/cache-${decodedBlocks}.db`, compactTailRows: 0, stageFlushMs: 0, decodedBlocks });
      fill(q, f, 0, 16 * BLOCK_ROWS);
      expect(q.compact(100)).toBe(16 * BLOCK_ROWS);
      const before = q.blocksInflated;
      const sent: number[] = [];
      for (;;) {
        const window = [];
        while (window.length < 8) {
          const l = q.lease({ maxRecords: 1500, maxBytes: 1e9 });
          if (l === null) break;
          window.push(l);
        }
        if (window.length === 0) break;
        for (const l of window) {
          sent.push(...nums(JSON.parse(l.payload!) as { data: string }[]));
          q.ack(l);
        }
      }
      expect(sent).toEqual(range(0, 16 * BLOCK_ROWS));
      expect(q.stats().depth).toBe(0);
      return q.blocksInflated - before;
    };
    // With 16 kept each of the 16 blocks is inflated once; with 2 kept the acks inflate theirs again.
    expect(inflatesFor(16)).toBe(16);
    expect(inflatesFor(2)).toBeGreaterThan(16);
  });
});
