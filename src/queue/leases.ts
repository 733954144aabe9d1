/**
 * In-memory bookkeeping of leases (nothing goes to disk: a crash forgets them and the rows
 * are leased again after restart, which is safe because inserts are idempotent).
 *
 * A lease is stored as runs: id intervals [lo, hi] in which every unsent row belongs to
 * that lease (rows in between are sent, or leased by an older lease that the run jumped
 * over). Runs of all leases are disjoint, so a new lease scan jumps over them instead of
 * reading leased rows again. Memory is bounded by the sender's window, not the queue size.
 */
import type { QueuedRecord } from './types.js';

export interface LeaseRun {
  lo: number;
  hi: number;
}

interface LeaseState {
  runs: LeaseRun[];
  /** Ids not yet acked. */
  ids: Set<number>;
}

/** Most distinct `minId` values whose scan position is remembered (live_first uses two). */
const MAX_HINTS = 8;
/** Acked runs remembered for hint jumps; more than the sender's window ever needs. */
const MAX_SENT_RUNS = 256;

export class LeaseBook {
  private leases = new Map<number, LeaseState>();
  /** All runs of all leases, sorted by lo. */
  private runs: LeaseRun[] = [];
  private leasedIds = new Set<number>();
  private nextLeaseId = 1;
  /**
   * minId -> lowest id >= minId that may still be unsent. Sent is final and new rows get
   * higher ids, so a hint only moves forward; it is what keeps lease scans off the retained
   * sent rows. The entry for 0 is the queue's cursor.
   */
  private hints = new Map<number, number>();
  /** Recently acked runs that some hint may still have to jump over (bounded). */
  private sentRuns: LeaseRun[] = [];

  get leaseCount(): number {
    return this.leases.size;
  }

  get leasedRows(): number {
    return this.leasedIds.size;
  }

  isLeased(id: number): boolean {
    return this.leasedIds.has(id);
  }

  /** The first run that ends at or after `pos`. */
  runFrom(pos: number): LeaseRun | undefined {
    let lo = 0;
    let hi = this.runs.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.runs[mid]!.hi < pos) lo = mid + 1;
      else hi = mid;
    }
    return this.runs[lo];
  }

  /**
   * Builds a lease: the oldest unsent, unleased rows with id >= minId, ascending, up to
   * maxRecords and maxBytes (at least one row), jumping over other leases' runs and
   * starting from the remembered scan position. `unsentRows(from, to, limit)` reads the
   * file. Null when there is nothing to send.
   */
  lease(
    req: { maxRecords: number; maxBytes: number; minId?: number },
    lastId: number,
    unsentRows: (fromId: number, toId: number, limit: number) => QueuedRecord[],
  ): { leaseId: number; records: QueuedRecord[]; bytes: number } | null {
    const minId = Math.max(0, req.minId ?? 0);
    const maxRecords = Math.max(1, Math.floor(req.maxRecords));
    let pos = Math.max(minId, 1, this.hint(minId) ?? 0, this.hint(0) ?? 0);
    let hint: number | undefined;
    const taken: QueuedRecord[] = [];
    const runs: LeaseRun[] = [];
    let bytes = 0;
    let run: LeaseRun | undefined;
    scan: while (taken.length < maxRecords && pos <= lastId) {
      const next = this.runFrom(pos);
      if (next && next.lo <= pos) {
        hint ??= pos;
        pos = next.hi + 1;
        run = undefined;
        continue;
      }
      const to = next ? next.lo - 1 : Number.MAX_SAFE_INTEGER;
      const want = maxRecords - taken.length;
      const rows = unsentRows(pos, to, want);
      if (rows.length > 0) hint ??= rows[0]!.id;
      for (const row of rows) {
        if (taken.length > 0 && bytes + row.bytes > req.maxBytes) break scan;
        taken.push(row);
        bytes += row.bytes;
        if (run) run.hi = row.id;
        else runs.push((run = { lo: row.id, hi: row.id }));
      }
      if (rows.length < want) {
        if (!next) break;
        pos = next.lo;
      }
    }
    this.setHint(minId, hint ?? lastId + 1);
    if (taken.length === 0) return null;
    const leaseId = this.add(
      taken.map((r) => r.id),
      runs,
    );
    return { leaseId, records: taken, bytes };
  }

  add(ids: number[], runs: LeaseRun[]): number {
    const leaseId = this.nextLeaseId++;
    this.leases.set(leaseId, { runs, ids: new Set(ids) });
    for (const id of ids) this.leasedIds.add(id);
    this.runs.push(...runs);
    this.runs.sort((a, b) => a.lo - b.lo);
    return leaseId;
  }

  /** The ids still held by a lease, or undefined if it is unknown or finished. */
  idsOf(leaseId: number): Set<number> | undefined {
    return this.leases.get(leaseId)?.ids;
  }

  /** The runs of a lease: every unsent row inside them is this lease's. */
  runsOf(leaseId: number): readonly LeaseRun[] {
    return this.leases.get(leaseId)?.runs ?? [];
  }

  /** Forgets some ids of a lease (partial ack); the lease stays open. */
  dropIds(leaseId: number, ids: Iterable<number>): void {
    const state = this.leases.get(leaseId);
    if (!state) return;
    for (const id of ids) {
      if (state.ids.delete(id)) this.leasedIds.delete(id);
    }
  }

  /** Ends a lease; returns false if it was unknown or already ended. */
  end(leaseId: number): boolean {
    const state = this.leases.get(leaseId);
    if (!state) return false;
    this.leases.delete(leaseId);
    for (const id of state.ids) this.leasedIds.delete(id);
    const gone = new Set(state.runs);
    this.runs = this.runs.filter((r) => !gone.has(r));
    return true;
  }

  /**
   * Records that every row in `runs` is now sent, and moves each scan hint that stood in
   * one of them past it (chained through runs acked earlier out of order). Without this a
   * drain with several leases in flight re-reads up to a window of sent rows per lease:
   * measured, a third of the sender's time.
   */
  markSent(runs: readonly LeaseRun[]): void {
    for (const r of runs) this.sentRuns.push({ lo: r.lo, hi: r.hi });
    this.sentRuns.sort((a, b) => a.lo - b.lo);
    for (const [minId, h] of this.hints) {
      let pos = h;
      for (const r of this.sentRuns) {
        if (r.lo > pos) break;
        if (r.hi >= pos) pos = r.hi + 1;
      }
      if (pos !== h) this.hints.set(minId, pos);
    }
    // Runs below every hint can never be scanned again.
    const floor = Math.min(...this.hints.values());
    this.sentRuns = this.sentRuns.filter((r) => r.hi >= floor).slice(-MAX_SENT_RUNS);
  }

  hint(minId: number): number | undefined {
    return this.hints.get(minId);
  }

  setHint(minId: number, id: number): void {
    if ((this.hints.get(minId) ?? 0) >= id) return;
    this.hints.delete(minId);
    this.hints.set(minId, id);
    if (this.hints.size > MAX_HINTS) {
      for (const key of this.hints.keys()) {
        if (key !== 0) {
          this.hints.delete(key);
          break;
        }
      }
    }
  }

  clear(): void {
    this.leases.clear();
    this.runs = [];
    this.leasedIds.clear();
    this.hints.clear();
    this.sentRuns = [];
  }
}
