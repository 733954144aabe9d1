import { afterEach, describe, expect, it } from 'vitest';
import type { DevServer } from '../../src/devserver/index.js';
import type { ModbusDeviceStatus, ModbusInputStatus } from '../../src/inputs/modbus/index.js';
import { startModbusAgent } from '../helpers/modbus-agent.js';
import { startModbusSlave, type ModbusSlave, type SlaveSpec } from '../helpers/modbus-slave.js';
import { startPtyPair, type PtyPair } from '../helpers/socat.js';
import { waitFor } from '../helpers/wait.js';

const BAUD = 38400;

/** Units 1..n, each with holding 0..1 (a float32: the unit id + 0.5) and input 0 (uint16: 100 + unit). */
function units(n: number): SlaveSpec {
  const out: SlaveSpec = { units: {} };
  for (let u = 1; u <= n; u++) {
    out.units[u] = [
      { table: 'holding', address: 0, type: 'float32', value: u + 0.5 },
      { table: 'input', address: 0, type: 'uint16', value: 100 + u },
    ];
  }
  return out;
}

function devices(n: number, interval: (u: number) => string): string {
  return Array.from({ length: n }, (_, i) => i + 1)
    .map(
      (u) => `      - unit_id: ${u}
        document: meter-{unit_id}
        collection: power
        interval: ${interval(u)}
        registers:
          - { name: p, table: holding, address: 0, type: float32 }
          - { name: n, ref: 30001 }`,
    )
    .join('\n');
}

describe('Modbus RTU over a pty against pymodbus slaves', () => {
  const cleanups: Array<() => Promise<unknown> | void> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  async function setup(n: number, interval: (u: number) => string, busExtra = ''): Promise<{ server: DevServer; pty: PtyPair; slave: () => ModbusSlave; replug: () => Promise<void>; unplug: () => Promise<void>; bus: () => ModbusInputStatus; device: (u: number) => ModbusDeviceStatus; lines: () => Array<Record<string, unknown>> }> {
    const pty = await startPtyPair({ openDevice: false });
    cleanups.push(() => pty.stop());
    // The bus's timeout (150ms below): an answer later than that may meet the next request.
    const spec = { ...units(n), answerDeadlineMs: 150 };
    let slave = await startModbusSlave('rtu', spec, { path: pty.devicePath, baud: BAUD });
    cleanups.push(() => slave.stop());
    const a = await startModbusAgent(
      `  - name: line-3
    transport: rtu
    path: ${pty.agentPath}
    baud: ${BAUD}
    parity: none
    timeout: 150ms
    retries: 1
    offline_after: 2
    offline_retry_cap: 400ms
    reconnect: { base: 50ms, cap: 300ms }
${busExtra}
    devices:
${devices(n, interval)}`,
      cleanups,
    );
    const { server, lines } = a;
    const bus = (): ModbusInputStatus => a.bus('line-3');
    return {
      server,
      pty,
      slave: () => slave,
      bus,
      device: (u) => bus().devices.find((d) => d.unitId === u)!,
      lines,
      async unplug() {
        await pty.unplug();
        await slave.exited;
      },
      async replug() {
        await pty.plug();
        slave = await startModbusSlave('rtu', spec, { path: pty.devicePath, baud: BAUD });
        cleanups.push(() => slave.stop());
      },
    };
  }

  const count = (server: DevServer, u: number): number => server.records('power', `meter-${u}`).length;

  it('polls two slaves on one bus at their own intervals, one conversation at a time, with the silent interval between frames', async () => {
    const { server, slave, device } = await setup(2, (u) => (u === 1 ? '100ms' : '400ms'));
    await waitFor(() => count(server, 2) >= 3, { what: 'three records of unit 2' });
    expect(count(server, 1)).toBeGreaterThan(count(server, 2));
    for (const u of [1, 2]) {
      const rec = server.records('power', `meter-${u}`)[0]!;
      expect(JSON.parse(rec.data)).toEqual({ p: u + 0.5, n: 100 + u });
      expect(device(u).state).toBe('online');
    }
    expect(await slave().overlaps()).toBe(0);
    // 3.5 characters, fixed at 1.75 ms above 19,200 baud (a slow machine only makes gaps longer).
    expect(await slave().minGapMs()).toBeGreaterThanOrEqual(1.75 * 0.99);
  });

  it('ten slaves: one stops answering, is marked offline and backed off while the others keep polling, then comes back', async () => {
    const { server, slave, device, bus } = await setup(10, (u) => `${100 + u * 20}ms`);
    await waitFor(() => [...Array(10).keys()].every((i) => count(server, i + 1) >= 2), { what: 'records of all ten' });
    await slave().command({ mute: [4] });
    await waitFor(() => device(4).state === 'offline', { what: 'unit 4 offline' });
    await waitFor(() => server.values('metadata')['meter-4:modbus_state'] === 'offline', { what: 'offline in the metadata' });
    const before = [...Array(10).keys()].map((i) => count(server, i + 1));
    // Neighbours go on while unit 4 is dead: each gets several more readings.
    await waitFor(() => [...Array(10).keys()].every((i) => i === 3 || count(server, i + 1) >= before[i]! + 3), { what: 'neighbours polled on' });
    expect(device(4).counters.timeouts).toBeGreaterThan(0);
    const requestsWhileDead = (await slave().requests())['4'] ?? 0;
    expect(requestsWhileDead).toBeGreaterThan(0);
    await slave().command({ unmute: [4] });
    const dead = count(server, 4);
    await waitFor(() => device(4).state === 'online' && count(server, 4) > dead, { what: 'unit 4 back online' });
    await waitFor(() => server.values('metadata')['meter-4:modbus_state'] === 'online', { what: 'online in the metadata' });
    expect(await slave().overlaps()).toBe(0);
    expect(bus().state).toBe('connected');
  });

  it('counts garbage and CRC errors on the line and keeps reading', async () => {
    const { server, slave, device, bus } = await setup(1, () => '100ms');
    await waitFor(() => count(server, 1) >= 1, { what: 'a record' });
    await slave().command({ corrupt: 3 });
    await waitFor(() => device(1).counters.crcErrors >= 3, { what: 'CRC errors counted' });
    for (let i = 0; i < 5; i++) await slave().command({ garbage: '01030400ff' + 'deadbeef'.repeat(4) });
    const n = count(server, 1);
    await waitFor(() => count(server, 1) >= n + 3, { what: 'records after the noise' });
    for (const r of server.records('power', 'meter-1')) expect(JSON.parse(r.data)).toEqual({ p: 1.5, n: 101 });
    expect(device(1).state).toBe('online');
    expect(device(1).counters.garbage + bus().strayBytes).toBeGreaterThan(0);
  });

  it('reopens an unplugged adapter and polls again', async () => {
    const t = await setup(2, () => '100ms');
    await waitFor(() => count(t.server, 1) >= 2, { what: 'records before' });
    await t.unplug();
    await waitFor(() => t.bus().link === 'waiting', { what: 'the bus waiting for its adapter' });
    await t.replug();
    const n = count(t.server, 1);
    await waitFor(() => count(t.server, 1) >= n + 3 && count(t.server, 2) >= 3, { what: 'records after the re-plug' });
    expect(t.bus().reopens).toBeGreaterThanOrEqual(1);
    expect(t.lines().some((l) => String(l.msg).includes('adapter is back'))).toBe(true);
  });
});
