/**
 * The attempt count of a reconnect loop (the sender's, the metadata sync's): delays with
 * full jitter between `baseMs` and `capMs` (client/backoff.ts), started over after a
 * connection that stayed up for `resetAfterMs`, so that a link that flaps now and then does
 * not climb to the cap while one that keeps failing at once does.
 */
import { backoffDelay } from '../client/index.js';

export interface ReconnectBackoffOptions {
  /** Ceiling of the first delay, in ms. */
  baseMs: number;
  /** Largest ceiling, in ms. */
  capMs: number;
  /** A connection up at least this long starts the backoff over, in ms. */
  resetAfterMs: number;
}

export class ReconnectBackoff {
  private attempt = 0;

  constructor(private readonly options: ReconnectBackoffOptions) {}

  /** The delay before the next attempt, in ms. */
  next(): number {
    return backoffDelay(this.attempt++, { baseMs: this.options.baseMs, capMs: this.options.capMs });
  }

  /** A connection that was up for `upMs` ended. */
  ended(upMs: number): void {
    if (upMs >= this.options.resetAfterMs) this.attempt = 0;
  }

  /** Starts over at once (e.g. a deliberate reconnect). */
  reset(): void {
    this.attempt = 0;
  }
}
