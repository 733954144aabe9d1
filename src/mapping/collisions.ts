/**
 * Keeps readings of one document from overwriting each other: FluxionDB's identity is
 * (col, doc, ts), so two readings in the same tick would lose one. Three rules (issue 11):
 *
 * - **Same identity, same data: the same reading.** A QoS 1 redelivery (broker restart,
 *   lost PUBACK) or a device republishing is written again at the ts the original was
 *   given (inserts are idempotent) and counted as a duplicate, never bumped. The guard
 *   remembers the last RECENT_READINGS readings (identity as it arrived, data, ts given),
 *   which covers what a broker can redeliver: its in-flight window.
 * - **Same identity, different data: a collision.** Only the latest reading of each
 *   document is tracked for that: a reading whose ts falls in [arrived, given] of the
 *   latest run collides and (policy `bump`) gets given + 1, so three readings at t come
 *   out as t, t+1, t+2. Readings older than the latest pass through untouched: a collision
 *   with an older reading is not detected.
 * - **A device's own timestamp is never displaced by a substituted one** (receive time,
 *   after a timestamp before the floor or a rule without one). When a reading with its own
 *   ts lands on the slot a substituted reading took, the device reading keeps its ts (it is
 *   written after the other, so the server keeps it) and the substituted one moves to the
 *   next free ts: `displaced` tells the caller to write it there too.
 *
 * After a restart the memory is rebuilt from the queue's newest rows (`remember`): a
 * redelivery of a reading committed just before a crash is recognised by its data. Rows do
 * not say which ts they arrived with, so a bumped row is matched within the run of
 * occupied slots just below it. The memory is bounded; when full, the oldest is forgotten.
 */

/** How many recent readings the duplicate check remembers (about 200 bytes each). */
export const RECENT_READINGS = 10_000;

/** How far below a remembered row a redelivery may have arrived (bump chains longer are rare). */
const MAX_CHAIN = 16;

interface LatestRun {
  arrived: number;
  given: number;
}

interface Seen {
  given: number;
  data: string;
  /** Key of this reading's slot in `substitutedSlots`, when its ts was substituted. */
  slot: string | null;
}

export interface RememberedRow {
  col: string;
  doc: string;
  ts: number;
  data: string;
}

export class CollisionGuard {
  /** Readings that collided (bumped or kept). */
  collisions = 0;
  /** Readings seen again with the same identity and data (redeliveries), written again as they were. */
  duplicates = 0;
  /**
   * Set by the last `admit` when a reading with its own timestamp took the slot of a
   * substituted one: that reading's data and the ts it moved to. Null otherwise.
   */
  displaced: { ts: number; data: string } | null = null;
  private readonly latest = new Map<string, LatestRun>();
  /** `col \0 doc \0 ts-as-arrived \0 data` -> what it was given; insertion order = age. */
  private readonly recent = new Map<string, Seen>();
  /** `col \0 doc \0 ts-given` of substituted readings still remembered. */
  private readonly substitutedSlots = new Map<string, Seen>();

  constructor(
    private readonly maxEntries: number,
    private readonly bump: boolean,
    private readonly recentMax = RECENT_READINGS,
  ) {}

  /**
   * Returns the ts to write for this reading, and remembers it. `substituted`: its ts is the
   * receive time, not the device's own.
   */
  admit(col: string, doc: string, ts: number, data: string, substituted: boolean): number {
    this.displaced = null;
    const key = `${col}\u0000${doc}`;
    const idKey = `${key}\u0000${ts}\u0000${data}`;
    const seen = this.recent.get(idKey);
    if (seen !== undefined) {
      this.duplicates++;
      return seen.given;
    }
    let run = this.latest.get(key);
    if (!substituted && run !== undefined && this.substitutedSlots.size > 0 && this.bump) {
      const moved = this.displace(key, ts, run);
      if (moved) {
        this.note(idKey, key, ts, data, false);
        return ts;
      }
    }
    let given = ts;
    if (run === undefined) {
      if (this.latest.size >= this.maxEntries) {
        const oldest = this.latest.keys().next();
        if (oldest.done !== true) this.latest.delete(oldest.value);
      }
      run = { arrived: ts, given: ts };
      this.latest.set(key, run);
    } else if (ts > run.given) {
      run.arrived = ts;
      run.given = ts;
    } else if (ts >= run.arrived) {
      this.collisions++;
      if (this.bump) given = ++run.given;
    }
    this.note(idKey, key, given, data, substituted);
    return given;
  }

  /**
   * Rebuilds the memory from stored rows, oldest first (the queue's newest rows after a
   * restart or a reload). Rows count as readings with their own timestamps.
   */
  remember(rows: readonly RememberedRow[]): void {
    const slots = new Map<string, Set<number>>();
    for (const r of rows) {
      const key = `${r.col}\u0000${r.doc}`;
      let set = slots.get(key);
      if (set === undefined) slots.set(key, (set = new Set()));
      set.add(r.ts);
    }
    // Exact identities first, so that a chain candidate never hides a reading's own ts.
    for (const r of rows) this.note(`${r.col}\u0000${r.doc}\u0000${r.ts}\u0000${r.data}`, '', r.ts, r.data, false);
    for (const r of rows) {
      const key = `${r.col}\u0000${r.doc}`;
      const occupied = slots.get(key)!;
      for (let a = r.ts - 1, n = 0; n < MAX_CHAIN && occupied.has(a); a--, n++) {
        const idKey = `${key}\u0000${a}\u0000${r.data}`;
        if (!this.recent.has(idKey)) this.note(idKey, '', r.ts, r.data, false);
      }
    }
    for (const [key, occupied] of slots) {
      const top = Math.max(...occupied);
      let bottom = top;
      while (occupied.has(bottom - 1)) bottom--;
      const run = this.latest.get(key);
      if (run === undefined || top > run.given) this.latest.set(key, { arrived: bottom, given: top });
    }
  }

  /** Documents whose latest reading is remembered. */
  get size(): number {
    return this.latest.size;
  }

  /** Moves a substituted reading off slot `ts` of `key` to the next free ts; true if there was one. */
  private displace(key: string, ts: number, run: LatestRun): boolean {
    const slot = `${key}\u0000${ts}`;
    const occupant = this.substitutedSlots.get(slot);
    if (occupant === undefined) return false;
    this.substitutedSlots.delete(slot);
    this.collisions++;
    run.given = Math.max(run.given, ts) + 1;
    occupant.given = run.given;
    occupant.slot = `${key}\u0000${run.given}`;
    this.substitutedSlots.set(occupant.slot, occupant);
    this.displaced = { ts: run.given, data: occupant.data };
    return true;
  }

  private note(idKey: string, key: string, given: number, data: string, substituted: boolean): void {
    const seen: Seen = { given, data, slot: substituted ? `${key}\u0000${given}` : null };
    this.recent.set(idKey, seen);
    if (seen.slot !== null) this.substitutedSlots.set(seen.slot, seen);
    if (this.recent.size <= this.recentMax) return;
    const oldest = this.recent.entries().next();
    if (oldest.done === true) return;
    this.recent.delete(oldest.value[0]);
    const gone = oldest.value[1];
    if (gone.slot !== null && this.substitutedSlots.get(gone.slot) === gone) this.substitutedSlots.delete(gone.slot);
  }
}
