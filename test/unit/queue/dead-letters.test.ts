import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SqliteQueue, type QueueOptions } from '../../../src/queue/index.js';
import { tempDir } from '../../helpers/tmp.js';

describe('SqliteQueue: dead letters', () => {
  let dir: ReturnType<typeof tempDir>;
  let clock: number;
  let q: SqliteQueue;
  const open = (opts: Partial<QueueOptions> = {}) => {
    q = new SqliteQueue({ path: join(dir.path, 'q.db'), synchronous: 'off', ...opts }, { now: () => clock });
    q.start();
    return q;
  };

  beforeEach(() => {
    dir = tempDir();
    clock = 5_000;
  });
  afterEach(() => {
    q.stop();
    dir.cleanup();
  });

  it('stores, lists in pages and counts dead letters with their payloads', () => {
    open();
    q.deadLetter({ reason: 'mapping_no_rule', source: 'mqtt', origin: 'a/b', payload: Buffer.from([1, 2, 3]) });
    clock += 1;
    expect(
      q.deadLetterMany([
        { reason: 'bad_json', source: 'serial', origin: '/dev/ttyS0', payload: 'not json' },
        { reason: 'server_rejected', source: 'sender', record: { col: 'c', doc: 'd', ts: 1, data: '{}' } },
      ]),
    ).toBe(2);
    expect(q.countDeadLetters()).toBe(3);
    const first = q.listDeadLetters({ limit: 2 });
    expect(first).toEqual([
      { id: 1, at: 5000, reason: 'mapping_no_rule', source: 'mqtt', origin: 'a/b', payload: Buffer.from([1, 2, 3]), record: null },
      { id: 2, at: 5001, reason: 'bad_json', source: 'serial', origin: '/dev/ttyS0', payload: 'not json', record: null },
    ]);
    expect(q.listDeadLetters({ afterId: 2 })).toEqual([
      { id: 3, at: 5001, reason: 'server_rejected', source: 'sender', origin: null, payload: null, record: { col: 'c', doc: 'd', ts: 1, data: '{}' } },
    ]);
    expect(q.stats()).toMatchObject({ deadLettered: 3, deadLetterDepth: 3 });
  });

  it('retries records into the queue and remaps raw payloads, in one transaction', () => {
    open();
    q.deadLetterMany([
      { reason: 'server_rejected', source: 'sender', record: { col: 'c', doc: 'd', ts: 1, data: '{}' } },
      { reason: 'mapping_no_rule', source: 'mqtt', origin: 't/1', payload: '21.5' },
      { reason: 'mapping_no_rule', source: 'mqtt', origin: 't/2', payload: 'junk' },
    ]);
    expect(q.retryDeadLetters({ ids: [1, 2] })).toEqual({ retried: 1, records: 1, skipped: 1 });
    const remapped = q.retryDeadLetters({
      remap: (dl) => (dl.payload === '21.5' ? [{ col: 'temp', doc: String(dl.origin), ts: 2, data: `{"t":${String(dl.payload)}}` }] : null),
    });
    expect(remapped).toEqual({ retried: 1, records: 1, skipped: 1 });
    expect(q.listDeadLetters().map((d) => d.id)).toEqual([3]);
    expect(q.lease({ maxRecords: 10, maxBytes: 1e6 })!.records.map(({ col, doc, ts, data }) => ({ col, doc, ts, data }))).toEqual([
      { col: 'c', doc: 'd', ts: 1, data: '{}' },
      { col: 'temp', doc: 't/1', ts: 2, data: '{"t":21.5}' },
    ]);
  });

  it('a failing retry (queue full, block) leaves the dead letters in place', () => {
    open({ maxRows: 1, onFull: 'block' });
    q.append([{ col: 'c', doc: 'd', ts: 2, data: '{}' }]);
    q.deadLetter({ reason: 'r', source: 'sender', record: { col: 'c', doc: 'd', ts: 1, data: '{}' } });
    expect(() => q.retryDeadLetters()).toThrow(expect.objectContaining({ code: 'EDGE_ERR_QUEUE_FULL' }));
    expect(q.countDeadLetters()).toBe(1);
  });

  it('purges by id, by age, or all', () => {
    open();
    for (let i = 0; i < 5; i++) {
      q.deadLetter({ reason: 'r', source: 'mqtt', payload: String(i) });
      clock += 1000;
    }
    expect(q.purgeDeadLetters({ ids: [2, 99] })).toBe(1);
    expect(q.purgeDeadLetters({ olderThanMs: 2500 })).toBe(2); // at 5000 and 7000 (2000 was id 2)
    expect(q.listDeadLetters().map((d) => d.id)).toEqual([4, 5]);
    expect(q.purgeDeadLetters()).toBe(2);
    expect(q.countDeadLetters()).toBe(0);
  });

  it('caps the table, purging the oldest and counting them', () => {
    open({ deadLetterMaxRows: 3 });
    const dropped: unknown[] = [];
    q.on('dropped', (e) => dropped.push(e));
    q.deadLetterMany([1, 2, 3, 4, 5].map((i) => ({ reason: 'r', source: 'mqtt', payload: String(i) })));
    expect(q.listDeadLetters().map((d) => d.payload)).toEqual(['3', '4', '5']);
    expect(dropped).toEqual([{ reason: 'dead_letter_cap', count: 2 }]);
    expect(q.stats()).toMatchObject({ deadLettered: 5, deadLetterDepth: 3, droppedByReason: { dead_letter_cap: 2 } });
  });

  it('moves a poison record out of a lease; the rest of the lease acks normally', () => {
    open();
    q.append([1, 2, 3].map((i) => ({ col: 'c', doc: 'd', ts: i, data: '{}' })));
    const l = q.lease({ maxRecords: 3, maxBytes: 1e6 })!;
    expect(q.deadLetterLeased(l, [2], 'server_closed_socket')).toBe(1);
    expect(q.ack(l)).toBe(2);
    expect(q.listDeadLetters()).toEqual([
      { id: 1, at: 5000, reason: 'server_closed_socket', source: 'sender', origin: null, payload: null, record: { col: 'c', doc: 'd', ts: 2, data: '{}' } },
    ]);
    expect(q.stats()).toMatchObject({ depth: 0, retainedRows: 2, sent: 2, deadLettered: 1 });
  });
});
