import { describe, expect, it } from 'vitest';
import { parseConfig, problemsOf } from '../../../src/config/index.js';
import { resolveRef } from '../../../src/config/schema/modbus.js';
import { isAgentError } from '../../../src/errors.js';

const BASE = `fluxiondb: { url: ws://127.0.0.1:1, api_key: k }
queue: { path: /tmp/q.db }
`;

function problems(yaml: string): string[] {
  try {
    parseConfig(BASE + yaml, { env: {}, baseDir: '/tmp' });
    return [];
  } catch (err) {
    if (!isAgentError(err)) throw err;
    return problemsOf(err).map((p) => `${p.path}: ${p.message}`);
  }
}

describe('modbus config', () => {
  it('resolves references explicitly: table from the first digit, address 1-based', () => {
    expect(resolveRef(40001)).toEqual({ table: 'holding', address: 0 });
    expect(resolveRef(30257)).toEqual({ table: 'input', address: 256 });
    expect(resolveRef(10001)).toEqual({ table: 'discrete', address: 0 });
    expect(resolveRef(1)).toEqual({ table: 'coil', address: 0 });
    expect(resolveRef('465536')).toEqual({ table: 'holding', address: 65535 });
    expect(resolveRef(40000)).toMatch(/count from 1/);
    expect(resolveRef(20001)).toMatch(/first digit/);
  });

  it('builds bus options and one records rule plus one metadata rule per device', () => {
    const { settings } = parseConfig(
      `${BASE}modbus:
  - name: b
    transport: rtu
    path: /dev/ttyUSB9
    devices:
      - unit_id: 7
        document: m-{unit_id}-{bus}
        collection: power
        interval: 250ms
        tags: { dev: "{device}" }
        registers:
          - { name: v, ref: 40003, type: float32, word_order: little, unit: V }
          - { name: sn, table: holding, address: 0x10, type: string, length: 4, kind: metadata }
`,
      { env: {}, baseDir: '/tmp' },
    );
    const bus = settings.modbus![0]!;
    expect(bus.input).toMatchObject({ name: 'b', transport: 'rtu', baudRate: 9600, parity: 'even', timeoutMs: 500, retries: 1 });
    expect(bus.input.devices[0]).toMatchObject({ name: 'unit-7', unitId: 7, document: 'm-7-b', intervalMs: 250, ruleKey: 'modbus:b:unit-7' });
    expect(bus.input.devices[0]!.registers[0]).toMatchObject({ table: 'holding', address: 2, type: 'float32', wordOrder: 'little', byteOrder: 'big', unit: 'V' });
    expect(bus.rules).toEqual([
      { port: 'modbus:b:unit-7', kind: 'records', format: 'json', collection: 'power', document: 'm-7-b', fields: { v: 'v?' }, tags: { dev: 'unit-7' } },
      { port: 'modbus:b:unit-7', kind: 'metadata', format: 'json', document: 'm-7-b', fields: { sn: 'sn?' } },
    ]);
  });

  it('lists every problem with its path', () => {
    const p = problems(`modbus:
  - name: b
    transport: rtu
    devices:
      - unit_id: 0
        document: d
        collection: c
        interval: 50ms
        registers:
          - { name: a, table: coil, address: 1, type: uint16 }
          - { name: a, table: holding, address: 65535, type: float32 }
          - { name: s, table: holding, address: 1, type: string }
  - name: t
    transport: tcp
    devices: [{ unit_id: 1, document: d, collection: c, registers: [{ name: x, ref: 40001 }] }]
`);
    const text = p.join('\n');
    expect(text).toMatch(/modbus\[0\]\.path: is required for transport: rtu/);
    expect(text).toMatch(/modbus\[0\]\.devices\[0\]\.unit_id: must be 1-247 on an RTU bus/);
    expect(text).toMatch(/modbus\[0\]\.devices\[0\]\.interval: must be at least 100ms/);
    expect(text).toMatch(/registers\[0\]\.type: must be bool for a coil/);
    expect(text).toMatch(/registers\[1\]\.name: is also the name of registers\[0\]/);
    expect(text).toMatch(/registers\[1\]\.address: a float32 at 65535 runs past/);
    expect(text).toMatch(/registers\[2\]\.length: is required with type string/);
    expect(text).toMatch(/modbus\[1\]\.host: is required for transport: tcp/);
  });
});
