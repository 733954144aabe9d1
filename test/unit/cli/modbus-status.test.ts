import { describe, expect, it } from 'vitest';
import { modbusDeviceLines } from '../../../src/cli/modbus-status.js';
import type { ModbusInputStatus } from '../../../src/inputs/modbus/index.js';
import { emptyCounters } from '../../../src/inputs/modbus/types.js';

describe('modbusDeviceLines', () => {
  it('prints the link and one line per device; nothing for other inputs', () => {
    const bus: ModbusInputStatus = {
      name: 'modbus:line-3', state: 'connected', received: 1, committed: 1, lastMessageAt: 1, lastError: null,
      bus: 'line-3', transport: 'rtu', link: 'open', reopens: 2, strayBytes: 0,
      devices: [
        { name: 'meter', unitId: 4, state: 'offline', lastPollAt: 1, lastError: 'no answer (timeout) reading holding 0+2', unreadable: ['x'], blocks: 1, counters: { ...emptyCounters(), polls: 9, failedPolls: 5, timeouts: 10, exceptions: { '2': 1 } }, blockFaults: [] },
      ],
    };
    const lines = modbusDeviceLines(bus, 0);
    expect(lines[0]).toBe('    rtu link open, 2 reopens, 0 stray bytes');
    expect(lines[1]).toMatch(/meter \(unit 4\)\s+offline\s+9 polls, 0 skipped, 5 failed, 10 timeouts, 0 CRC errors, exceptions 1x code 2; unreadable: x; last error: no answer \(timeout\) reading holding 0\+2/);
    expect(modbusDeviceLines({ name: 'mqtt', state: 'connected', received: 0, committed: 0, lastMessageAt: null, lastError: null }, 0)).toEqual([]);
  });
});
