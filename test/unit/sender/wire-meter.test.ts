import { describe, expect, it } from 'vitest';
import { WireMeter } from '../../../src/sender/wire-meter.js';

describe('WireMeter', () => {
  it('sums bytes over the last hour and the last day, and per reading', () => {
    let now = Date.UTC(2026, 0, 1);
    const m = new WireMeter(() => now);
    m.add(1000);
    now += 30 * 60_000;
    m.add(500);
    now += 45 * 60_000; // the first 1,000 bytes are now 75 minutes old
    m.add(250);
    expect(m.stats(100, 0)).toEqual({ bytesSent: 1750, bytesLastHour: 750, bytesLastDay: 1750, bytesPerReading: 17.5, maxBytesPerSecond: 0 });
    now += 23.5 * 3_600_000; // 1,000 and 500 are now more than a day old
    m.add(10);
    expect(m.stats(100, 2048)).toMatchObject({ bytesSent: 1760, bytesLastHour: 10, bytesLastDay: 260, maxBytesPerSecond: 2048 });
    expect(new WireMeter(() => now).stats(0, 0).bytesPerReading).toBe(0);
  });
});
