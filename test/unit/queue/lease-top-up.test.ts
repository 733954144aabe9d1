import { describe, expect, it } from 'vitest';
import type { QueuedRecord, SqliteQueue } from '../../../src/queue/index.js';
import { BLOCK_ROWS } from '../../../src/queue/compaction.js';
import { queueFixture } from '../../helpers/queue.js';

// live_first's lease: the rows at or above minId (live), then the oldest below it (backlog)
// to fill the batch, in one lease (src/queue/lease-reader.ts).
const rec = (i: number) => ({ col: 'c', doc: `d${i % 10}`, ts: 1000 + i, data: `{"v":${i}}` });
const ids = (rows: readonly QueuedRecord[]) => rows.map((r) => r.id);
const range = (from: number, n: number) => Array.from({ length: n }, (_, k) => from + k);
/** The `v` of each record the lease's payload carries, in the order it carries them. */
const sentOrder = (payload: string | null) => (JSON.parse(payload!) as Array<{ data: string }>).map((r) => (JSON.parse(r.data) as { v: number }).v);

describe('SqliteQueue: a live lease topped up from the backlog (olderToo)', () => {
  const f = queueFixture();
  const open = (o = {}) => f.open({ compactTailRows: 0, stageFlushMs: 0, ...o });
  const topUp = (q: SqliteQueue, minId: number, maxRecords: number, maxBytes = 1e9) => q.lease({ maxRecords, maxBytes, minId, olderToo: true });

  it('sends the live rows first, then the oldest backlog rows, each row once; its newest row is the live one', () => {
    const q = open();
    q.append(range(1, 9).map(rec)); // 1..6 backlog, 7..9 live
    const a = topUp(q, 7, 5)!;
    expect(ids(a.records)).toEqual([7, 8, 9, 1, 2]);
    expect(sentOrder(a.payload)).toEqual([7, 8, 9, 1, 2]);
    expect(a.count).toBe(5);
    expect(a.last).toMatchObject({ ts: rec(9).ts });
    // Nothing live is left: the next lease is backlog only, and skips what `a` holds.
    const b = topUp(q, 7, 5)!;
    expect(ids(b.records)).toEqual([3, 4, 5, 6]);
    expect(topUp(q, 7, 5)).toBeNull();
    expect(q.stats()).toMatchObject({ leased: 9, leases: 2 });

    q.append([rec(10)]);
    expect(q.ack(a)).toBe(5);
    q.release(b);
    const c = topUp(q, 7, 10)!;
    expect(ids(c.records)).toEqual([10, 3, 4, 5, 6]);
    expect(q.ack(c)).toBe(5);
    expect(q.stats()).toMatchObject({ depth: 0, sent: 10, leased: 0, leases: 0, oldestUnsentEnqueuedAt: null });
    expect(topUp(q, 7, 10)).toBeNull();
  });

  it('acks part of a topped-up lease (a probe), dead-letters a live row out of it, and hands back the rest after a drop', () => {
    const q = open();
    q.append(range(1, 8).map(rec)); // 1..5 backlog, 6..8 live
    const l = topUp(q, 6, 8)!;
    expect(ids(l.records)).toEqual([6, 7, 8, 1, 2, 3, 4, 5]);
    // A probe of a split lease: a live row and a backlog row.
    expect(q.ack(l, [7, 2])).toBe(2);
    expect(q.deadLetterLeased(l, [8], 'poison')).toBe(1);
    expect(q.stats()).toMatchObject({ depth: 5, sent: 2, deadLettered: 1, leased: 5 });
    // The connection dropped: the rest goes back to the pool and comes out live first again.
    q.release(l);
    const again = topUp(q, 6, 8)!;
    expect(ids(again.records)).toEqual([6, 1, 3, 4, 5]);
    expect(q.ack(again)).toBe(5);
    expect(q.ack(l)).toBe(0); // the released lease is finished
    expect(q.stats()).toMatchObject({ depth: 0, sent: 7, deadLettered: 1, leased: 0 });
  });

  it('a lease forgotten by a crash: its live and backlog rows are leased again, live first', () => {
    const q = open();
    q.append(range(1, 6).map(rec));
    const l = topUp(q, 5, 4)!;
    expect(ids(l.records)).toEqual([5, 6, 1, 2]);
    q.stop();
    const q2 = open();
    expect(q2.ack(l)).toBe(0);
    expect(ids(topUp(q2, 5, 4)!.records)).toEqual([5, 6, 1, 2]);
    expect(q2.stats()).toMatchObject({ depth: 6, sent: 0 });
  });

  it('tops up from blocks: live rows (table) first, then the backlog (blocks), every row once across leases', () => {
    const q = open();
    for (let i = 1; i <= 2 * BLOCK_ROWS; i += 20) q.append(range(i, 20).map(rec));
    expect(q.compact(10)).toBe(2 * BLOCK_ROWS);
    const live = 2 * BLOCK_ROWS + 1;
    q.append(range(live, 30).map(rec));
    const first = topUp(q, live, 100)!;
    expect(sentOrder(first.payload)).toEqual([...range(live, 30), ...range(1, 70)]);
    expect(ids(first.records)).toEqual([...range(live, 30), ...range(1, 70)]);
    expect(first.last).toMatchObject({ ts: rec(live + 29).ts });
    const seen = [...sentOrder(first.payload)];
    q.ack(first);
    q.append(range(live + 30, 5).map(rec));
    for (let l = topUp(q, live, 700); l !== null; l = topUp(q, live, 700)) {
      seen.push(...sentOrder(l.payload));
      q.ack(l);
    }
    // The 5 that came later went out first in the next lease, then the backlog in order.
    expect(seen.slice(100, 105)).toEqual(range(live + 30, 5));
    expect([...seen].sort((a, b) => a - b)).toEqual(range(1, 2 * BLOCK_ROWS + 35));
    expect(q.stats()).toMatchObject({ depth: 0, sent: 2 * BLOCK_ROWS + 35, leased: 0 });
  });

  it('under a byte cap (the row-by-row path) keeps the same order and takes at least the first live row', () => {
    const q = open();
    q.append(range(1, 6).map(rec));
    const size = q.lease({ maxRecords: 1, maxBytes: 1e9 })!;
    const one = size.bytes;
    q.release(size);
    const l = topUp(q, 5, 10, 3 * one)!;
    expect(l.payload).toBeNull();
    expect(ids(l.records)).toEqual([5, 6, 1]);
    expect(l.last).toMatchObject({ ts: rec(6).ts });
    expect(ids(topUp(q, 5, 10, 1)!.records)).toEqual([2]);
  });
});
