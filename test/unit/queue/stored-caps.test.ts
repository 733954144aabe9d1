import { describe, expect, it } from 'vitest';
import { isAgentError } from '../../../src/errors.js';
import { QUEUE_DEFAULTS, openQueueReadOnly, type QueueStats, type SqliteQueue } from '../../../src/queue/index.js';
import { decodeBlock, encodeBlock } from '../../../src/queue/block-codec.js';
import { recountRows } from '../../../src/queue/recount.js';
import { queueFixture } from '../../helpers/queue.js';

// Readings of the kind (~70 bytes logical each) over 100 devices, values hashed so
// that deflate finds no pattern beyond the keys: about 9 bytes a reading in a block.
const reading = (i: number) => {
  const x = Math.imul(i ^ (i >>> 13), 0x5bd1e995) >>> 0;
  return { col: 'telemetry', doc: `device-${i % 100}`, ts: 1_767_225_600_000 + i * 10, data: `{"temperature":${(150 + (x % 150)) / 10},"humidity":${(200 + ((x >>> 8) % 600)) / 10}}` };
};
const group = (from: number, n = 20) => Array.from({ length: n }, (_, k) => reading(from + k));
const MAX_BYTES = 300_000;

/** Appends readings from..from+n-1 in groups of 20, the housekeeping tick (prune: compaction) every 100. */
function fill(q: SqliteQueue, from: number, n: number, tick = true): void {
  for (let i = from; i < from + n; i += 20) {
    q.append(group(i, Math.min(20, from + n - i)));
    if (tick && (i - from) % 100 === 80) q.prune();
  }
}

/** The counters as the queue holds them, in the shape of a recount from the tables. */
const counted = (s: QueueStats) => ({
  unsentRows: s.depth,
  unsentBytes: s.bytes,
  unsentStored: s.storedBytes,
  retainedRows: s.retainedRows,
  retainedBytes: s.retainedBytes,
  retainedStored: s.retainedStoredBytes,
});
const expectRecount = (q: SqliteQueue) => expect(counted(q.stats())).toEqual(recountRows(q.database));
const firstData = (q: SqliteQueue) => q.lease({ maxRecords: 1, maxBytes: 1e9 })!;

