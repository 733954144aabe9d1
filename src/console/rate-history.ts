/**
 * The console's charts: readings in, committed and sent per second over the last hour,
 * kept in memory. One sample of the counters every `intervalMs` (5 s by default: 720
 * points, a few tens of KB); the rates are the differences between neighbours, so a
 * sample costs three reads of counters the agent keeps anyway.
 */

export interface RateCounters {
  received: number;
  committed: number;
  sent: number;
}

export interface RatePoint {
  /** End of the interval, ms since the epoch. */
  at: number;
  /** Per second over the interval that ends at `at`. */
  in: number;
  committed: number;
  sent: number;
}

const HOUR_MS = 3_600_000;

export class RateHistory {
  private readonly points: RatePoint[] = [];
  private last: { at: number; c: RateCounters } | null = null;
  private readonly max: number;

  constructor(
    readonly intervalMs: number,
    private readonly read: () => RateCounters,
    private readonly now: () => number = Date.now,
  ) {
    this.max = Math.max(2, Math.ceil(HOUR_MS / intervalMs));
  }

  /** Takes one sample; returns the new point (null for the first sample, which only sets the base). */
  sample(): RatePoint | null {
    const at = this.now();
    const c = this.read();
    const prev = this.last;
    this.last = { at, c };
    if (prev === null || at <= prev.at) return null;
    const perS = (a: number, b: number): number => Math.max(0, Math.round(((a - b) * 10_000) / (at - prev.at)) / 10);
    const point = { at, in: perS(c.received, prev.c.received), committed: perS(c.committed, prev.c.committed), sent: perS(c.sent, prev.c.sent) };
    this.points.push(point);
    if (this.points.length > this.max) this.points.shift();
    return point;
  }

  /** The points of the last hour, oldest first (a copy). */
  series(): RatePoint[] {
    return this.points.slice();
  }

  /** The newest point, or null before the second sample. */
  latest(): RatePoint | null {
    return this.points[this.points.length - 1] ?? null;
  }
}
