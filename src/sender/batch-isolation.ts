/**
 * Poison isolation. The server closes the socket on a request it cannot take, and every
 * request pipelined behind it dies unanswered; it never says which record was at fault.
 * So batches that were in flight when a connection died are held (still leased) and sent
 * again one at a time. A batch that kills a connection while alone is split in halves,
 * until the culprit is a single record; that record is dead-lettered only after it killed
 * several connections as their very first insert, so a link that drops every few frames,
 * or an outage that happens to strike while a probe is out, does not condemn a good reading.
 */
import type { QueuedRow, SenderLease } from './types.js';

/** A single record must kill this many connections alone before it is dead-lettered. */
export const POISON_STRIKES = 3;

export interface Batch {
  /** The queue lease the rows belong to (a split batch shares its parent's lease). */
  lease: SenderLease;
  rows: readonly QueuedRow[];
  /** Sent alone, to find out whether it is what kills the connection. */
  probe: boolean;
  /** Connections this batch killed as their first insert (only counted for single records). */
  strikes: number;
  /** Sent as the first insert on its connection: only then does a close point at it for sure. */
  first?: boolean;
}

export type IsolationVerdict =
  | { action: 'retry'; batches: Batch[] }
  | { action: 'dead_letter'; row: QueuedRow };

/** A whole lease as a batch; its rows are read only if something asks for them. */
export function wholeBatch(lease: SenderLease): Batch {
  let rows: readonly QueuedRow[] | undefined;
  return {
    lease,
    probe: false,
    strikes: 0,
    get rows(): readonly QueuedRow[] {
      return (rows ??= lease.records);
    },
    set rows(value: readonly QueuedRow[]) {
      rows = value;
    },
  };
}

/** Two probes, halves of `rows`, ordered for a stack: the first half is popped (probed) first. */
export function splitBatch(batch: Batch): Batch[] {
  const { lease, rows } = batch;
  const mid = Math.ceil(rows.length / 2);
  return [
    { lease, rows: rows.slice(mid), probe: true, strikes: 0 },
    { lease, rows: rows.slice(0, mid), probe: true, strikes: 0 },
  ];
}

/** What to do with a probe that failed alone: split it, retry it, or give up on its record. */
export function judgeFailedProbe(batch: Batch): IsolationVerdict {
  const { rows } = batch;
  if (rows.length > 1) return { action: 'retry', batches: splitBatch(batch) };
  // A close after other frames may be the link or the server, not this record: retry, no strike.
  if (batch.first !== true) return { action: 'retry', batches: [batch] };
  const strikes = batch.strikes + 1;
  if (strikes >= POISON_STRIKES) return { action: 'dead_letter', row: rows[0]! };
  return { action: 'retry', batches: [{ ...batch, probe: true, strikes }] };
}
