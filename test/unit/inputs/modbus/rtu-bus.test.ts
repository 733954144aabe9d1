import { describe, expect, it } from 'vitest';
import { silentIntervalMs } from '../../../../src/inputs/modbus/rtu-bus.js';

describe('silentIntervalMs', () => {
  it('is 3.5 characters of 11 bits, and 1.75 ms above 19,200 baud', () => {
    expect(silentIntervalMs(9600)).toBeCloseTo(4.0104, 3);
    expect(silentIntervalMs(19200)).toBeCloseTo(2.0052, 3);
    expect(silentIntervalMs(38400)).toBe(1.75);
    expect(silentIntervalMs(115200)).toBe(1.75);
  });
});
