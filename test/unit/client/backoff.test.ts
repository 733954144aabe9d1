import { describe, expect, it } from 'vitest';
import { backoffDelay } from '../../../src/client/index.js';

const policy = { baseMs: 500, capMs: 30_000 };

describe('backoffDelay', () => {
  it('draws from [0, base * 2^attempt): the top of the range just below the ceiling', () => {
    const top = () => 0.999999;
    expect(backoffDelay(0, policy, top)).toBe(499);
    expect(backoffDelay(1, policy, top)).toBe(999);
    expect(backoffDelay(2, policy, top)).toBe(1999);
    expect(backoffDelay(5, policy, top)).toBe(15_999);
  });

  it('is 0 at the bottom of the range (full jitter)', () => {
    expect(backoffDelay(0, policy, () => 0)).toBe(0);
    expect(backoffDelay(10, policy, () => 0)).toBe(0);
  });

  it('scales the ceiling by the random draw', () => {
    expect(backoffDelay(3, policy, () => 0.5)).toBe(2000);
  });

  it('caps the ceiling at capMs, even for huge attempts', () => {
    expect(backoffDelay(6, policy, () => 0.5)).toBe(15_000);
    expect(backoffDelay(7, policy, () => 0.5)).toBe(15_000);
    expect(backoffDelay(5000, policy, () => 0.5)).toBe(15_000);
  });

  it('treats a negative or non-finite attempt as attempt 0', () => {
    expect(backoffDelay(-3, policy, () => 0.5)).toBe(250);
    expect(backoffDelay(Number.NaN, policy, () => 0.5)).toBe(250);
  });

  it('stays within [0, ceiling) with the default random source', () => {
    for (let i = 0; i < 200; i++) {
      const d = backoffDelay(2, policy);
      expect(Number.isInteger(d)).toBe(true);
      expect(d).toBeGreaterThanOrEqual(0);
      expect(d).toBeLessThan(2000);
    }
  });
});
