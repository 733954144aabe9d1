import { afterAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';

const EXAMPLE = fileURLToPath(new URL('../../config.example.yaml', import.meta.url));
const SECRETS = { FLUXION_API_KEY: 'e2e-api-key-5b1f', MQTT_PASSWORD: 'e2e-mqtt-pw-77c2', FLUXION_URL: '', MQTT_URL: '', FLUXION_EDGE_QUEUE: '' };

describe('fluxion-edge check and map (built CLI)', () => {
  const dir = tempDir();
  afterAll(() => dir.cleanup());

  it('check accepts config.example.yaml and prints it resolved with secrets masked', async () => {
    const r = await runCli(['check', '--config', EXAMPLE], { env: SECRETS });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).not.toContain(SECRETS.FLUXION_API_KEY);
    expect(r.stdout).not.toContain(SECRETS.MQTT_PASSWORD);
    const printed = parse(r.stdout) as Record<string, Record<string, unknown>>;
    expect(printed.fluxiondb).toEqual({
      url: 'ws://db.example:8080', api_key: '***', connection_name: 'fluxion-edge-gw-plant-3',
      request_timeout: 15_000, connect_timeout: 10_000, max_frame_bytes: 8_388_608, compression: true,
    });
    expect(printed.mqtt!.password).toBe('***');
    // max_bytes: auto (the default since the full-disk work) is sized from the disk at start, and
    // retain_sent_bytes (25 % of the cap) with it: neither is a number before the agent runs.
    expect(printed.queue!.max_bytes).toBe('auto');
    expect(printed.queue!.retain_sent_bytes).toBeUndefined();

    const json = await runCli(['check', '--config', EXAMPLE, '--json'], { env: SECRETS });
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toEqual(printed);
  });

  it('check lists every problem of a broken file, one line each, and exits 78', async () => {
    const file = join(dir.path, 'broken.yaml');
    writeFileSync(file, [
      'fluxiondb:',
      '  url: ws://db:8080',
      '  api_key: ${UNSET_KEY_FOR_TEST}',
      'queue:',
      '  on_full: drop_old',
      '  max_bytes: 2 gigs',
      'sender:',
      '  windw: 8',
      'mqtt:',
      '  url: mqtt://b',
      '  password: hunter2-secret',
      '  subscriptions:',
      '    - { topic: "a/{x}", collection: c, document: "{y}" }',
      '',
    ].join('\n'));
    const r = await runCli(['check', '--config', file], { env: SECRETS });
    expect(r.code).toBe(78);
    expect(r.stdout).toBe('');
    expect(r.stderr.trimEnd().split('\n')).toEqual([
      `${file}:3:12 fluxiondb.api_key: environment variable UNSET_KEY_FOR_TEST is not set (set it, or give a default: \${UNSET_KEY_FOR_TEST:-value})`,
      `${file}:5:12 queue.on_full: must be one of drop_oldest, drop_newest, block (got "drop_old")`,
      `${file}:6:14 queue.max_bytes: must be "auto" or a size such as "512KiB", "1MiB", "2GB" (GB = 10^9 bytes, GiB = 2^30), or a number of bytes (got "2 gigs")`,
      `${file}:8:3 sender.windw: unknown key (did you mean \`window\`?)`,
      `${file}:13:50 mqtt.subscriptions[0].document: '{y}': placeholder '{y}' is not a named wildcard of the topic (named wildcards: {x}; or use {payload.<path>})`,
    ]);
    expect(r.stderr).not.toContain('hunter2-secret');
  });

  it('check warns on stderr but succeeds', async () => {
    const file = join(dir.path, 'risky.yaml');
    writeFileSync(file, 'fluxiondb: { url: "ws://db:8080", api_key: "${FLUXION_API_KEY}" }\nqueue: { synchronous: "off" }\n', { mode: 0o600 });
    const r = await runCli(['check', '--config', file], { env: SECRETS });
    expect(r.code).toBe(0);
    expect(r.stderr).toBe(
      `warning: ${file}:2:23 queue.synchronous: synchronous: off never fsyncs: a power loss can lose readings and corrupt the queue file (use full, or normal)\n`,
    );
  });

  it('check without --config is a usage error', async () => {
    const r = await runCli(['check'], { env: SECRETS });
    expect(r.code).toBe(64);
    expect(r.stderr).toContain('missing required option --config');
  });

  it('map prints the exact records a message produces', async () => {
    const r = await runCli(
      ['map', '--config', EXAMPLE, '--topic', 'sensors/plant-3/th-17/telemetry', '--payload', '{"ts": 1714564800123, "temp": "21.5", "hum": 40.2, "bat": 3.01}'],
      { env: SECRETS },
    );
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({
      records: [
        {
          col: 'telemetry', doc: 'th-17', ts: 1_714_564_800_123, ts_iso: '2024-05-01T12:00:00.123Z',
          data: '{"temperature":21.5,"humidity":40.2,"battery":3.01,"site":"plant-3"}',
        },
      ],
      metadata: [],
    });

    const csvFile = join(dir.path, 'meter.csv');
    writeFileSync(csvFile, '2024-05-01T12:00:00Z,230.1,4.2,966.4\n');
    const csv = await runCli(['map', '--config', EXAMPLE, '--topic', 'plant/line-2/meter/m-4', '--payload-file', csvFile], { env: SECRETS });
    expect(csv.code).toBe(0);
    expect(JSON.parse(csv.stdout)).toEqual({
      records: [{ col: 'energy', doc: 'line-2-m-4', ts: 1_714_564_800, ts_iso: '2024-05-01T12:00:00.000Z', data: '{"voltage":230.1,"current":4.2,"power":966.4}' }],
      metadata: [],
    });

    const bare = await runCli(['map', '--config', EXAMPLE, '--topic', 'tanks/t-9/level', '--payload', '4.72', '--received-at', '2024-05-01T12:00:00.5Z'], { env: SECRETS });
    expect(JSON.parse(bare.stdout)).toEqual({
      records: [{ col: 'tank_levels', doc: 't-9', ts: 1_714_564_800_500, ts_iso: '2024-05-01T12:00:00.500Z', data: '{"value":4.72}' }],
      metadata: [],
    });

    const meta = await runCli(['map', '--config', EXAMPLE, '--topic', 'sensors/plant-3/th-17/info', '--payload', '{"model":"TH-200","fw":"1.4.2"}'], { env: SECRETS });
    expect(JSON.parse(meta.stdout)).toEqual({
      records: [],
      metadata: [
        { device: 'th-17', key: 'model', value: 'TH-200' },
        { device: 'th-17', key: 'firmware', value: '1.4.2' },
        { device: 'th-17', key: 'site', value: 'plant-3' },
      ],
    });
  });

  it('map prints a rejection and exits 1', async () => {
    const bad = await runCli(['map', '--config', EXAMPLE, '--topic', 'tanks/t-9/level', '--payload', 'full'], { env: SECRETS });
    expect(bad.code).toBe(1);
    expect(JSON.parse(bad.stdout)).toEqual({ rejected: 'bad_type', reason: expect.stringContaining('value'), rule: 3 });

    const none = await runCli(['map', '--config', EXAMPLE, '--topic', 'nobody/listens', '--payload', '1'], { env: SECRETS });
    expect(none.code).toBe(1);
    expect(JSON.parse(none.stdout)).toEqual({ rejected: 'no_rule', reason: "no rule matches topic 'nobody/listens'" });
  });

  it('map checks its arguments and the config', async () => {
    const both = await runCli(['map', '--config', EXAMPLE, '--topic', 't', '--port', 'p', '--payload', '1'], { env: SECRETS });
    expect(both.code).toBe(64);
    expect(both.stderr).toContain('give exactly one of --topic and --port');
    const noEnv = await runCli(['map', '--config', EXAMPLE, '--topic', 't', '--payload', '1'], { env: { ...SECRETS, MQTT_PASSWORD: '' } });
    expect(noEnv.code).toBe(78);
    expect(noEnv.stderr).toMatch(/mqtt\.password: environment variable MQTT_PASSWORD is not set/);
  });
});
