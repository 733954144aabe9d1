import { describe, expect, it } from 'vitest';
import { DISK_PLAN, planDisk } from '../../../src/queue/index.js';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

describe('planDisk: max_bytes auto, the WAL and the reserve from the space at start', () => {
  it('gives the queue half of its space, with a floor and a cap', () => {
    expect(planDisk(8 * MiB).autoMaxBytes).toBe(4 * MiB);
    expect(planDisk(1 * GiB).autoMaxBytes).toBe(512 * MiB);
    expect(planDisk(1 * MiB).autoMaxBytes).toBe(DISK_PLAN.autoFloorBytes);
    expect(planDisk(64 * GiB).autoMaxBytes).toBe(DISK_PLAN.autoCapBytes);
  });

  it('checkpoints the WAL after a small share of the space, and keeps a reserve that holds two WALs', () => {
    expect(planDisk(1 * MiB).walPages).toBe(DISK_PLAN.walMinPages);
    const small = planDisk(8 * MiB);
    expect(small.walPages).toBe(40);
    const big = planDisk(64 * GiB);
    expect(big.walPages).toBe(DISK_PLAN.walMaxPages);
    for (const p of [small, planDisk(300 * MiB), big]) {
      expect(p.reserveBytes).toBeGreaterThanOrEqual(2 * p.walPages * 4096);
      // What a full disk needs fits beside the queue: rows, WAL, reserve.
      expect(p.autoMaxBytes * 1.25 + p.walPages * 4120 + p.reserveBytes).toBeLessThan(Math.max(p.spaceBytes, 4 * MiB));
    }
  });
});
