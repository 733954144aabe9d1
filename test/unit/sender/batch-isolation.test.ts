import { describe, expect, it } from 'vitest';
import { judgeFailedProbe, POISON_STRIKES, splitBatch, wholeBatch, type Batch } from '../../../src/sender/batch-isolation.js';
import type { QueuedRow, SenderLease } from '../../../src/sender/types.js';

const rows = (n: number): QueuedRow[] => Array.from({ length: n }, (_, i) => ({ id: i + 1, col: 'c', doc: 'd', ts: i + 1, data: '{}' }));
const lease: SenderLease = { records: rows(5), count: 5, escaped: null, last: rows(5)[4]! };

describe('poison isolation verdicts', () => {
  it('reads a whole lease\'s rows only when asked, once', () => {
    let reads = 0;
    const lazy: SenderLease = { ...lease, get records() { reads++; return rows(5); } };
    const batch = wholeBatch(lazy);
    expect(reads).toBe(0);
    expect(batch.rows).toHaveLength(5);
    expect(batch.rows).toHaveLength(5);
    expect(reads).toBe(1);
  });

  it('splits a failed batch in halves, first half probed first', () => {
    const halves = splitBatch({ lease, rows: rows(5), probe: false, strikes: 0 });
    expect(halves.map((b) => b.rows.map((r) => r.id))).toEqual([[4, 5], [1, 2, 3]]);
    expect(halves.every((b) => b.probe && b.strikes === 0 && b.lease === lease)).toBe(true);
  });

  it('condemns a single record only after it killed POISON_STRIKES connections as their first insert', () => {
    let batch: Batch = { lease, rows: rows(1), probe: true, strikes: 0, first: true };
    for (let i = 1; i < POISON_STRIKES; i++) {
      const v = judgeFailedProbe(batch);
      expect(v.action).toBe('retry');
      if (v.action !== 'retry') return;
      batch = { ...v.batches[0]!, first: true };
      expect(batch.strikes).toBe(i);
    }
    expect(judgeFailedProbe(batch)).toEqual({ action: 'dead_letter', row: rows(1)[0] });
  });

  it('gives no strike to a record whose connection died after other frames', () => {
    const batch: Batch = { lease, rows: rows(1), probe: true, strikes: POISON_STRIKES - 1, first: false };
    expect(judgeFailedProbe(batch)).toEqual({ action: 'retry', batches: [batch] });
  });
});
