/**
 * The README's serial examples as written, run by the built CLI over real ptys: the field
 * trial's port (NMEA, CSV and key=value devices on one line) and the meter printing its
 * firmware between readings. Dead letters are filed only for lines no rule took, in arrival
 * order, each with its reason. The same run (serial, MQTT, a reload) checks that no log line
 * carries a key twice. And the README's `map` commands, as written, map.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { parse, stringify } from 'yaml';
import { DevServer } from '../../src/devserver/index.js';
import { nmeaChecksum } from '../../src/mapping/nmea.js';
import { TEST_KEY } from '../helpers/agent.js';
import { runCli, startCli } from '../helpers/cli.js';
import { freePort } from '../helpers/ports.js';
import { REPO_ROOT, shellCommands, yamlExample } from '../helpers/readme.js';
import { startPtyPair } from '../helpers/socat.js';
import { parseLogLines } from '../helpers/strict-json.js';
import { tempDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';

const BASE_TS = 1_760_000_000_000;

function nmea(body: string): string {
  return `$${body}*${nmeaChecksum(body)}`;
}

describe('README serial examples (built CLI, real ptys)', () => {
  const cleanups: Array<() => Promise<unknown> | unknown> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  it('files dead letters only for lines no rule took, in arrival order; no log line has a key twice', async () => {
    const dir = tempDir();
    cleanups.push(() => dir.cleanup());
    const server = new DevServer({ port: 0, masterKey: TEST_KEY });
    await server.start();
    cleanups.push(() => server.stop());
    const line1 = await startPtyPair();
    cleanups.push(() => line1.stop());
    const meter = await startPtyPair();
    cleanups.push(() => meter.stop());
    const brokerPort = await freePort();

    // The README's ports, as written, with their device paths pointed at the ptys.
    const ports = [...(parse(yamlExample('one port, three devices')) as { serial: Array<Record<string, unknown>> }).serial,
      ...(parse(yamlExample('firmware line')) as { serial: Array<Record<string, unknown>> }).serial];
    const paths: Record<string, string> = { line1: line1.agentPath, meter: meter.agentPath };
    for (const p of ports) p.path = paths[p.name as string];
    const config = {
      gateway: { id: 'gw-trial' },
      log: { level: 'info' },
      fluxiondb: { url: server.url, api_key: TEST_KEY },
      queue: { path: join(dir.path, 'queue.db'), synchronous: 'normal' },
      sender: { backoff: { base: '50ms', cap: '500ms' }, linger: '5ms' },
      mqtt: {
        embedded_broker: { host: '127.0.0.1', port: brokerPort },
        subscriptions: [{ topic: 'sensors/{device}/telemetry', collection: 'telemetry', document: '{device}', timestamp: { field: 'ts', unit: 'ms' } }],
      },
      serial: ports,
    };
    const configPath = join(dir.path, 'config.yaml');
    writeFileSync(configPath, stringify(config), { mode: 0o600 });

    const agent = startCli(['run', '--config', configPath]);
    cleanups.push(() => agent.child.kill('SIGKILL'));
    await waitFor(() => agent.output().includes('fluxion-edge running'), { what: 'the agent running', timeoutMs: 30_000 });

    // The trial: GPS sentences, a 2,000-line CSV burst and PLC status lines on one port, with
    // three lines no rule can take (garbage, an over-long line, a CSV line with a bad time).
    const csv = Array.from({ length: 2000 }, (_, i) => `${BASE_TS + i},230.${i % 10},4.2,966\r\n`);
    const over = `#${'x'.repeat(5000)}`;
    await line1.write(`${nmea('GPGGA,123519.00,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,')}\r\n`);
    await line1.write(`${nmea('GPGSV,3,1,11,03,03,111,00,04,15,270,00,06,01,010,00,13,06,292,00')}\r\n`);
    // One write: 'hello world' still waits for its commit group when the over-long line is framed.
    await line1.write(`hello world\r\n${over}\r\n`);
    await line1.write(csv.slice(0, 1000).join(''));
    await line1.write(`state=run speed=1200\r\n`);
    await line1.write(csv.slice(1000).join(''));
    await line1.write(`noon,230.1,4.2,966\r\nstate=stop speed=0\r\n`);
    await meter.write('FW=2.1.3\r\nV=230.1 I=4.20 P=966\r\nV=230.4 I=4.10 P=945\r\n');

    const pub = await mqtt.connectAsync(`mqtt://127.0.0.1:${brokerPort}`, { clientId: 'trial-pub' });
    cleanups.push(() => pub.endAsync());
    await pub.publishAsync('sensors/th-01/telemetry', JSON.stringify({ ts: BASE_TS, temp: 21.5 }), { qos: 1 });

    await waitFor(
      () => server.records('energy', 'meter-1').length === 2000 && server.records('plc', 'plc-1').length === 2 && server.records('energy', 'meter').length === 2
        && server.records('gps', 'truck-7').length === 1 && server.records('telemetry', 'th-01').length === 1,
      { what: 'every reading stored', timeoutMs: 60_000 },
    );
    await waitFor(() => server.values('metadata')['meter:firmware'] === '2.1.3', { what: 'the firmware in the metadata collection' });
    expect(server.records('plc', 'plc-1').map((r) => r.data)).toEqual(['{"state":"run","speed":1200}', '{"state":"stop","speed":0}']);

    agent.child.kill('SIGHUP');
    await waitFor(() => agent.output().includes('config reloaded'), { what: 'the reload' });
    agent.child.kill('SIGTERM');
    expect(await agent.exited).toEqual({ code: 0, signal: null });

    const listed = await runCli(['dead-letter', 'list', '--queue', join(dir.path, 'queue.db'), '--json']);
    expect(listed.code).toBe(0);
    const dead = listed.stdout.trim().split('\n').map((l) => JSON.parse(l) as { origin: string; reason: string; payload: string });
    expect(dead.map((d) => [d.origin, d.reason])).toEqual([
      ['line1', 'rules[0] no_rule: not selected: the line does not start with "$"; rules[1] no_rule: not selected: the line has 1 cells, not 4; rules[2] no_rule: not selected: the line does not match /^state=/'],
      ['line1', 'too_large: line of 5001 bytes is over max_line_bytes (4096); its first 4096 bytes are kept'],
      ['line1', "bad_timestamp: timestamp 'noon' is not a number"],
    ]);

    // Every line the agent wrote is strict JSON without a key twice (serial, MQTT, reload, stop).
    const lines = parseLogLines(agent.output());
    expect(lines.some((l) => l.port === 'line1')).toBe(true);
    expect(lines.some((l) => l.component === 'mqtt')).toBe(true);
    expect(lines.find((l) => l.msg === 'config reloaded: mappings and log level applied')).toMatchObject({ level: 30 });
  }, 120_000);
});

describe("README's map commands, as written (built CLI)", () => {
  it('map the example payloads with the example config', async () => {
    const commands = shellCommands('fluxion-edge map');
    expect(commands.length).toBeGreaterThanOrEqual(2);
    expect(commands.some((c) => c.includes('--port'))).toBe(true);
    for (const words of commands) {
      // The README shows the installed config's path; that file is the example config.
      const args = words.slice(1).map((w) => (w === '/etc/fluxion-edge/config.yaml' || w === 'config.example.yaml' ? join(REPO_ROOT, 'config.example.yaml') : w));
      const r = await runCli(args, { env: { FLUXION_API_KEY: 'k', MQTT_PASSWORD: 'p' } });
      expect({ command: words.join(' '), code: r.code, stderr: r.stderr }).toEqual({ command: words.join(' '), code: 0, stderr: '' });
      const out = JSON.parse(r.stdout) as { records: unknown[] };
      expect(out.records.length).toBe(1);
    }
  });
  it('map --port shows which rule of the port took a line, or every rule\'s reason', async () => {
    const dir = tempDir();
    try {
      const configPath = join(dir.path, 'config.yaml');
      writeFileSync(configPath, `fluxiondb: { url: "ws://127.0.0.1:1", api_key: k }\n${yamlExample('one port, three devices')}`, { mode: 0o600 });
      const took = await runCli(['map', '--config', configPath, '--port', 'line1', '--payload', 'state=run speed=1200', '--received-at', String(BASE_TS)]);
      expect({ code: took.code, out: JSON.parse(took.stdout) as unknown }).toEqual({
        code: 0,
        out: { records: [{ col: 'plc', doc: 'plc-1', ts: BASE_TS, ts_iso: new Date(BASE_TS).toISOString(), data: '{"state":"run","speed":1200}' }], metadata: [] },
      });
      const none = await runCli(['map', '--config', configPath, '--port', 'line1', '--payload', '1,2,3']);
      expect({ code: none.code, out: JSON.parse(none.stdout) as unknown }).toEqual({
        code: 1,
        out: {
          rejected: 'no_rule',
          reason: 'not selected: the line does not start with "$"',
          rule: 0,
          rejections: [
            { rule: 0, code: 'no_rule', reason: 'not selected: the line does not start with "$"' },
            { rule: 1, code: 'no_rule', reason: 'not selected: the line has 3 cells, not 4' },
            { rule: 2, code: 'no_rule', reason: 'not selected: the line does not match /^state=/' },
          ],
        },
      });
    } finally {
      dir.cleanup();
    }
  });
});
