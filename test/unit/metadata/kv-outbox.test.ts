import { afterEach, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { KvOutbox, QUEUE_MIGRATIONS, readKvOutbox, SqliteQueue } from '../../../src/queue/index.js';
import { tempDir } from '../../helpers/tmp.js';

describe('KvOutbox (metadata outbox in the queue file)', () => {
  const cleanups: Array<() => void> = [];
  afterEach(() => {
    for (const c of cleanups.splice(0).reverse()) c();
  });

  let clock = 1_000;
  function open(path?: string): { queue: SqliteQueue; outbox: KvOutbox; path: string } {
    let p = path;
    if (p === undefined) {
      const dir = tempDir();
      cleanups.push(dir.cleanup);
      p = join(dir.path, 'queue.db');
    }
    const queue = new SqliteQueue({ path: p, synchronous: 'normal' });
    expect(queue.start().schemaVersion).toBe(QUEUE_MIGRATIONS.length);
    cleanups.push(() => queue.stop());
    return { queue, outbox: new KvOutbox(queue.database, () => clock), path: p };
  }
  const set = (col: string, key: string, value: string, source: 'static' | 'dynamic' | 'heartbeat' = 'static') => ({ col, key, value, source });

  it('queues only values that changed, one row per key, in sequence order', () => {
    const { outbox } = open();
    expect(outbox.set([set('m', 'd1:model', 'A'), set('m', 'd1:loc', 'L1')])).toBe(2);
    expect(outbox.set([set('m', 'd1:model', 'A'), set('m', 'd1:loc', 'L1')])).toBe(0);
    expect(outbox.set([set('m', 'd1:model', 'B')])).toBe(1);
    expect(outbox.pending(10).map((e) => [e.key, e.value, e.seq])).toEqual([['d1:loc', 'L1', 2], ['d1:model', 'B', 3]]);
    expect(outbox.counts()).toEqual({ acked: 0, pending: 2, failed: 0 });
    expect(() => outbox.set([set('m', 'k', '')])).toThrow(expect.objectContaining({ code: 'EDGE_ERR_RECORD_INVALID' }));
  });

  it('an ack of an older value leaves the newer one pending; the newest ack records the synced value', () => {
    const { outbox } = open();
    outbox.set([set('m', 'k', 'v1')]);
    const first = outbox.pending(1)[0]!;
    outbox.set([set('m', 'k', 'v2')]);
    expect(outbox.ack(first)).toBe(false);
    const second = outbox.pending(1)[0]!;
    expect(second).toMatchObject({ value: 'v2', state: 'pending', ackedValue: null });
    clock = 2_000;
    expect(outbox.ack(second)).toBe(true);
    expect(outbox.entries()).toEqual([
      { col: 'm', key: 'k', source: 'static', op: 'set', value: 'v2', seq: 2, state: 'acked', attempts: 0, lastError: null, updatedAt: 2_000, ackedValue: 'v2', retired: false },
    ]);
    expect(outbox.set([set('m', 'k', 'v2', 'dynamic')])).toBe(0);
    expect(outbox.entries()[0]).toMatchObject({ source: 'dynamic', state: 'acked' });
  });

  it('failed writes wait for retryFailed; resend writes an unchanged value again', () => {
    const { outbox } = open();
    outbox.set([set('m', 'a', '1'), set('m', 'b', '2')]);
    const [a, b] = outbox.pending(10);
    outbox.fail(a!, 'permission denied');
    outbox.ack(b!);
    expect(outbox.pending(10)).toEqual([]);
    expect(outbox.entries('m').map((e) => [e.key, e.state, e.attempts, e.lastError])).toEqual([['a', 'failed', 1, 'permission denied'], ['b', 'acked', 0, null]]);
    expect(outbox.retryFailed()).toBe(1);
    expect(outbox.resend([{ col: 'm', key: 'b' }, { col: 'm', key: 'missing' }])).toBe(1);
    expect(outbox.pending(10).map((e) => [e.key, e.seq])).toEqual([['a', 1], ['b', 3]]);
  });

  it('removed keys are retired without prune, and turned into deletes with it; an acked delete forgets the key', () => {
    const { outbox } = open();
    outbox.set([set('m', 'a', '1'), set('m', 'b', '2')]);
    for (const e of outbox.pending(10)) outbox.ack(e);
    expect(outbox.remove([{ col: 'm', key: 'a' }], false)).toBe(1);
    expect(outbox.remove([{ col: 'm', key: 'a' }], false)).toBe(0);
    expect(outbox.entries()[0]).toMatchObject({ key: 'a', retired: true, state: 'acked' });
    expect(outbox.remove([{ col: 'm', key: 'a' }, { col: 'm', key: 'b' }], true)).toBe(2);
    const deletes = outbox.pending(10);
    expect(deletes.map((e) => [e.key, e.op, e.value])).toEqual([['a', 'delete', null], ['b', 'delete', null]]);
    expect(outbox.ack(deletes[0]!)).toBe(true);
    expect(outbox.entries().map((e) => e.key)).toEqual(['b']);
  });

  it('survives a restart, and reads read-only beside the writer', () => {
    const first = open();
    first.outbox.set([set('m', 'a', '1'), set('m', 'b', '2')]);
    first.outbox.ack(first.outbox.pending(1)[0]!);
    expect(readKvOutbox(first.path).map((e) => [e.key, e.state])).toEqual([['a', 'acked'], ['b', 'pending']]);
    first.queue.stop();
    const again = open(first.path);
    expect(again.outbox.set([set('m', 'a', '1')])).toBe(0);
    expect(again.outbox.set([set('m', 'c', '3')])).toBe(1);
    expect(again.outbox.pending(10).map((e) => [e.key, e.seq])).toEqual([['b', 2], ['c', 3]]);
  });
});
