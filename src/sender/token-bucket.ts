/**
 * Paces sends to at most `ratePerSecond` records/s with a burst of one second's worth, so
 * that a backlog replayed after an outage does not flatten a server that just came back.
 * A batch may overdraw the bucket; the debt is paid by waiting before the next one.
 * A rate of 0 disables pacing.
 */
export class TokenBucket {
  private tokens: number;
  private updatedAt: number;

  constructor(
    private readonly ratePerSecond: number,
    private readonly now: () => number = Date.now,
  ) {
    this.tokens = ratePerSecond;
    this.updatedAt = now();
  }

  /** Milliseconds to wait before the next batch may go (0: now). */
  delayMs(): number {
    if (this.ratePerSecond <= 0) return 0;
    this.refill();
    return this.tokens >= 0 ? 0 : Math.ceil((-this.tokens * 1000) / this.ratePerSecond);
  }

  /** Records that `n` records went out. */
  take(n: number): void {
    if (this.ratePerSecond <= 0) return;
    this.refill();
    this.tokens -= n;
  }

  private refill(): void {
    const t = this.now();
    this.tokens = Math.min(this.ratePerSecond, this.tokens + ((t - this.updatedAt) * this.ratePerSecond) / 1000);
    this.updatedAt = t;
  }
}
