/**
 * Keeps readings of one document from overwriting each other: FluxionDB's identity is
 * (col, doc, ts), so two readings in the same tick would lose one.
 *
 * Only the latest reading of each document is remembered: the ts it arrived with and the
 * ts it was given. A reading whose ts falls in [arrived, given] collides with that run and
 * (policy `bump`) gets given + 1, so three readings at t come out as t, t+1, t+2. Readings
 * older than the latest are passed through untouched and not tracked: a collision with an
 * older reading is not detected. The memory is bounded; when full, the document seen first
 * is forgotten (insertion order, no reordering on update, which keeps updates allocation-free).
 */

interface LastReading {
  arrived: number;
  given: number;
}

export class CollisionGuard {
  /** Readings that collided (bumped or kept). */
  collisions = 0;
  private readonly last = new Map<string, LastReading>();

  constructor(
    private readonly maxEntries: number,
    private readonly bump: boolean,
  ) {}

  /** Returns the ts to write for this reading, and remembers it. */
  admit(col: string, doc: string, ts: number): number {
    const key = `${col}\u0000${doc}`;
    const prev = this.last.get(key);
    if (prev === undefined) {
      if (this.last.size >= this.maxEntries) {
        const oldest = this.last.keys().next();
        if (oldest.done !== true) this.last.delete(oldest.value);
      }
      this.last.set(key, { arrived: ts, given: ts });
      return ts;
    }
    if (ts < prev.arrived) return ts;
    if (ts > prev.given) {
      prev.arrived = ts;
      prev.given = ts;
      return ts;
    }
    this.collisions++;
    if (!this.bump) return ts;
    prev.given += 1;
    return prev.given;
  }

  /** Documents currently remembered. */
  get size(): number {
    return this.last.size;
  }
}
