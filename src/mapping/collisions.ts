/**
 * Keeps readings of one document from overwriting each other: FluxionDB's identity is
 * (col, doc, ts), so two readings in the same tick would lose one. Three rules (issue 11):
 *
 * - **Same identity, same data: the same reading.** A QoS 1 redelivery (broker restart,
 *   lost PUBACK) or a device republishing is written again at the ts the original was
 *   given (inserts are idempotent) and counted as a duplicate, never bumped.
 * - **Same identity, different data: a collision.** A reading whose ts falls in
 *   [arrived, given] of its document's latest run collides and (policy `bump`) gets
 *   given + 1, so three readings at t come out as t, t+1, t+2. Readings older than the
 *   latest pass through untouched: a collision with an older reading is not detected.
 * - **A device's own timestamp is never displaced by a substituted one** (receive time,
 *   after a timestamp before the floor or a rule without one). When a reading with its own
 *   ts lands on the slot a substituted reading took, the device reading keeps its ts (it is
 *   written after the other, so the server keeps it) and the substituted one moves to the
 *   next free ts: `displaced` tells the caller to write it there too.
 *
 * What must be remembered for that is small: a redelivery of a reading that kept its own ts
 * and is older than the latest passes through at that very ts, which is right. Only the
 * latest run, bumped or moved readings and substituted ones are kept, at most PER_DOC per
 * document (about one per document in steady traffic), with a reference to their data.
 *
 * After a restart the memory is rebuilt from the queue's newest rows (`remember`). Rows do
 * not say which ts they arrived with, so a row may have been bumped from any slot of the
 * run of occupied slots just below it: a redelivery with the same data arriving in that
 * run is taken for it. The number of documents is bounded; the one seen first goes first.
 */

/** How many of the queue's newest rows rebuild the memory after a restart or a reload. */
export const RECENT_READINGS = 10_000;

/** How far below a remembered row a redelivery may have arrived (longer bump chains are rare). */
const MAX_CHAIN = 16;

/**
 * Readings remembered per document beyond the plain latest one (bumped, moved, substituted).
 * Room for a whole restored latest run (MAX_CHAIN + 1 rows) and as many readings again: a
 * run cut short, or evicted by the bumps of a redelivery of it, turns every later redelivery
 * of that run into a collision (measured: a SIGKILL in a stream of one reading per ms moved
 * a whole tail of readings up by 17 ms).
 */
const PER_DOC = 2 * (MAX_CHAIN + 1);

interface Entry {
  /** The ts it arrived with; from stored rows, the lowest it may have arrived with. */
  lo: number;
  arrived: number;
  given: number;
  data: string;
  substituted: boolean;
}

interface DocState {
  /** The latest run: readings arriving in [arrived, given] collide with it. */
  arrived: number;
  given: number;
  /** Oldest first, at most PER_DOC. */
  entries: Entry[];
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
  private readonly docs = new Map<string, DocState>();

  constructor(
    private readonly maxEntries: number,
    private readonly bump: boolean,
  ) {}

  /**
   * Returns the ts to write for this reading, and remembers what it must. `substituted`:
   * its ts is the receive time, not the device's own.
   */
  admit(col: string, doc: string, ts: number, data: string, substituted: boolean): number {
    this.displaced = null;
    const key = `${col}\u0000${doc}`;
    const st = this.docs.get(key);
    if (st === undefined) {
      this.track(key, { arrived: ts, given: ts, entries: [entry(ts, ts, data, substituted)] });
      return ts;
    }
    const entries = st.entries;
    if (ts > st.given) {
      // A new latest run, the common case: nothing remembered can match a ts above every given.
      st.arrived = ts;
      st.given = ts;
      // Plain readings of the old run are not needed any more: a redelivery keeps its own ts.
      // The common case, one plain reading, reuses its object: this is the hot path.
      const only = entries.length === 1 ? entries[0]! : undefined;
      if (only !== undefined && !substituted && !only.substituted && only.given === only.arrived && only.lo === only.arrived) {
        only.lo = only.arrived = only.given = ts;
        only.data = data;
        return ts;
      }
      let n = 0;
      let spare: Entry | undefined;
      for (const e of entries) {
        if (e.substituted || e.given !== e.arrived || e.lo !== e.arrived) entries[n++] = e;
        else spare = e;
      }
      entries.length = n;
      if (spare === undefined || substituted) {
        push(entries, entry(ts, ts, data, substituted));
      } else {
        spare.lo = spare.arrived = spare.given = ts;
        spare.data = data;
        entries.push(spare);
      }
      return ts;
    }
    let occupant: Entry | undefined;
    for (let i = entries.length - 1; i >= 0; i--) {
      const e = entries[i]!;
      if (ts <= e.arrived && ts >= e.lo && e.data === data) {
        this.duplicates++;
        return e.given;
      }
      if (e.substituted && e.given === ts) occupant = e;
    }
    if (occupant !== undefined && !substituted && this.bump) {
      // The device's own reading takes the slot back; the substituted one moves up.
      this.collisions++;
      st.given += 1;
      occupant.given = st.given;
      this.displaced = { ts: occupant.given, data: occupant.data };
      push(entries, entry(ts, ts, data, false));
      return ts;
    }
    let given = ts;
    if (ts >= st.arrived) {
      this.collisions++;
      if (this.bump) given = ++st.given;
    } else if (!substituted) {
      // Older than the latest, its own ts: passes through, and a redelivery will too.
      return ts;
    }
    push(st.entries, entry(ts, given, data, substituted));
    return given;
  }

  /**
   * Rebuilds the memory from stored rows, oldest first (the queue's newest rows after a
   * restart or a reload). Rows count as readings with their own timestamps.
   */
  remember(rows: readonly RememberedRow[]): void {
    const byDoc = new Map<string, RememberedRow[]>();
    for (const r of rows) {
      const key = `${r.col}\u0000${r.doc}`;
      const list = byDoc.get(key);
      if (list === undefined) byDoc.set(key, [r]);
      else list.push(r);
    }
    for (const [key, list] of byDoc) {
      const occupied = new Set(list.map((r) => r.ts));
      let top = -Infinity;
      for (const ts of occupied) if (ts > top) top = ts;
      const lowest = (ts: number): number => {
        let lo = ts;
        while (ts - lo < MAX_CHAIN && occupied.has(lo - 1)) lo--;
        return lo;
      };
      const bottom = lowest(top);
      // Rows that may have been bumped (a slot below them is taken) or that form the latest run.
      const kept = list
        .map((r) => ({ lo: lowest(r.ts), arrived: r.ts, given: r.ts, data: r.data, substituted: false }))
        .filter((e) => e.lo < e.arrived || e.arrived >= bottom)
        .slice(-PER_DOC);
      const st = this.docs.get(key);
      if (st === undefined) this.track(key, { arrived: bottom, given: top, entries: kept });
      else {
        for (const e of kept) push(st.entries, e);
        if (top > st.given) {
          st.arrived = bottom;
          st.given = top;
        }
      }
    }
  }

  /** Documents remembered. */
  get size(): number {
    return this.docs.size;
  }

  private track(key: string, st: DocState): void {
    if (this.docs.size >= this.maxEntries) {
      const oldest = this.docs.keys().next();
      if (oldest.done !== true) this.docs.delete(oldest.value);
    }
    this.docs.set(key, st);
  }
}

function entry(arrived: number, given: number, data: string, substituted: boolean): Entry {
  return { lo: arrived, arrived, given, data, substituted };
}

function push(entries: Entry[], e: Entry): void {
  entries.push(e);
  if (entries.length > PER_DOC) entries.shift();
}
