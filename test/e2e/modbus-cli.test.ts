import { afterEach, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { DevServer } from '../../src/devserver/index.js';
import { TEST_KEY } from '../helpers/agent.js';
import { runCli, startCli } from '../helpers/cli.js';
import { startModbusSlave, type ModbusSlave } from '../helpers/modbus-slave.js';
import { tempDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';

/** The built CLI against a pymodbus TCP slave: commissioning commands, check, and a crash mid-poll. */
describe('fluxion-edge modbus (built CLI)', () => {
  const cleanups: Array<() => Promise<unknown> | void> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  async function slave(): Promise<ModbusSlave> {
    const s = await startModbusSlave('tcp', {
      units: {
        1: [
          { table: 'holding', address: 0x100, type: 'float32', value: 230.5, wordorder: 'little' },
          { table: 'holding', address: 0x102, type: 'uint32', value: 123456, wordorder: 'little' },
          { table: 'holding', address: 9, type: 'uint16', value: 0 },
        ],
      },
      counters: { 1: [9] },
    });
    cleanups.push(() => s.stop());
    return s;
  }

  function config(dir: string, serverUrl: string, port: number, extra = ''): string {
    const path = join(dir, 'edge.yaml');
    writeFileSync(
      path,
      `gateway: { id: gw-cli }
fluxiondb: { url: ${serverUrl}, api_key: ${TEST_KEY} }
queue: { path: ${join(dir, 'queue.db')}, synchronous: full }
sender: { backoff: { base: 50ms, cap: 300ms }, linger: 5ms }
modbus:
  - name: plc
    transport: tcp
    host: 127.0.0.1
    port: ${port}
    timeout: 500ms
    devices:
      - unit_id: 1
        name: meter
        document: meter-{unit_id}
        collection: power
        interval: 100ms
        registers:
          - { name: voltage, ref: 40257, type: float32, word_order: little, unit: V }
          - { name: energy, table: holding, address: 0x102, type: uint32, word_order: little, scale: 0.01 }
          - { name: seq, table: holding, address: 9 }
${extra}`,
    );
    return path;
  }

  it('modbus read prints raw registers and every decoding; modbus poll prints the record; check shows protocol addresses', async () => {
    const s = await slave();
    const dir = tempDir();
    cleanups.push(() => dir.cleanup());
    const cfg = config(dir.path, 'ws://127.0.0.1:1', s.port);

    const read = await runCli(['modbus', 'read', '--config', cfg, '--unit', '1', '--table', 'holding', '--address', '0x0100', '--count', '4', '--json']);
    expect(read.code, read.stderr).toBe(0);
    const out = JSON.parse(read.stdout) as { raw: Array<{ address: number }>; decoded: Array<{ type: string; order: string; offset: number; value: string }> };
    expect(out.raw.map((r) => r.address)).toEqual([256, 257, 258, 259]);
    expect(out.decoded).toContainEqual({ type: 'float32', order: 'CDAB', offset: 0, value: '230.5' });
    expect(out.decoded).toContainEqual({ type: 'uint32', order: 'CDAB', offset: 2, value: '123456' });
    const text = await runCli(['modbus', 'read', '--config', cfg, '--unit', '1', '--ref', '40257', '--count', '2']);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/protocol address 256 \(0x0100\)/);
    expect(text.stdout).toMatch(/float32\s+CDAB\s+230\.5/);
    const refused = await runCli(['modbus', 'read', '--config', cfg, '--unit', '1', '--table', 'holding', '--address', '500']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/exception 2 \(illegal data address\)/);

    const poll = await runCli(['modbus', 'poll', '--config', cfg, '--device', 'meter']);
    expect(poll.code, poll.stderr).toBe(0);
    const polled = JSON.parse(poll.stdout) as { records: Array<{ col: string; doc: string; data: string }> };
    expect(polled.records).toHaveLength(1);
    expect(polled.records[0]).toMatchObject({ col: 'power', doc: 'meter-1' });
    expect(JSON.parse(polled.records[0]!.data)).toMatchObject({ voltage: 230.5, energy: 1234.56 });

    const check = await runCli(['check', '--config', cfg, '--json']);
    expect(check.code, check.stderr).toBe(0);
    const resolved = JSON.parse(check.stdout) as { modbus: Array<{ devices: Array<{ registers: Array<{ name: string; table: string; address: number; ref?: number }> }> }> };
    expect(resolved.modbus[0]!.devices[0]!.registers[0]).toMatchObject({ name: 'voltage', table: 'holding', address: 256, ref: 40257 });
  });

  it('check refuses a port used by a serial input and a Modbus bus', async () => {
    const dir = tempDir();
    cleanups.push(() => dir.cleanup());
    const path = join(dir.path, 'edge.yaml');
    writeFileSync(
      path,
      `fluxiondb: { url: ws://127.0.0.1:1, api_key: k }
queue: { path: ${join(dir.path, 'queue.db')} }
serial:
  - path: /dev/ttyUSB0
    rules: [{ collection: c, document: d }]
modbus:
  - name: bus
    transport: rtu
    path: /dev/ttyUSB0
    devices:
      - unit_id: 1
        document: d
        collection: c
        registers:
          - { name: v, ref: 40001, address: 0 }
          - { name: w, table: holding }
`,
    );
    const check = await runCli(['check', '--config', path]);
    expect(check.code).toBe(78);
    expect(check.stderr).toMatch(/edge\.yaml:9:\d+ modbus\[0\]\.path: serial\[0\] reads the same port/);
    expect(check.stderr).toMatch(/registers\[0\]\.ref: give address .* or ref .*, not both/);
    expect(check.stderr).toMatch(/registers\[1\]\.address: needs address/);
  });

  it('SIGKILLed mid-poll and restarted: every committed reading reaches the server, none twice', async () => {
    const s = await slave();
    // Answers take 40 ms: a poll is under way most of the time.
    await s.command({ delay: 40 });
    const dir = tempDir();
    cleanups.push(() => dir.cleanup());
    const server = new DevServer({ port: 0, masterKey: TEST_KEY });
    await server.start();
    cleanups.push(() => server.stop());
    const cfg = config(dir.path, server.url, s.port);
    const records = (): Array<{ ts: number; seq: number }> => server.records('power', 'meter-1').map((r) => ({ ts: Number(r.ts), seq: (JSON.parse(r.data) as { seq: number }).seq }));

    let agent = startCli(['run', '--config', cfg]);
    cleanups.push(() => void (agent.child.exitCode === null && agent.child.kill('SIGKILL')));
    await waitFor(() => records().length >= 5, { what: 'readings before the crash' });
    agent.child.kill('SIGKILL');
    expect((await agent.exited).signal).toBe('SIGKILL');

    const db = new Database(join(dir.path, 'queue.db'), { readonly: true });
    const committed = db.prepare("SELECT ts, data FROM records WHERE col = 'power'").all() as Array<{ ts: number; data: string }>;
    db.close();
    expect(committed.length).toBeGreaterThanOrEqual(5);

    agent = startCli(['run', '--config', cfg]);
    cleanups.push(() => void (agent.child.exitCode === null && agent.child.kill('SIGKILL')));
    const after = committed.length;
    await waitFor(() => records().length >= after + 5, { what: 'readings after the restart' });
    agent.child.kill('SIGTERM');
    expect((await agent.exited).code).toBe(0);

    const onServer = records();
    const byTs = new Map(onServer.map((r) => [r.ts, r.seq]));
    for (const c of committed) expect(byTs.get(c.ts), `committed reading at ${c.ts}`).toBe((JSON.parse(c.data) as { seq: number }).seq);
    // One record per poll: each answered request number appears once.
    const seqs = onServer.map((r) => r.seq);
    expect(new Set(seqs).size).toBe(seqs.length);
  });
});
