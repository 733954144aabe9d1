import { describe, expect, it } from 'vitest';
import type { ModbusInputStatus } from '../../../src/inputs/modbus/index.js';
import { emptyCounters } from '../../../src/inputs/modbus/types.js';
import { Exposition } from '../../../src/service/exposition.js';
import { modbusMetrics } from '../../../src/service/modbus-metrics.js';

describe('modbusMetrics', () => {
  it('exposes device state, poll and fault counters, exceptions by code', () => {
    const bus: ModbusInputStatus = {
      name: 'modbus:line-3', state: 'connected', received: 5, committed: 5, lastMessageAt: 1, lastError: null,
      bus: 'line-3', transport: 'rtu', link: 'open', reopens: 1, strayBytes: 9,
      devices: [
        { name: 'unit-1', unitId: 1, state: 'online', lastPollAt: 1, lastError: null, unreadable: [], blocks: 2, counters: { ...emptyCounters(), polls: 7, timeouts: 2, exceptions: { '2': 3 } }, blockFaults: [] },
        { name: 'unit-2', unitId: 2, state: 'offline', lastPollAt: 1, lastError: 'no answer', unreadable: [], blocks: 1, counters: { ...emptyCounters(), failedPolls: 4 }, blockFaults: [] },
      ],
    };
    const e = new Exposition();
    modbusMetrics(e, [bus]);
    const text = e.text();
    expect(text).toContain('fluxion_edge_modbus_device_online{bus="line-3",device="unit-1",unit="1"} 1');
    expect(text).toContain('fluxion_edge_modbus_device_online{bus="line-3",device="unit-2",unit="2"} 0');
    expect(text).toContain('fluxion_edge_modbus_polls_total{bus="line-3",device="unit-1",unit="1"} 7');
    expect(text).toContain('fluxion_edge_modbus_timeouts_total{bus="line-3",device="unit-1",unit="1"} 2');
    expect(text).toContain('fluxion_edge_modbus_polls_failed_total{bus="line-3",device="unit-2",unit="2"} 4');
    expect(text).toContain('fluxion_edge_modbus_exceptions_total{bus="line-3",device="unit-1",unit="1",code="2"} 3');
    expect(text).toContain('fluxion_edge_modbus_stray_bytes_total{bus="line-3"} 9');
  });
});
