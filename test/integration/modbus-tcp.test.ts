import { afterEach, describe, expect, it } from 'vitest';
import type { Agent } from '../../src/agent.js';
import type { DevServer } from '../../src/devserver/index.js';
import type { ModbusInputStatus } from '../../src/inputs/modbus/index.js';
import { startModbusAgent } from '../helpers/modbus-agent.js';
import { startModbusSlave, type ModbusSlave, type SlaveSpec, type SlaveValue } from '../helpers/modbus-slave.js';
import { waitFor } from '../helpers/wait.js';

const ORDERS = [
  ['big', 'big'],
  ['big', 'little'],
  ['little', 'big'],
  ['little', 'little'],
] as const;

const VALUES: Record<string, number | string> = {
  int16: -12345,
  uint16: 54321,
  int32: -123456789,
  uint32: 4012345678,
  float32: -273.25,
  int64: '-9007199254740993',
  uint64: '18446744073709551000',
  float64: 3.141592653589793,
};
const WIDTH: Record<string, number> = { int16: 1, uint16: 1, int32: 2, uint32: 2, float32: 2, int64: 4, uint64: 4, float64: 4 };

/** Every type in every order (16-bit types: byte order only), laid out back to back from address 0. */
function typeMatrix(): { slave: SlaveValue[]; registers: string[]; expected: Record<string, unknown> } {
  const slave: SlaveValue[] = [];
  const registers: string[] = [];
  const expected: Record<string, unknown> = {};
  let address = 0;
  for (const [type, value] of Object.entries(VALUES)) {
    for (const [byteorder, wordorder] of ORDERS) {
      if (WIDTH[type] === 1 && wordorder === 'little') continue;
      const name = `${type}_${byteorder[0]}${wordorder[0]}`;
      slave.push({ table: 'holding', address, type, value, byteorder, wordorder });
      registers.push(`{ name: ${name}, table: holding, address: ${address}, type: ${type}, byte_order: ${byteorder}, word_order: ${wordorder} }`);
      expected[name] = typeof value === 'string' && Number.isSafeInteger(Number(value)) ? Number(value) : value;
      address += WIDTH[type]!;
    }
  }
  return { slave, registers, expected };
}

