import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isAgentError } from '../../src/errors.js';
import { SqliteQueue, type QueueOptions } from '../../src/queue/index.js';
import { IS_ROOT, mountTmpfs, NEEDS_ROOT, type Tmpfs } from '../helpers/tmpfs.js';

const rec = (n: number) => ({ col: 'c', doc: `d${n % 7}`, ts: 1_700_000_000_000 + n, data: JSON.stringify({ n, pad: 'x'.repeat(60) }) });

/**
 * The queue on a real filesystem that fills (an 8 MiB tmpfs): a full disk is survived, not a
 * wedge. Nothing committed is lost, acks are recorded (or kept in memory until the disk takes
 * them), and everything resumes by itself when space returns.
 */
describe.skipIf(!IS_ROOT)(`the queue on a full disk (${NEEDS_ROOT})`, () => {
  let fs: Tmpfs;
  let clock = 1_000_000;
  const queues: SqliteQueue[] = [];
  const open = (opts: Partial<QueueOptions> = {}): SqliteQueue => {
    const q = new SqliteQueue({ path: join(fs.path, 'q.db'), synchronous: 'normal', retainSentMs: 3_600_000, ...opts }, { now: () => clock });
    q.start();
    queues.push(q);
    return q;
  };
  beforeEach(() => {
    fs = mountTmpfs(8 * 1024 * 1024);
    clock = 1_000_000;
  });
  afterEach(() => {
    for (const q of queues.splice(0)) q.stop();
    fs.unmount();
  });

  /** Appends groups of 100 until the disk refuses one; returns the ids' record numbers stored. */
  function fillUp(q: SqliteQueue, from = 0): { next: number; refusal: unknown } {
    let n = from;
    for (;;) {
      try {
        q.append(Array.from({ length: 100 }, (_, i) => rec(n + i)));
        n += 100;
      } catch (err) {
        return { next: n, refusal: err };
      }
    }
  }

  /** Leases and acks everything unsent; returns the record numbers acked. */
  function drain(q: SqliteQueue): number[] {
    const acked: number[] = [];
    for (;;) {
      const lease = q.lease({ maxRecords: 1000, maxBytes: 1e9 });
      if (lease === null) return acked;
      for (const r of lease.records) acked.push((JSON.parse(r.data) as { n: number }).n);
      q.ack(lease);
    }
  }

  it('sizes max_bytes auto from the free space and keeps a reserve file', () => {
    const q = open();
    const disk = q.diskStatus();
    // Half of the ~8 MiB the queue has, the reserve written beside the file.
    expect(q.options.maxBytes).toBeGreaterThan(3.5 * 1024 * 1024);
    expect(q.options.maxBytes).toBeLessThanOrEqual(4 * 1024 * 1024);
    expect(q.options.retainSentBytes).toBe(Math.floor(q.options.maxBytes / 4));
    expect(disk).toMatchObject({ full: false, confined: false, reserveHeld: true, maxBytes: q.options.maxBytes });
    expect(existsSync(join(fs.path, 'q.db.reserve'))).toBe(true);
  });

  it('with a cap above the disk: prunes acked rows first, then holds new readings back (block), drains, and takes readings again', () => {
    const q = open({ maxBytes: 1e9, onFull: 'block' });
    const events: boolean[] = [];
    q.on('disk', (e) => events.push(e.full));
    // Half of the first fill is acked: retained rows that the full disk may prune.
    const first = fillUp(q);
    expect(isAgentError(first.refusal, 'EDGE_ERR_QUEUE_DISK_FULL')).toBe(true);
    expect(q.diskStatus()).toMatchObject({ full: true, confined: true, reserveHeld: false, fullEvents: 1 });
    expect(events).toEqual([true]);
    const stored = q.stats().depth;
    expect(stored).toBe(first.next);

    // The sender keeps draining on the full disk: every row acked, none lost, none twice.
    const acked = drain(q);
    expect(acked).toHaveLength(first.next);
    expect(new Set(acked).size).toBe(first.next);
    expect(Math.max(...acked)).toBe(first.next - 1);
    expect(q.stats()).toMatchObject({ depth: 0, sent: first.next });

    // New readings fit again: the acked rows are pruned to make room (the filesystem is still full).
    const second = fillUp(q, first.next);
    expect(second.next - first.next).toBeGreaterThan(first.next / 2);
    expect(q.stats().prunedSent).toBeGreaterThan(0);
    expect(q.stats().dropped).toBe(0);
    const again = drain(q);
    expect(new Set(again).size).toBe(second.next - first.next);
    expect(Math.min(...again)).toBe(first.next);
  });

  it('keeps an ack the disk refuses in memory, never leases its rows again, and writes it once space returns', () => {
    const q = open({ maxBytes: 1e9, onFull: 'block' });
    const { next } = fillUp(q);
    // Another program takes the last bytes (the reserve was already spent).
    fs.fill();
    const acks: number[] = [];
    let pendingSeen = 0;
    for (;;) {
      const lease = q.lease({ maxRecords: 1000, maxBytes: 1e9 });
      if (lease === null) break;
      acks.push(q.ack(lease));
      pendingSeen = Math.max(pendingSeen, q.diskStatus().pendingAcks);
    }
    // The sender saw every ack accepted; those the disk refused wait in memory, their rows
    // leased (a second lease found nothing to send again).
    expect(acks.reduce((a, b) => a + b, 0)).toBe(next);
    expect(pendingSeen).toBeGreaterThan(0);
    expect(q.lease({ maxRecords: 1000, maxBytes: 1e9 })).toBeNull();
    expect(q.diskStatus().full).toBe(true);

    // Some space returns (the ballast's): the next housekeeping writes the acks.
    fs.release();
    q.prune();
    expect(q.diskStatus().pendingAcks).toBe(0);
    expect(q.stats()).toMatchObject({ depth: 0, sent: next, leased: 0 });
    // The filesystem is still nearly full (the queue's own file fills it), but the drain freed
    // the file's pages: after a quiet spell the queue says so, confined to its size.
    clock += 10_000;
    q.prune();
    expect(q.diskStatus()).toMatchObject({ full: false, confined: true });
    expect(q.append(Array.from({ length: 100 }, (_, i) => rec(next + i)))).toMatchObject({ accepted: 100 });
  });

  it('with the default on_full (drop_oldest): evicts the oldest unsent readings, counted, once no acked row is left to prune', () => {
    const q = open({ maxBytes: 1e9 });
    let n = 0;
    let after = 0;
    // Never refused: past the full disk, 50 more groups go in by evicting the oldest.
    while (after < 50) {
      q.append(Array.from({ length: 100 }, (_, j) => rec(n + j)));
      n += 100;
      if (q.diskStatus().full) after++;
    }
    const s = q.stats();
    expect(s.appended).toBe(n);
    expect(s.droppedByReason.queue_full_drop_oldest).toBeGreaterThan(0);
    expect(s.depth + s.dropped).toBe(n);
  });

  it('restarts on a disk that stayed full (the reserve keeps what opening needs), drains, and frees room', () => {
    const q = open({ maxBytes: 1e9, onFull: 'block' });
    const { next } = fillUp(q);
    q.stop();
    queues.length = 0;
    // Whatever the queue gave back while it stopped, another program takes now.
    fs.fill();
    const again = open({ maxBytes: 1e9, onFull: 'block' });
    expect(again.stats().depth).toBe(next);
    expect(drain(again)).toHaveLength(next);
    expect(again.diskStatus().pendingAcks).toBe(0);
    // The drain freed the file's pages: most of it fits again on the still full disk.
    const refill = fillUp(again, next);
    expect(refill.next - next).toBeGreaterThan(next / 2);
  });

  it('survives a disk filled by another program: readings are refused, then taken again by themselves once the ballast is removed', () => {
    const q = open({ onFull: 'block' });
    q.append(Array.from({ length: 100 }, (_, i) => rec(i)));
    fs.fill();
    let refused: unknown;
    let n = 100;
    for (let i = 0; i < 200 && refused === undefined; i++) {
      try {
        q.append(Array.from({ length: 100 }, (_, j) => rec(n + j)));
        n += 100;
      } catch (err) {
        refused = err;
      }
    }
    expect(isAgentError(refused, 'EDGE_ERR_QUEUE_DISK_FULL')).toBe(true);
    expect(q.diskStatus().full).toBe(true);
    fs.release();
    clock += 10_000;
    q.prune();
    expect(q.diskStatus()).toMatchObject({ full: false, confined: false, reserveHeld: true });
    expect(q.append(Array.from({ length: 100 }, (_, j) => rec(n + j)))).toMatchObject({ accepted: 100 });
    expect(q.stats()).toMatchObject({ depth: n + 100, dropped: 0 });
  });
});
