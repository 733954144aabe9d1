import { describe, expect, it } from 'vitest';
import { TokenBucket } from '../../../src/sender/token-bucket.js';

describe('TokenBucket', () => {
  it('lets a second of burst through, then paces to the rate', () => {
    let t = 0;
    const b = new TokenBucket(1000, () => t);
    expect(b.delayMs()).toBe(0);
    b.take(1000);
    expect(b.delayMs()).toBe(0); // exactly empty: may go
    b.take(500);
    expect(b.delayMs()).toBe(500); // 500 records of debt at 1000/s
    t = 250;
    expect(b.delayMs()).toBe(250);
    t = 500;
    expect(b.delayMs()).toBe(0);
  });

  it('never stores more than one second of tokens', () => {
    let t = 0;
    const b = new TokenBucket(100, () => t);
    t = 60_000;
    b.take(300);
    expect(b.delayMs()).toBe(2000);
  });

  it('a rate of 0 never waits', () => {
    const b = new TokenBucket(0);
    b.take(1e9);
    expect(b.delayMs()).toBe(0);
  });
});
