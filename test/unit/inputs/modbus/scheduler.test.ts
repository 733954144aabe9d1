import { describe, expect, it } from 'vitest';
import { DevicePoller } from '../../../../src/inputs/modbus/device-poller.js';
import type { ModbusRequest } from '../../../../src/inputs/modbus/frames.js';
import { BusScheduler, type ScheduledDevice } from '../../../../src/inputs/modbus/scheduler.js';
import type { ModbusTransport, RequestOutcome } from '../../../../src/inputs/modbus/transport.js';
import type { ModbusDeviceOptions } from '../../../../src/inputs/modbus/types.js';
import { waitFor } from '../../../helpers/wait.js';

function device(unitId: number, intervalMs: number): ModbusDeviceOptions {
  return {
    name: `unit-${unitId}`, unitId, ruleKey: `modbus:b:unit-${unitId}`, document: `d${unitId}`, intervalMs, maxRegistersPerRequest: 125, maxCoilsPerRequest: 2000, maxGap: 8, identification: false,
    registers: [{ name: 'v', table: 'holding', address: 0, type: 'uint16', byteOrder: 'big', wordOrder: 'big', scale: 1, offset: 0, kind: 'records' }],
  };
}

/** A one-conversation bus whose devices answer after `delayMs(unit)`, or never (`null`: a timeout after `timeoutMs`). */
function bus(delayMs: (unit: number) => number | null): ModbusTransport & { inFlight: number; maxInFlight: number; order: number[] } {
  const t = {
    inFlight: 0, maxInFlight: 0, order: [] as number[], concurrency: 1, linkState: 'open' as const, reopens: 0, strayBytes: 0, lastError: null,
    start: async () => undefined,
    stop: async () => undefined,
    async request(req: ModbusRequest, timeoutMs: number): Promise<RequestOutcome> {
      t.inFlight++;
      t.maxInFlight = Math.max(t.maxInFlight, t.inFlight);
      t.order.push(req.unitId);
      const d = delayMs(req.unitId);
      await new Promise((r) => setTimeout(r, d ?? timeoutMs));
      t.inFlight--;
      if (d === null) return { ok: false, error: 'timeout', crcErrors: 0, garbage: 0 };
      return { ok: true, answer: { kind: 'data', data: Buffer.from([0, 1]) }, at: Date.now(), crcErrors: 0, garbage: 0 };
    },
  };
  return t;
}

describe('BusScheduler', () => {
  it('skips and counts the slots a poll overran, never queues them', async () => {
    const t = bus(() => 120);
    const polled: number[] = [];
    const s = new BusScheduler([new DevicePoller(device(1, 100))], t, { timeoutMs: 50, retries: 0, offlineAfter: 3, offlineRetryCapMs: 1000 }, { polled: (d) => polled.push(d.poller.counters.polls), stateChanged: () => undefined });
    s.start();
    await waitFor(() => polled.length >= 3, { what: 'three polls' });
    await s.stop();
    const c = s.devices[0]!.poller.counters;
    expect(c.skipped).toBeGreaterThanOrEqual(c.polls - 1);
    expect(t.maxInFlight).toBe(1);
  });

  it('a dead device goes offline and backs off; its neighbours keep being polled, one request at a time', async () => {
    const t = bus((u) => (u === 2 ? null : 2));
    const changes: Array<[number, string]> = [];
    const s = new BusScheduler(
      [1, 2, 3].map((u) => new DevicePoller(device(u, 50))),
      t,
      { timeoutMs: 40, retries: 1, offlineAfter: 2, offlineRetryCapMs: 400 },
      { polled: () => undefined, stateChanged: (d: ScheduledDevice) => changes.push([d.poller.options.unitId, d.state]) },
    );
    s.start();
    await waitFor(() => s.devices[0]!.poller.counters.polls >= 15 && s.devices[2]!.poller.counters.polls >= 15, { what: 'neighbours polled' });
    await s.stop();
    expect(changes).toContainEqual([2, 'offline']);
    expect(s.devices[1]!.state).toBe('offline');
    // Backed off: far fewer polls of the dead one than of its neighbours.
    expect(s.devices[1]!.poller.counters.polls).toBeLessThan(s.devices[0]!.poller.counters.polls / 2);
    expect(t.maxInFlight).toBe(1);
  });
});
