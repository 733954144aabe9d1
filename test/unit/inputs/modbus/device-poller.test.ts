import { describe, expect, it } from 'vitest';
import { DevicePoller } from '../../../../src/inputs/modbus/device-poller.js';
import type { ModbusRequest } from '../../../../src/inputs/modbus/frames.js';
import type { ModbusTransport, RequestOutcome } from '../../../../src/inputs/modbus/transport.js';
import type { ModbusDeviceOptions, RegisterSpec } from '../../../../src/inputs/modbus/types.js';

function reg(name: string, address: number, extra: Partial<RegisterSpec> = {}): RegisterSpec {
  return { name, table: 'holding', address, type: 'uint16', byteOrder: 'big', wordOrder: 'big', scale: 1, offset: 0, kind: 'records', ...extra };
}

/** A device whose holding registers are `present` (value = address); others are refused. */
function device(present: Set<number>): ModbusTransport & { sent: Array<[number, number]> } {
  const sent: Array<[number, number]> = [];
  return {
    sent,
    concurrency: 1,
    linkState: 'open',
    reopens: 0,
    strayBytes: 0,
    lastError: null,
    start: async () => undefined,
    stop: async () => undefined,
    async request(req: ModbusRequest): Promise<RequestOutcome> {
      if ('identification' in req) return { ok: true, answer: { kind: 'exception', code: 1 }, at: 1, crcErrors: 0, garbage: 0 };
      sent.push([req.start, req.count]);
      for (let a = req.start; a < req.start + req.count; a++) {
        if (!present.has(a)) return { ok: true, answer: { kind: 'exception', code: 2 }, at: 1, crcErrors: 0, garbage: 0 };
      }
      const data = Buffer.alloc(req.count * 2);
      for (let i = 0; i < req.count; i++) data.writeUInt16BE(req.start + i, i * 2);
      return { ok: true, answer: { kind: 'data', data }, at: 1, crcErrors: 0, garbage: 0 };
    },
  };
}

function options(registers: RegisterSpec[]): ModbusDeviceOptions {
  return { name: 'd', unitId: 1, ruleKey: 'modbus:b:d', document: 'd', intervalMs: 1000, maxRegistersPerRequest: 125, maxCoilsPerRequest: 2000, maxGap: 8, identification: false, registers };
}

describe('DevicePoller', () => {
  it('finds a hole inside a merged block, reads the rest in the same poll, and plans around it from then on', async () => {
    const t = device(new Set([200, 201, 202, 203, 204, 210]));
    const p = new DevicePoller(options([reg('s', 200, { type: 'string', length: 5 }), reg('x', 210, { type: 'bool', bit: 1 }), reg('y', 210, { type: 'bool', bit: 15 })]));
    const r = await p.poll(t, 100, 0);
    expect(r.values).toEqual({ s: expect.any(String), x: true, y: false });
    expect(t.sent).toEqual([[200, 11], [200, 5], [210, 1]]);
    expect(p.blockCount).toBe(2);
    t.sent.length = 0;
    await p.poll(t, 100, 0);
    expect(t.sent).toEqual([[200, 5], [210, 1]]);
  });

  it('leaves out a register the device lacks, after log2 splits', async () => {
    const present = new Set(Array.from({ length: 16 }, (_, i) => i).filter((a) => a !== 11));
    const t = device(present);
    const p = new DevicePoller(options(Array.from({ length: 16 }, (_, i) => reg(`r${i}`, i))));
    const r = await p.poll(t, 100, 0);
    expect(Object.keys(r.values)).toHaveLength(15);
    expect(r.newlyUnreadable).toEqual(['r11']);
    expect(p.unreadableNames()).toEqual(['r11']);
    expect(t.sent.length).toBeLessThan(12);
    const refused = p.counters.exceptions['2'];
    t.sent.length = 0;
    const again = await p.poll(t, 100, 0);
    expect(Object.keys(again.values)).toHaveLength(15);
    expect(p.counters.exceptions['2']).toBe(refused);
    expect(t.sent.every(([s, c]) => s + c <= 11 || s > 11)).toBe(true);
  });
});
