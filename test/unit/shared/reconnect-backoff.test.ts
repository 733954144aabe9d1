import { describe, expect, it } from 'vitest';
import { ReconnectBackoff } from '../../../src/shared/reconnect-backoff.js';

/** The largest of many draws: full jitter stays under the attempt's ceiling and gets near it. */
function ceilingOf(make: () => ReconnectBackoff, draws: (b: ReconnectBackoff) => number): number {
  let max = 0;
  for (let i = 0; i < 500; i++) max = Math.max(max, draws(make()));
  return max;
}

describe('ReconnectBackoff', () => {
  const opts = { baseMs: 100, capMs: 1000, resetAfterMs: 5000 };

  it('doubles the ceiling per attempt up to the cap', () => {
    const nth = (n: number) => (b: ReconnectBackoff) => {
      for (let i = 0; i < n; i++) b.next();
      return b.next();
    };
    expect(ceilingOf(() => new ReconnectBackoff(opts), nth(0))).toBeLessThanOrEqual(100);
    expect(ceilingOf(() => new ReconnectBackoff(opts), nth(2))).toBeGreaterThan(100);
    expect(ceilingOf(() => new ReconnectBackoff(opts), nth(2))).toBeLessThanOrEqual(400);
    expect(ceilingOf(() => new ReconnectBackoff(opts), nth(10))).toBeLessThanOrEqual(1000);
  });

  it('starts over after a connection that stayed up resetAfterMs, not after a short one', () => {
    const after = (upMs: number) => (b: ReconnectBackoff) => {
      for (let i = 0; i < 5; i++) b.next();
      b.ended(upMs);
      return b.next();
    };
    expect(ceilingOf(() => new ReconnectBackoff(opts), after(5000))).toBeLessThanOrEqual(100);
    expect(ceilingOf(() => new ReconnectBackoff(opts), after(10))).toBeGreaterThan(100);
    const reset = (b: ReconnectBackoff) => {
      for (let i = 0; i < 5; i++) b.next();
      b.reset();
      return b.next();
    };
    expect(ceilingOf(() => new ReconnectBackoff(opts), reset)).toBeLessThanOrEqual(100);
  });
});
