/**
 * In-memory bookkeeping of leases (nothing goes to disk: a crash forgets them and the rows
 * are leased again after restart, which is safe because inserts are idempotent).
 *
 * A lease is stored as runs: id intervals [lo, hi] in which every unsent row belongs to
 * that lease. Runs of all leases are disjoint from each other and from the sent runs, so a
 * scan for unsent rows walks the gaps between both kinds of runs (`gaps`) and never reads a
 * leased or sent row. Memory is bounded by the sender's window, not the queue size.
 */
import { indexFrom } from './id-runs.js';
import type { SentRuns } from './sent-runs.js';

export interface LeaseRun {
  lo: number;
  hi: number;
}

export interface LeaseState {
  runs: LeaseRun[];
  /** Rows still held (not acked in part, not dead-lettered). */
  count: number;
  bytes: number;
  /** Ids that left the lease (acked in part or dead-lettered). */
  gone: Set<number>;
}

export class LeaseBook {
  private leases = new Map<number, LeaseState>();
  /** All runs of all leases, sorted by lo. */
  private runs: LeaseRun[] = [];
  private rows = 0;
  private nextLeaseId = 1;
  /** The lowest id that may be unsent: scans start here. Only moves forward, except at start. */
  cursor = 1;

  get leaseCount(): number {
    return this.leases.size;
  }

  get leasedRows(): number {
    return this.rows;
  }

  /**
   * The id intervals at or above `from` (and at or below `lastId`) that no lease and no sent
   * run covers, in ascending order: every row in them is unsent and free.
   */
  *gaps(from: number, lastId: number, sent: SentRuns): Generator<[number, number]> {
    let pos = Math.max(from, this.cursor, 1);
    while (pos <= lastId) {
      const l = this.runFrom(pos);
      if (l !== undefined && l.lo <= pos) {
        pos = l.hi + 1;
        continue;
      }
      const s = sent.from(pos);
      if (s !== undefined && s.lo <= pos) {
        pos = s.hi + 1;
        continue;
      }
      const to = Math.min(l?.lo ?? Infinity, s?.lo ?? Infinity, lastId + 1) - 1;
      yield [pos, to];
      pos = to + 1;
    }
  }

  add(runs: LeaseRun[], count: number, bytes: number): number {
    const leaseId = this.nextLeaseId++;
    this.leases.set(leaseId, { runs, count, bytes, gone: new Set() });
    this.rows += count;
    this.runs.push(...runs);
    this.runs.sort((a, b) => a.lo - b.lo);
    return leaseId;
  }

  get(leaseId: number): LeaseState | undefined {
    return this.leases.get(leaseId);
  }

  /** Takes rows out of a lease (acked in part, dead-lettered); the lease stays open. */
  drop(leaseId: number, ids: Iterable<number>, bytes: number): void {
    const state = this.leases.get(leaseId);
    if (!state) return;
    let n = 0;
    for (const id of ids) {
      if (state.gone.has(id)) continue;
      state.gone.add(id);
      n++;
    }
    state.count -= n;
    state.bytes -= bytes;
    this.rows -= n;
  }

  /** Ends a lease; returns false if it was unknown or already ended. */
  end(leaseId: number): boolean {
    const state = this.leases.get(leaseId);
    if (!state) return false;
    this.leases.delete(leaseId);
    this.rows -= state.count;
    const gone = new Set(state.runs);
    this.runs = this.runs.filter((r) => !gone.has(r));
    return true;
  }

  clear(): void {
    this.leases.clear();
    this.runs = [];
    this.rows = 0;
    this.cursor = 1;
  }

  /** The first run that ends at or after `pos`. */
  private runFrom(pos: number): LeaseRun | undefined {
    return this.runs[indexFrom(this.runs, pos)];
  }
}
