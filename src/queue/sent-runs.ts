/**
 * Which rows are sent: id runs [lo, hi] with the time they were acked, one row of
 * `sent_runs` per run, instead of a `sent_at` column written on every row. Marking a
 * 1,000-row batch sent by UPDATE cost about 2 us a row (each row grows by its timestamp,
 * pages split, an index takes an entry): a third of the drain's time. A run costs one
 * insert per batch, or one update when it extends the run of the batch before it.
 *
 * A run may cover ids that no longer exist (pruned, dead-lettered, dropped): only the rows
 * still in `records` inside a run are sent rows. Runs are disjoint. Memory keeps the runs
 * at or above the queue's cursor (the lowest id that may be unsent), which is all a lease
 * scan has to jump over; older runs live in the file only, for pruning, replay and resend.
 */
import type { Database, Statement } from 'better-sqlite3';
import { indexFrom } from './id-runs.js';

export interface SentRun {
  lo: number;
  hi: number;
  /** When the newest batch in the run was acked, ms since the epoch. */
  at: number;
}

interface MemRun extends SentRun {
  /** When the run was first written (not persisted): it grows only for MERGE_MS. */
  openedAt: number;
}

/**
 * A run takes the acks adjacent to it for this long, in ms. Retention and the resend window
 * then see one time for the whole run (the newest): rows are kept or re-sent up to this much
 * longer than asked, never shorter.
 */
export const MERGE_MS = 1000;

export class SentRuns {
  private mem: MemRun[] = [];
  private readonly insertRun: Statement;
  private readonly extendRun: Statement;
  private readonly moveLo: Statement;
  private readonly deleteRun: Statement;
  private readonly above: Statement;
  private readonly oldestStmt: Statement;
  private readonly beforeStmt: Statement;
  private readonly minLoSince: Statement;
  private readonly maxHiStmt: Statement;
  private readonly newestAtStmt: Statement;

  constructor(db: Database) {
    this.insertRun = db.prepare('INSERT INTO sent_runs(lo, hi, sent_at) VALUES (?, ?, ?)');
    this.extendRun = db.prepare('UPDATE sent_runs SET hi = ?, sent_at = max(sent_at, ?) WHERE lo = ?');
    this.moveLo = db.prepare('UPDATE sent_runs SET lo = ?, sent_at = max(sent_at, ?) WHERE lo = ?');
    this.deleteRun = db.prepare('DELETE FROM sent_runs WHERE lo = ?');
    this.above = db.prepare('SELECT lo, hi, sent_at AS at FROM sent_runs WHERE hi >= ? ORDER BY lo');
    this.oldestStmt = db.prepare('SELECT lo, hi, sent_at AS at FROM sent_runs ORDER BY sent_at, lo LIMIT ?');
    this.beforeStmt = db.prepare('SELECT lo, hi, sent_at AS at FROM sent_runs WHERE sent_at < ? ORDER BY sent_at, lo LIMIT ?');
    this.minLoSince = db.prepare('SELECT min(lo) FROM sent_runs WHERE sent_at >= ?').pluck();
    this.maxHiStmt = db.prepare('SELECT max(hi) FROM sent_runs').pluck();
    this.newestAtStmt = db.prepare('SELECT max(sent_at) FROM sent_runs').pluck();
  }

  /** Loads the runs that end at or above `floor` (the cursor) into memory. */
  load(floor: number): void {
    this.mem = (this.above.all(floor) as SentRun[]).map((r) => ({ ...r, openedAt: -Infinity }));
  }

  clear(): void {
    this.mem = [];
  }

  /** The highest id any run covers (0 without runs). */
  maxHi(): number {
    return (this.maxHiStmt.get() as number | null) ?? 0;
  }

  /** When the newest ack still on file was recorded, ms since the epoch; null without runs. */
  newestAt(): number | null {
    return this.newestAtStmt.get() as number | null;
  }

  /** The first run in memory that ends at or after `pos`. */
  from(pos: number): SentRun | undefined {
    return this.mem[indexFrom(this.mem, pos)];
  }

  /**
   * Marks [lo, hi] sent at `at`; call inside the queue's transaction. The interval must not
   * overlap a run (a lease never spans sent rows). It joins the run just before or after it
   * when that one is still open (MERGE_MS).
   */
  add(lo: number, hi: number, at: number): void {
    const i = indexFrom(this.mem, lo);
    const next = this.mem[i];
    const prev = i > 0 ? this.mem[i - 1] : undefined;
    const joinsPrev = prev !== undefined && prev.hi + 1 === lo && at - prev.openedAt <= MERGE_MS;
    const joinsNext = next !== undefined && hi + 1 === next.lo && at - next.openedAt <= MERGE_MS;
    if (joinsPrev) {
      const end = joinsNext ? next.hi : hi;
      if (joinsNext) {
        this.deleteRun.run(next.lo);
        this.mem.splice(i, 1);
      }
      this.extendRun.run(end, joinsNext ? Math.max(at, next.at) : at, prev.lo);
      prev.hi = end;
      prev.at = Math.max(prev.at, at, joinsNext ? next.at : at);
    } else if (joinsNext) {
      this.moveLo.run(lo, at, next.lo);
      next.lo = lo;
      next.at = Math.max(next.at, at);
    } else {
      this.insertRun.run(lo, hi, at);
      this.mem.splice(i, 0, { lo, hi, at, openedAt: at });
    }
  }

  /** Forgets (in memory only) the closed runs that end below `floor`: scans never go there. */
  trimBelow(floor: number, now: number): void {
    let n = 0;
    while (n < this.mem.length && this.mem[n]!.hi < floor && now - this.mem[n]!.openedAt > MERGE_MS) n++;
    if (n > 0) this.mem.splice(0, n);
  }

  /** Oldest-acked runs first (from the file). */
  oldest(limit: number): SentRun[] {
    return this.oldestStmt.all(limit) as SentRun[];
  }

  /** Runs acked before `ms`, oldest first (from the file). */
  before(ms: number, limit: number): SentRun[] {
    return this.beforeStmt.all(ms, limit) as SentRun[];
  }

  /** Lowest id of the runs acked at or after `ms`, or null. */
  minIdSince(ms: number): number | null {
    return this.minLoSince.get(ms) as number | null;
  }

  /** Takes ids [run.lo, upTo] out of a run (their rows were deleted): drops it if nothing is left. */
  shrink(run: SentRun, upTo: number): void {
    const m = this.mem.find((r) => r.lo === run.lo);
    if (upTo >= run.hi) {
      this.deleteRun.run(run.lo);
      if (m) this.mem.splice(this.mem.indexOf(m), 1);
      return;
    }
    this.moveLo.run(upTo + 1, run.at, run.lo);
    if (m) m.lo = upTo + 1;
    run.lo = upTo + 1;
  }
}
