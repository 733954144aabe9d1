import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';

describe('fluxion-edge demo (the quick start)', () => {
  it('runs the pipeline on embedded defaults, prints what landed, and stops cleanly', async () => {
    const r = await runCli(['demo', '--duration-s', '4', '--interval-ms', '100', '--print-every-s', '1', '--devices', '3'], { timeoutMs: 30_000 });
    expect(r.code).toBe(0);
    const landed = [...r.stdout.matchAll(/landed (\d+) records/g)].map((m) => Number(m[1]));
    expect(landed.length).toBeGreaterThanOrEqual(2);
    // Readings keep arriving: the counts grow (3 devices, 10 readings a second each).
    expect(landed[landed.length - 1]!).toBeGreaterThan(landed[0]!);
    expect(landed[landed.length - 1]!).toBeGreaterThanOrEqual(30);
    for (const d of ['device-1', 'device-2', 'device-3']) expect(r.stdout).toMatch(new RegExp(`${d} +\\d{4}-\\d\\d-\\d\\dT.*"temperature":`));
    expect(r.stdout).toContain('demo stopped');
  });
});