describe('SqliteQueue: the byte cap counts stored (compressed) bytes', () => {
  const f = queueFixture();
  // Compaction's path (appends as rows, prune makes blocks): the staging log, which makes blocks at its flush, is off.
  const open = (o = {}) => f.open({ maxBytes: MAX_BYTES, compactTailRows: 0, stageFlushMs: 0, ...o });

  it('holds, within a small max_bytes and the default max_rows, several times its cap in logical bytes once compacted', () => {
    expect(QUEUE_DEFAULTS.maxRows).toBeGreaterThanOrEqual(2 * 86_400_000); // a day of a 1,000-device site at 1 Hz, with room
    const q = open();
    fill(q, 0, 14_000);
    const s = q.stats();
    expect(s).toMatchObject({ depth: 14_000, dropped: 0 });
    expect(s.bytes).toBeGreaterThan(3 * MAX_BYTES);
    expect(s.storedBytes).toBeLessThanOrEqual(MAX_BYTES);
    expectRecount(q);
    // `status` reads the same counters beside the running queue.
    const ro = openQueueReadOnly(`${f.dir.path}/q.db`);
    expect(counted(ro.stats())).toEqual(counted(s));
    ro.close();
    // Rows in blocks count their share of the block's size: about 9 bytes, not ~70.
    const blocks = q.database.prepare('SELECT sum(n), sum(bytes), sum(length(body)) FROM blocks').raw(true).get() as [number, number, number];
    expect(blocks[0]).toBeGreaterThanOrEqual(12_000);
    expect(blocks[1] / blocks[0]).toBeLessThan(15);
    expect(blocks[1]).toBeGreaterThanOrEqual(blocks[2]); // never less than the bodies take

    // The same appends without compaction: the cap (in rows' logical bytes) drops the oldest.
    const rows = f.open({ maxBytes: MAX_BYTES, compact: false, path: `${f.dir.path}/rows.db` });
    fill(rows, 0, 14_000);
    expect(rows.stats().depth).toBeLessThan(MAX_BYTES / 60);
    expect(rows.stats().droppedByReason.queue_full_drop_oldest).toBe(14_000 - rows.stats().depth);
  });

  it('with the staging log on (the default), the stored cap holds too: staged groups count their logical size until a flush makes them blocks', () => {
    const q = f.open({ maxBytes: MAX_BYTES, onFull: 'drop_oldest' });
    for (let i = 0; i < 40_000; i += 20) {
      expect(q.append(group(i)).accepted).toBe(20);
      expect(q.stats().storedBytes).toBeLessThanOrEqual(MAX_BYTES);
    }
    const s = q.stats();
    const dropped = s.droppedByReason.queue_full_drop_oldest ?? 0;
    // 40,000 readings take more than the cap even as blocks: the oldest went, counted.
    expect(dropped).toBeGreaterThan(0);
    expect(s).toMatchObject({ depth: 40_000 - dropped, appended: 40_000 });
    expect(s.bytes).toBeGreaterThan(2 * MAX_BYTES);
    q.prune(); // moves what is staged into the file
    expectRecount(q);
    expect(firstData(q).records[0]!.id).toBe(dropped + 1);
  });

  it('drop_oldest at the stored cap evicts the oldest readings out of blocks, counted, and stays within it', () => {
    const q = open({ onFull: 'drop_oldest' });
    fill(q, 0, 14_000);
    const blocksBefore = q.database.prepare('SELECT min(first_id) FROM blocks').pluck().get() as number;
    for (let i = 14_000; i < 18_000; i += 20) {
      expect(q.append(group(i)).accepted).toBe(20);
      expect(q.stats().storedBytes).toBeLessThanOrEqual(MAX_BYTES);
    }
    const s = q.stats();
    const dropped = s.droppedByReason.queue_full_drop_oldest!;
    expect(dropped).toBeGreaterThan(0);
    expect(s).toMatchObject({ depth: 18_000 - dropped, appended: 18_000, dropped });
    // Plain rows count ~70 bytes and blocks ~9: each new row evicts several old ones.
    expect(dropped).toBeGreaterThan(2000);
    expect(firstData(q).records[0]!.id).toBe(dropped + 1);
    expect(q.database.prepare('SELECT min(first_id) FROM blocks').pluck().get()).toBeGreaterThan(blocksBefore);
    expectRecount(q);
  });

  it('drop_newest at the stored cap refuses the newest readings, counted', () => {
    const q = open({ onFull: 'drop_newest' });
    fill(q, 0, 14_000);
    let rejected = 0;
    for (let i = 14_000; i < 18_000; i += 20) {
      const r = q.append(group(i));
      rejected += r.rejected;
      expect(r.dropped).toBe(r.rejected);
      expect(q.stats().storedBytes).toBeLessThanOrEqual(MAX_BYTES);
    }
    const s = q.stats();
    expect(rejected).toBeGreaterThan(0);
    expect(s).toMatchObject({ depth: 18_000 - rejected, appended: 18_000 - rejected, droppedByReason: { queue_full_drop_newest: rejected } });
    expect(firstData(q).records[0]!.id).toBe(1);
    expectRecount(q);
  });

  it('block at the stored cap holds new readings back until sent rows make room', () => {
    const q = open({ onFull: 'block' });
    fill(q, 0, 14_000);
    let i = 14_000;
    let refused: unknown;
    for (; i < 18_000 && refused === undefined; i += 20) {
      try {
        q.append(group(i));
      } catch (err) {
        refused = err;
      }
    }
    expect(isAgentError(refused) && refused.code).toBe('EDGE_ERR_QUEUE_FULL');
    const s = q.stats();
    expect(s.storedBytes).toBeLessThanOrEqual(MAX_BYTES);
    expect(s.storedBytes + 20 * 60).toBeGreaterThan(MAX_BYTES);
    expect(s.dropped).toBe(0);
    expect(q.hasRoom(20, 20 * 70)).toBe(false);
    // The server takes 4,000 readings (two blocks' worth): their stored bytes leave the unsent count.
    for (let n = 0; n < 4000; ) {
      const l = q.lease({ maxRecords: 1000, maxBytes: 1e9 })!;
      n += q.ack(l);
    }
    expect(q.hasRoom(20, 20 * 70)).toBe(true);
    expect(q.append(group(i - 20)).accepted).toBe(20);
    expectRecount(q);
  });

  it('keeps the counters equal to a recount of the tables through a mixed history and a restart', () => {
    let q = open({ maxRows: 20_000, retainSentMs: 60_000, maxAgeMs: 600_000, retainSentBytes: 20_000 });
    fill(q, 0, 9_000);
    expectRecount(q);
    // A lease inside a block, acked in part; a poison row dead-lettered out of a block.
    const a = q.lease({ maxRecords: 700, maxBytes: 1e9, minId: 1500 })!;
    expect(q.ack(a, a.records.slice(0, 300).map((r) => r.id))).toBe(300);
    expect(q.deadLetterLeased(a, [a.records[400]!.id], 'poison')).toBe(1);
    expectRecount(q);
    expect(q.ack(a)).toBe(399);
    // Whole leases, acked: retained rows in blocks, beyond retain_sent_bytes, pruned (a cut inside a block).
    for (let n = 0; n < 3000; ) n += q.ack(q.lease({ maxRecords: 500, maxBytes: 1e9 })!);
    expectRecount(q);
    q.prune();
    expect(q.stats().retainedStoredBytes).toBeLessThanOrEqual(20_000);
    expectRecount(q);
    // Invalid readings go to the dead letters; the rows cap drops the oldest unsent out of a block.
    q.append([...group(9_000, 10), { col: '', doc: 'x', ts: 1, data: '{}' }]);
    fill(q, 9_010, 16_000);
    expect(q.stats().droppedByReason.queue_full_drop_oldest).toBeGreaterThan(0);
    expectRecount(q);
    // Restart: the counters come back from the file.
    const before = counted(q.stats());
    q.stop();
    q = open({ maxRows: 20_000, retainSentMs: 60_000, maxAgeMs: 600_000, retainSentBytes: 20_000 });
    expect(counted(q.stats())).toEqual(before);
    expectRecount(q);
    // Retention by time, then max_age: everything leaves, the counters reach zero.
    f.clock += 70_000;
    while (q.prune().more);
    expectRecount(q);
    f.clock += 600_000;
    while (q.prune().more);
    expect(counted(q.stats())).toEqual({ unsentRows: 0, unsentBytes: 0, unsentStored: 0, retainedRows: 0, retainedBytes: 0, retainedStored: 0 });
    const end = q.stats();
    expect(end).toMatchObject({ deadLettered: 2, appended: 25_010 });
    expect(end.prunedSent).toBeGreaterThan(0);
    expect(end.droppedByReason.max_age).toBeGreaterThan(0);
    expect(end.sent + end.deadLettered - 1 + end.dropped).toBe(end.appended); // one dead letter was never appended
    expectRecount(q);
  });

  it('a file of an agent that counted logical bytes (no stored counters, format 1 blocks) keeps counting them exactly', () => {
    let q = open();
    fill(q, 0, 5_000);
    const db = q.database;
    // What such an agent left: blocks of format 1 whose `bytes` is the rows' logical size, no stored counters.
    db.transaction(() => {
      const all = db.prepare('SELECT first_id, body FROM blocks').raw(true).all() as Array<[number, Buffer]>;
      for (const [first, body] of all) {
        const d = decodeBlock(body);
        const rows = Array.from({ length: d.n }, (_, k) => d.blockRow(k));
        db.prepare('UPDATE blocks SET body = ?, bytes = ? WHERE first_id = ?').run(encodeBlock(rows, 1), rows.reduce((s, r) => s + r.bytes, 0), first);
      }
      db.prepare("DELETE FROM meta WHERE key IN ('unsent_stored_bytes', 'retained_stored_bytes')").run();
    })();
    q.stop();
    q = open();
    const s = q.stats();
    expect(s.storedBytes).toBe(s.bytes);
    expectRecount(q);
    // A cut inside an old block keeps it old; new compaction makes new blocks.
    q.ack(q.lease({ maxRecords: 50, maxBytes: 1e9, minId: 10 })!);
    q.ack(q.lease({ maxRecords: 1500, maxBytes: 1e9 })!);
    fill(q, 5_000, 2_000);
    expect(q.stats().storedBytes).toBeLessThan(q.stats().bytes);
    expectRecount(q);
  });
});