describe('Modbus TCP against a pymodbus slave', () => {
  const cleanups: Array<() => Promise<unknown> | void> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  async function setup(spec: SlaveSpec, devicesYaml: string, busExtra = ''): Promise<{ server: DevServer; agent: Agent; slave: ModbusSlave; bus: () => ModbusInputStatus; lines: () => Array<Record<string, unknown>> }> {
    const slave = await startModbusSlave('tcp', spec);
    cleanups.push(() => slave.stop());
    const a = await startModbusAgent(
      `  - name: plc
    transport: tcp
    host: 127.0.0.1
    port: ${slave.port}
    timeout: 300ms
    reconnect: { base: 50ms, cap: 200ms }
${busExtra}
    devices:
${devicesYaml}`,
      cleanups,
    );
    const { server, agent, lines } = a;
    const bus = (): ModbusInputStatus => a.bus('plc');
    return { server, agent, slave, bus, lines };
  }

  it('decodes every type in every byte and word order, strings, bits, coils and scale as the slave encoded them, in merged blocks', async () => {
    const m = typeMatrix();
    const extras: SlaveValue[] = [
      { table: 'holding', address: 200, type: 'string', value: 'SN-4711', length: 5 },
      ...[205, 206, 207, 208, 209].map((address) => ({ table: 'holding' as const, address, type: 'uint16', value: 0 })),
      { table: 'holding', address: 210, type: 'uint16', value: 0b1000_0000_0000_1000 },
      { table: 'input', address: 0, type: 'uint32', value: 1234567, wordorder: 'little' },
      { table: 'input', address: 2, type: 'int16', value: -2150 },
      { table: 'coil', address: 5, value: true },
      { table: 'coil', address: 6, value: false },
      { table: 'discrete', address: 0, value: true },
    ];
    const { server, bus } = await setup(
      { units: { 1: [...m.slave, ...extras] } },
      `      - unit_id: 1
        document: meter-{unit_id}
        collection: power
        interval: 200ms
        tags: { bus: "{bus}" }
        registers:
${[...m.registers,
  '{ name: serial_no, table: holding, address: 200, type: string, length: 5, kind: metadata }',
  '{ name: alarm, table: holding, address: 210, bit: 3 }',
  '{ name: fault, ref: 40211, bit: 15 }',
  '{ name: energy_kwh, ref: 30001, type: uint32, word_order: little, scale: 0.01, unit: kWh }',
  '{ name: temp_c, table: input, address: 2, type: int16, scale: 0.1, offset: 1 }',
  '{ name: running, table: coil, address: 5 }',
  '{ name: tripped, table: coil, address: 6 }',
  '{ name: door, ref: 10001 }',
].map((r) => `          - ${r}`).join('\n')}`,
    );
    const rec = await waitFor(() => server.records('power', 'meter-1')[0], { what: 'a record of meter-1' });
    const data = JSON.parse(rec.data) as Record<string, unknown>;
    expect(data).toMatchObject(m.expected);
    expect(data).toMatchObject({ alarm: true, fault: true, energy_kwh: 12345.67, temp_c: -214, running: true, tripped: false, door: true, bus: 'plc' });
    expect(data).not.toHaveProperty('serial_no');
    // 80 holding registers from 0 in one read (125 at most), the string and the bits 200-210 in another, input, coil, discrete.
    const dev = bus().devices[0]!;
    expect(dev, JSON.stringify(dev)).toMatchObject({ blocks: 5 });
    expect(dev.state).toBe('online');
    expect(dev.counters.exceptions).toEqual({});
  });

  it('splits a block the device refuses (illegal data address), remembers the split, and leaves out only the register it lacks', async () => {
    const { server, bus, slave } = await setup(
      {
        units: {
          3: [
            { table: 'holding', address: 0, type: 'uint16', value: 10 },
            { table: 'holding', address: 1, type: 'uint16', value: 11 },
            // 2 is a hole the config does not name; 7 is named but missing.
            { table: 'holding', address: 3, type: 'uint16', value: 13 },
            { table: 'holding', address: 4, type: 'uint16', value: 14 },
            { table: 'holding', address: 5, type: 'uint16', value: 15 },
            { table: 'holding', address: 6, type: 'uint16', value: 16 },
          ],
        },
      },
      `      - unit_id: 3
        document: drive-3
        collection: drives
        interval: 150ms
        max_gap: 4
        registers:
          - { name: a, table: holding, address: 0 }
          - { name: b, table: holding, address: 1 }
          - { name: d, table: holding, address: 3 }
          - { name: e, table: holding, address: 4 }
          - { name: g, table: holding, address: 6 }
          - { name: h, table: holding, address: 7 }`,
    );
    await waitFor(() => server.records('drives', 'drive-3').length >= 3, { what: 'three records of drive-3' });
    for (const r of server.records('drives', 'drive-3')) expect(JSON.parse(r.data)).toEqual({ a: 10, b: 11, d: 13, e: 14, g: 16 });
    const dev = bus().devices[0]!;
    expect(dev.unreadable).toEqual(['h']);
    // Counted per block too: the merged read 0-7, then the half holding the missing register.
    expect(dev.blockFaults).toContainEqual({ block: 'holding 0+8', timeouts: 0, crcErrors: 0, exceptions: { 2: 1 } });
    expect(dev.blockFaults).toContainEqual({ block: 'holding 7+1', timeouts: 0, crcErrors: 0, exceptions: { 2: 1 } });
    expect(dev.counters.exceptions['2']).toBeGreaterThanOrEqual(2);
    // The splits are remembered: later polls send no request that is refused.
    const refused = dev.counters.exceptions['2']!;
    const before = await slave.requests();
    await waitFor(async () => ((await slave.requests())['3'] ?? 0) >= (before['3'] ?? 0) + 6, { what: 'more polls' });
    expect(bus().devices[0]!.counters.exceptions['2']).toBe(refused);
  });

  it('honours max_registers_per_request', async () => {
    const values: SlaveValue[] = Array.from({ length: 10 }, (_, i) => ({ table: 'holding' as const, address: i, type: 'uint16', value: 100 + i }));
    const { server, bus } = await setup(
      { units: { 1: values } },
      `      - unit_id: 1
        document: old-meter
        collection: meters
        interval: 200ms
        max_registers_per_request: 3
        registers:
${values.map((v) => `          - { name: r${v.address}, table: holding, address: ${v.address} }`).join('\n')}`,
    );
    const rec = await waitFor(() => server.records('meters', 'old-meter')[0], { what: 'a record' });
    expect(JSON.parse(rec.data)).toEqual(Object.fromEntries(values.map((v) => [`r${v.address}`, v.value])));
    expect(bus().devices[0]!.blocks).toBe(4);
  });

  it('keeps metadata registers, units, device state and identification in the key/value store', async () => {
    const { server } = await setup(
      {
        units: {
          2: [
            { table: 'holding', address: 0, type: 'uint32', value: 4242 },
            { table: 'holding', address: 16, type: 'string', value: 'FW-1.2', length: 4 },
          ],
        },
      },
      `      - unit_id: 2
        name: analyser
        document: "{device}-{unit_id}"
        collection: power
        interval: 200ms
        identification: true
        registers:
          - { name: energy, table: holding, address: 0, type: uint32, unit: kWh }
          - { name: firmware, table: holding, address: 16, type: string, length: 4, kind: metadata }`,
    );
    const want = {
      'analyser-2:firmware': 'FW-1.2',
      'analyser-2:unit.energy': 'kWh',
      'analyser-2:modbus_state': 'online',
      'analyser-2:vendor': 'pymodbus-test',
      'analyser-2:product_code': 'PM-1',
    };
    await waitFor(() => Object.entries(want).every(([k, v]) => server.values('metadata')[k] === v), { what: `metadata ${JSON.stringify(server.values('metadata'))}` });
    const rec = await waitFor(() => server.records('power', 'analyser-2')[0], { what: 'a reading of analyser-2' });
    expect(JSON.parse(rec.data)).toEqual({ energy: 4242 });
  });

  it('two unit ids behind one gateway; a link whose transaction ids fell out of step is dropped and reconnected, then polls on', async () => {
    const { server, bus, slave } = await setup(
      { units: { 1: [{ table: 'holding', address: 0, type: 'uint16', value: 7 }], 2: [{ table: 'holding', address: 0, type: 'uint16', value: 8 }] } },
      `      - unit_id: 1
        document: gw-dev
        collection: gw
        interval: 100ms
        registers:
          - { name: v, table: holding, address: 0 }
      - unit_id: 2
        document: gw-dev-2
        collection: gw
        interval: 100ms
        registers:
          - { name: v, table: holding, address: 0 }`,
      '    max_outstanding: 2',
    );
    await waitFor(() => server.records('gw', 'gw-dev').length >= 2, { what: 'records before' });
    await slave.command({ skew: 1 });
    await waitFor(() => bus().reopens >= 1, { what: 'a reconnect' });
    const after = server.records('gw', 'gw-dev').length;
    await waitFor(() => server.records('gw', 'gw-dev').length >= after + 3, { what: 'records after the reconnect' });
    expect(bus().lastError?.message).toMatch(/transaction id/);
    // Two unit ids behind one gateway, each with its own values.
    expect(JSON.parse(server.records('gw', 'gw-dev-2').at(-1)!.data)).toEqual({ v: 8 });
    expect(JSON.parse(server.records('gw', 'gw-dev').at(-1)!.data)).toEqual({ v: 7 });
    expect(bus().state).toBe('connected');
  });
});
