import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { QUEUE_MIGRATIONS, SqliteQueue, type QueuedRecord } from '../../../src/queue/index.js';
import { isAgentError } from '../../../src/errors.js';
import { MERGE_MS } from '../../../src/queue/sent-runs.js';
import { queueFixture } from '../../helpers/queue.js';

const rec = (i: number, data = `{"v":${i}}`) => ({ col: 'c', doc: 'd', ts: 1000 + i, data });
const ids = (rows: readonly QueuedRecord[] | undefined) => (rows ?? []).map((r) => r.id);

describe('SqliteQueue: append, lease, ack', () => {
  const f = queueFixture();
  const open = f.open;

  it('leases oldest first, acks, and never hands a row out twice while leased', () => {
    const q = open();
    expect(q.append([rec(1), rec(2), rec(3), rec(4), rec(5)])).toEqual({ accepted: 5, rejected: 0, dropped: 0, droppedByReason: {}, invalid: 0 });
    const a = q.lease({ maxRecords: 2, maxBytes: 1e6 })!;
    const b = q.lease({ maxRecords: 2, maxBytes: 1e6 })!;
    const c = q.lease({ maxRecords: 10, maxBytes: 1e6 })!;
    expect([ids(a.records), ids(b.records), ids(c.records)]).toEqual([[1, 2], [3, 4], [5]]);
    expect(a.records[0]).toEqual({ id: 1, col: 'c', doc: 'd', ts: 1001, data: '{"v":1}', bytes: 1 + 1 + 7 + 16, enqueuedAt: 1_000_000 });
    expect(q.lease({ maxRecords: 10, maxBytes: 1e6 })).toBeNull();
    expect(q.stats()).toMatchObject({ depth: 5, leased: 5, leases: 3 });

    q.release(b);
    f.clock += 10;
    expect(q.ack(a)).toBe(2);
    expect(q.ack(a)).toBe(0); // finished lease: ignored
    const again = q.lease({ maxRecords: 10, maxBytes: 1e6 })!;
    expect(ids(again.records)).toEqual([3, 4]); // 5 is still leased by c
    expect(q.ack(c)).toBe(1);
    expect(q.ack(again)).toBe(1 + 1);
    expect(q.stats()).toMatchObject({ depth: 0, bytes: 0, retainedRows: 5, retainedBytes: 5 * 25, sent: 5, appended: 5, leased: 0, oldestUnsentEnqueuedAt: null });
  });

  it('stops at maxBytes but always hands out one row', () => {
    const q = open();
    q.append([rec(1, 'x'.repeat(100)), rec(2, 'y'), rec(3, 'z')]);
    expect(ids(q.lease({ maxRecords: 10, maxBytes: 10 })!.records)).toEqual([1]);
    expect(ids(q.lease({ maxRecords: 10, maxBytes: 37 })!.records)).toEqual([2]); // rows 2 and 3 are 19 bytes each
    expect(ids(q.lease({ maxRecords: 10, maxBytes: 10 })!.records)).toEqual([3]);
  });

  it('leases with minId (live first), then the backlog skipping the live lease', () => {
    const q = open();
    q.append([1, 2, 3, 4, 5, 6].map((i) => rec(i)));
    const live = q.lease({ maxRecords: 2, maxBytes: 1e6, minId: 4 })!;
    expect(ids(live.records)).toEqual([4, 5]);
    const backlog = q.lease({ maxRecords: 10, maxBytes: 1e6 })!;
    expect(ids(backlog.records)).toEqual([1, 2, 3, 6]);
    q.ack(live);
    q.release(backlog);
    expect(ids(q.lease({ maxRecords: 10, maxBytes: 1e6, minId: 4 })!.records)).toEqual([6]);
    expect(ids(q.lease({ maxRecords: 10, maxBytes: 1e6 })!.records)).toEqual([1, 2, 3]);
    expect(q.newestId()).toBe(6);
  });

  it('finds rows freed inside another lease span after a release', () => {
    const q = open();
    q.append([1, 2, 3, 4, 5, 6].map((i) => rec(i)));
    const mid = q.lease({ maxRecords: 2, maxBytes: 1e6, minId: 3 })!; // 3,4
    const all = q.lease({ maxRecords: 10, maxBytes: 1e6 })!; // 1,2,5,6
    expect(ids(all.records)).toEqual([1, 2, 5, 6]);
    q.release(mid);
    expect(ids(q.lease({ maxRecords: 10, maxBytes: 1e6 })!.records)).toEqual([3, 4]);
  });

  it('partial ack keeps the rest of the lease leased', () => {
    const q = open();
    q.append([1, 2, 3].map((i) => rec(i)));
    const l = q.lease({ maxRecords: 3, maxBytes: 1e6 })!;
    expect(q.ack(l, [2])).toBe(1);
    expect(q.lease({ maxRecords: 3, maxBytes: 1e6 })).toBeNull();
    expect(q.ack(l)).toBe(2);
    expect(q.stats()).toMatchObject({ depth: 0, sent: 3, leases: 0 });
  });

  it('forgets leases on restart (crash before ack): rows are leased again', () => {
    const q = open();
    q.append([1, 2, 3].map((i) => rec(i)));
    const l = q.lease({ maxRecords: 3, maxBytes: 1e6 })!;
    q.stop();
    const q2 = open();
    expect(q2.ack(l)).toBe(0);
    expect(ids(q2.lease({ maxRecords: 10, maxBytes: 1e6 })!.records)).toEqual([1, 2, 3]);
    expect(q2.stats()).toMatchObject({ depth: 3, appended: 3, sent: 0 });
  });

  it('keeps ids ascending across restart and after the table emptied', () => {
    const q = open({ retainSentMs: 1 });
    q.append([rec(1), rec(2)]);
    q.ack(q.lease({ maxRecords: 10, maxBytes: 1e6 })!);
    f.clock += 10;
    expect(q.prune()).toEqual({ prunedSent: 2, droppedMaxAge: 0, more: false });
    q.append([rec(3)]);
    expect(q.newestId()).toBe(3);
    q.stop();
    const q2 = open();
    q2.append([rec(4)]);
    expect(ids(q2.lease({ maxRecords: 10, maxBytes: 1e6 })!.records)).toEqual([3, 4]);
  });

  it('retained sent rows never block unsent ones and are pruned first at the cap', () => {
    const q = open({ maxRows: 4, onFull: 'drop_newest' });
    q.append([1, 2, 3].map((i) => rec(i)));
    f.clock += 1;
    q.ack(q.lease({ maxRecords: 2, maxBytes: 1e6 })!); // 1,2 retained
    const r = q.append([rec(4), rec(5), rec(6)]); // needs 2 rows: prunes 1 and 2, drops nothing
    expect(r).toEqual({ accepted: 3, rejected: 0, dropped: 0, droppedByReason: {}, invalid: 0 });
    expect(q.stats()).toMatchObject({ depth: 4, retainedRows: 0, prunedSent: 2, dropped: 0 });
    expect(ids(q.lease({ maxRecords: 10, maxBytes: 1e6 })!.records)).toEqual([3, 4, 5, 6]);
  });

  it('drop_oldest evicts the oldest unleased unsent rows and counts them across restart', () => {
    const q = open({ maxRows: 3 });
    const events: unknown[] = [];
    q.on('dropped', (e) => events.push(e));
    q.append([1, 2, 3].map((i) => rec(i)));
    const leased = q.lease({ maxRecords: 1, maxBytes: 1e6 })!; // row 1 is in flight: kept
    expect(q.append([rec(4), rec(5)])).toEqual({
      accepted: 2,
      rejected: 0,
      dropped: 2,
      droppedByReason: { queue_full_drop_oldest: 2 },
      invalid: 0,
    });
    expect(events).toEqual([{ reason: 'queue_full_drop_oldest', count: 2 }]);
    q.release(leased);
    const all = q.lease({ maxRecords: 10, maxBytes: 1e6 })!;
    expect(all.records.map((r) => r.ts)).toEqual([1001, 1004, 1005]);
    // Every stored row is in flight: nothing can be evicted, so the oldest new ones go.
    expect(q.append([rec(6)])).toMatchObject({ accepted: 0, rejected: 1, dropped: 1 });
    q.release(all);
    // A batch bigger than the cap keeps its newest records.
    expect(q.append([6, 7, 8, 9].map((i) => rec(i)))).toMatchObject({ accepted: 3, rejected: 1, dropped: 4 });
    q.stop();
    const q2 = open({ maxRows: 3 });
    expect(q2.stats()).toMatchObject({ depth: 3, dropped: 7, droppedByReason: { queue_full_drop_oldest: 7 } });
    expect(q2.lease({ maxRecords: 10, maxBytes: 1e6 })!.records.map((r) => r.ts)).toEqual([1007, 1008, 1009]);
  });

  it('drop_newest refuses what does not fit, keeping a prefix', () => {
    const q = open({ maxRows: 3, onFull: 'drop_newest' });
    q.append([1, 2].map((i) => rec(i)));
    expect(q.append([3, 4, 5].map((i) => rec(i)))).toEqual({
      accepted: 1,
      rejected: 2,
      dropped: 2,
      droppedByReason: { queue_full_drop_newest: 2 },
      invalid: 0,
    });
    expect(q.lease({ maxRecords: 10, maxBytes: 1e6 })!.records.map((r) => r.ts)).toEqual([1001, 1002, 1003]);
    expect(q.stats().droppedByReason).toEqual({ queue_full_drop_newest: 2 });
  });

  it('applies the byte cap too', () => {
    const q = open({ maxBytes: 60, maxRows: 100, onFull: 'drop_newest' }); // rec(i) with i<10 = 25 bytes
    expect(q.append([1, 2, 3].map((i) => rec(i)))).toMatchObject({ accepted: 2, rejected: 1 });
    expect(q.stats()).toMatchObject({ depth: 2, bytes: 50 });
  });

  it('block throws QUEUE_FULL without storing, and signals room after an ack', async () => {
    const q = open({ maxRows: 2, onFull: 'block' });
    q.append([rec(1), rec(2)]);
    let err: unknown;
    try {
      q.append([rec(3)]);
    } catch (e) {
      err = e;
    }
    expect(isAgentError(err, 'EDGE_ERR_QUEUE_FULL')).toBe(true);
    expect(q.stats()).toMatchObject({ depth: 2, appended: 2, dropped: 0 });
    expect(q.hasRoom(1)).toBe(false);
    let room = 0;
    q.on('room', () => room++);
    const waiting = q.waitForRoom(1);
    const l = q.lease({ maxRecords: 1, maxBytes: 1e6 })!;
    q.ack(l);
    await waiting;
    expect(room).toBe(1);
    expect(q.append([rec(3)])).toMatchObject({ accepted: 1 }); // prunes the retained row 1
    expect(q.stats()).toMatchObject({ depth: 2, retainedRows: 0 });
  });

  it('block takes a group larger than the cap once nothing else is queued, instead of waiting forever', async () => {
    const q = open({ maxRows: 3, onFull: 'block' });
    q.append([rec(1)]);
    const group = [2, 3, 4, 5, 6].map((i) => rec(i));
    expect(() => q.append(group)).toThrow(expect.objectContaining({ code: 'EDGE_ERR_QUEUE_FULL' }));
    const waiting = q.waitForRoom(group.length);
    q.ack(q.lease({ maxRecords: 10, maxBytes: 1e6 })!);
    await waiting;
    expect(q.append(group)).toMatchObject({ accepted: 5, dropped: 0 });
    expect(q.stats()).toMatchObject({ depth: 5, dropped: 0 });
  });

  it('prune drops unsent rows past maxAge (not leased ones) and retained rows past retention', () => {
    const q = open({ maxAgeMs: 1000, retainSentMs: 5000 });
    const events: unknown[] = [];
    q.on('dropped', (e) => events.push(e));
    q.append([rec(1), rec(2), rec(3)]);
    const sent = q.lease({ maxRecords: 1, maxBytes: 1e6 })!;
    q.ack(sent);
    const inFlight = q.lease({ maxRecords: 1, maxBytes: 1e6 })!; // row 2
    f.clock += 500;
    q.append([rec(4)]);
    f.clock += 600; // rows 2,3 are 1,100 ms old, row 4 600 ms
    expect(q.prune()).toEqual({ prunedSent: 0, droppedMaxAge: 1, more: false });
    expect(events).toEqual([{ reason: 'max_age', count: 1 }]);
    q.release(inFlight);
    expect(ids(q.lease({ maxRecords: 10, maxBytes: 1e6 })!.records)).toEqual([2, 4]);
    f.clock += 5000;
    expect(q.prune()).toMatchObject({ prunedSent: 1 });
    expect(q.stats()).toMatchObject({ retainedRows: 0, droppedByReason: { max_age: 1 } });
  });

  it('prunes retained rows beyond retainSentBytes, oldest sent first', () => {
    const q = open({ retainSentBytes: 50 });
    q.append([1, 2, 3].map((i) => rec(i)));
    const first = q.lease({ maxRecords: 1, maxBytes: 1e6 })!;
    const rest = q.lease({ maxRecords: 2, maxBytes: 1e6 })!;
    q.ack(rest); // 2,3 sent first
    f.clock += 2 * MERGE_MS; // acks closer than that share one sent time (sent-runs.ts)
    q.ack(first); // 1 sent last
    expect(q.prune()).toMatchObject({ prunedSent: 1 });
    const page = q.leaseSent({ sinceMs: 0, limit: 10 });
    expect(ids(page.rows)).toEqual([1, 3]);
  });

  it('pages leaseSent by enqueue time and filters, and resendCandidates by sent time', () => {
    const q = open();
    for (let i = 1; i <= 6; i++) {
      q.append([{ col: 'c', doc: i % 2 ? 'odd' : 'even', ts: i, data: '{}' }]);
      f.clock += 100;
    }
    const start = 1_000_000;
    const l1 = q.lease({ maxRecords: 3, maxBytes: 1e6 })!;
    q.ack(l1); // sent at start+600
    f.clock += 2 * MERGE_MS;
    q.ack(q.lease({ maxRecords: 3, maxBytes: 1e6 })!); // sent at start+2600
    const p1 = q.leaseSent({ sinceMs: start + 100, untilMs: start + 500, limit: 2 });
    expect([ids(p1.rows), p1.nextAfterId, p1.done]).toEqual([[2, 3], 3, false]);
    const p2 = q.leaseSent({ sinceMs: start + 100, untilMs: start + 500, limit: 2, afterId: p1.nextAfterId });
    expect([ids(p2.rows), p2.done]).toEqual([[4, 5], false]);
    const p3 = q.leaseSent({ sinceMs: start + 100, untilMs: start + 500, limit: 2, afterId: p2.nextAfterId });
    expect([ids(p3.rows), p3.done]).toEqual([[], true]);
    expect(ids(q.leaseSent({ sinceMs: 0, doc: 'even', limit: 10 }).rows)).toEqual([2, 4, 6]);
    expect(q.leaseSent({ sinceMs: 0, limit: 1 }).rows[0]!.sentAt).toBe(start + 600);

    const r1 = q.resendCandidates(start + 1000, { limit: 2 });
    expect([ids(r1.rows), r1.done]).toEqual([[4, 5], false]);
    const r2 = q.resendCandidates(start + 1000, { limit: 2, afterId: r1.nextAfterId });
    expect([ids(r2.rows), r2.done]).toEqual([[6], true]);
    expect(q.resendCandidates(start + 5000, { limit: 2 })).toEqual({ rows: [], nextAfterId: 6, done: true });
  });

  it('keeps counters exact across restart and reads oldest unsent age', () => {
    const q = open();
    q.append([rec(1), rec(2)]);
    f.clock += 1;
    q.ack(q.lease({ maxRecords: 1, maxBytes: 1e6 })!);
    f.clock += 250;
    const before = q.stats();
    q.stop();
    const q2 = open();
    const after = q2.stats();
    expect(after).toEqual({ ...before, bytesWritten: after.bytesWritten });
    expect(after.bytesWritten).toBeGreaterThanOrEqual(before.bytesWritten);
    expect(after).toMatchObject({ depth: 1, bytes: 25, retainedRows: 1, oldestUnsentEnqueuedAt: 1_000_000, oldestUnsentAgeMs: 251 });
  });

  it('applies and reports the synchronous setting', () => {
    expect(open({ synchronous: 'full' }).info()).toMatchObject({ journalMode: 'wal', synchronous: 2, schemaVersion: QUEUE_MIGRATIONS[QUEUE_MIGRATIONS.length - 1]!.version });
    f.queues.pop()!.stop();
    expect(open({ synchronous: 'normal' }).info().synchronous).toBe(1);
    f.queues.pop()!.stop();
    expect(open({ synchronous: 'off' }).info().synchronous).toBe(0);
  });

  it('refuses use before start and after stop; start and stop are idempotent', () => {
    const q = new SqliteQueue({ path: join(f.dir.path, 'x.db') });
    expect(() => q.append([rec(1)])).toThrow(expect.objectContaining({ code: 'EDGE_ERR_QUEUE_CLOSED' }));
    const info = q.start();
    expect(q.start()).toBe(info);
    q.stop();
    q.stop();
    expect(() => q.lease({ maxRecords: 1, maxBytes: 1 })).toThrow(expect.objectContaining({ code: 'EDGE_ERR_QUEUE_CLOSED' }));
  });
});
