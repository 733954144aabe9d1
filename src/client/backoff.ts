/** Ceilings of an exponential backoff; see `backoffDelay`. */
export interface BackoffPolicy {
  /** Ceiling of the first delay (attempt 0), in ms. */
  baseMs: number;
  /** Largest ceiling, in ms. */
  capMs: number;
}

/**
 * Exponential backoff with full jitter: a delay drawn uniformly from
 * `[0, min(capMs, baseMs * 2^attempt))`, whole milliseconds. Full jitter spreads the
 * retries of many gateways that lost the same server at the same moment, so they do not
 * come back in lockstep. `attempt` counts from 0; `random` returns a value in [0, 1).
 */
export function backoffDelay(
  attempt: number,
  policy: BackoffPolicy,
  random: () => number = Math.random,
): number {
  const n = Number.isFinite(attempt) && attempt > 0 ? Math.floor(attempt) : 0;
  // 2^n overflows to Infinity for large n, which min() then caps: no special case needed.
  const ceiling = Math.max(0, Math.min(policy.capMs, policy.baseMs * 2 ** n));
  return Math.floor(random() * ceiling);
}
