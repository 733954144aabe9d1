import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig, maskSecrets, parseConfig } from '../../../src/config/index.js';
import { tempDir } from '../../helpers/tmp.js';
import { MINIMAL } from './helpers.js';

const PEM_CA = '-----BEGIN CERTIFICATE-----\nMIIBca\n-----END CERTIFICATE-----\n';
const PEM_CERT = '-----BEGIN CERTIFICATE-----\nMIIBcert\n-----END CERTIFICATE-----\n';
const PEM_KEY = '-----BEGIN PRIVATE KEY-----\nMIIEkey\n-----END PRIVATE KEY-----\n';

describe('loading a config', () => {
  it('applies every default exactly', () => {
    const { config, settings, warnings } = parseConfig(MINIMAL, { env: {}, hostname: 'gw-7', baseDir: '/etc/fluxion-edge' });
    expect(config).toEqual({
      gateway: { id: 'gw-7' },
      log: { level: 'info' },
      health: { enabled: false, host: '127.0.0.1', port: 9464, stale_after: 60_000 },
      console: { enabled: false, sample_interval: 5000, session_ttl: 43_200_000 },
      fluxiondb: {
        url: 'ws://db.example:8080', api_key: 'k-123', connection_name: 'fluxion-edge-gw-7',
        request_timeout: 15_000, connect_timeout: 10_000, max_frame_bytes: 8 * 1024 * 1024, compression: true,
      },
      queue: {
        // max_bytes auto: the queue sizes it (and retain_sent_bytes, 25 % of it) from the free space at start.
        path: '/var/lib/fluxion-edge/queue.db', synchronous: 'full', max_bytes: 'auto', max_rows: 250_000_000, max_age: 0,
        on_full: 'drop_oldest', retain_sent: 86_400_000, dead_letter_max_rows: 100_000, startup_check: 'quick', stage_flush: 5000,
      },
      sender: {
        batch_max_records: 1000, batch_max_bytes: 1024 * 1024, linger: 20, window: 8, request_timeout: 15_000,
        backoff: { base: 500, cap: 30_000, reset_after: 60_000 }, auth_retry: 60_000, max_records_per_second: 0, max_bytes_per_second: 0, order: 'live_first',
        resend_after_reconnect: 30_000, stop_deadline: 10_000, housekeeping_interval: 10_000,
      },
      mapping: {
        max_payload_bytes: 262_144, timestamp_floor: 1_577_836_800_000, on_bad_timestamp: 'receive_time', on_collision: 'bump',
        collision_memory: 100_000, ts_unit_out: 'ms',
      },
    });
    expect(settings.mqtt).toBeUndefined();
    expect(settings.console).toBeNull();
    expect(settings.agent.sender).toEqual({
      batchMaxRecords: 1000, batchMaxBytes: 1_048_576, lingerMs: 20, window: 8, requestTimeoutMs: 15_000, backoffBaseMs: 500,
      backoffCapMs: 30_000, backoffResetAfterMs: 60_000, authRetryMs: 60_000, maxRecordsPerSecond: 0, maxBytesPerSecond: 0, order: 'live_first',
      resendAfterReconnectMs: 30_000,
    });
    expect(warnings).toEqual([]);
  });

  describe('with every key set', () => {
    let dir: ReturnType<typeof tempDir>;
    beforeEach(() => {
      dir = tempDir();
      for (const [name, text] of [['api-key', 'file-key-1\n'], ['mqtt-password', 'pw-from-file\n'], ['ca.pem', PEM_CA], ['cert.pem', PEM_CERT], ['key.pem', PEM_KEY]]) {
        writeFileSync(join(dir.path, name!), text!, { mode: 0o600 });
      }
    });
    afterEach(() => dir.cleanup());

    it('maps every field onto the right component option', () => {
      const text = `
gateway: { id: gw-plant-3 }
log: { level: debug }
fluxiondb:
  url: wss://db.example:8443/?x=1
  api_key_file: api-key
  connection_name: edge-3
  request_timeout: 20s
  connect_timeout: 5s
  max_frame_bytes: 4MiB
  compression: false
  tls: { ca_file: ca.pem, cert_file: cert.pem, key_file: key.pem, reject_unauthorized: false }
queue:
  path: data/queue.db
  synchronous: normal
  max_bytes: 1GB
  max_rows: 5000
  max_age: 7d
  on_full: block
  retain_sent: 2h
  retain_sent_bytes: 100MB
  dead_letter_max_rows: 50
  max_file_bytes: 3GB
  startup_check: "off"
  stage_flush: 2s
sender:
  batch_max_records: 500
  batch_max_bytes: 512KiB
  linger: 5ms
  window: 2
  request_timeout: 12s
  backoff: { base: 1s, cap: 1m, reset_after: 2m }
  auth_retry: 5m
  max_records_per_second: 2000
  max_bytes_per_second: 4KiB
  order: oldest_first
  resend_after_reconnect: 45s
  stop_deadline: 3s
  housekeeping_interval: 30s
mapping:
  max_payload_bytes: 64KiB
  timestamp_floor: 2023-06-01T00:00:00Z
  on_bad_timestamp: dead_letter
  on_collision: keep
  collision_memory: 10
  ts_unit_out: us
  collections: { telemetry: { ts_unit_out: s } }
mqtt:
  url: mqtts://broker.local:8883
  client_id: gw3
  username: edge
  password_file: mqtt-password
  protocol_version: 5
  keepalive: 1m
  clean: false
  reconnect: { base: 250ms, cap: 10s }
  tls: { ca_file: ca.pem }
  group_commit: { max_messages: 10, max_delay: 1ms, max_delay_offline: 250ms }
  embedded_broker: { host: 0.0.0.0, port: 1884 }
  subscriptions:
    - { topic: "sensors/{site}/{device}/telemetry", qos: 2, collection: telemetry, document: "{device}" }
    - { topic: "sensors/#", qos: 0, collection: raw, document: all, passthrough: true }
`;
      const { config, settings } = parseConfig(text, { env: {}, baseDir: dir.path, hostname: 'unused' });
      expect(settings.gateway).toEqual({ id: 'gw-plant-3' });
      expect(settings.log).toEqual({ level: 'debug' });
      expect(settings.agent).toEqual({
        fluxiondb: {
          url: 'wss://db.example:8443/?x=1', apiKey: 'file-key-1', connectionName: 'edge-3', requestTimeoutMs: 20_000, connectTimeoutMs: 5000,
          maxFrameBytes: 4 * 1024 * 1024, compression: false, tls: { ca: PEM_CA, cert: PEM_CERT, key: PEM_KEY, rejectUnauthorized: false },
        },
        queue: {
          path: join(dir.path, 'data/queue.db'), synchronous: 'normal', maxBytes: 1e9, maxRows: 5000, maxAgeMs: 604_800_000, onFull: 'block',
          retainSentMs: 7_200_000, retainSentBytes: 1e8, deadLetterMaxRows: 50, maxFileBytes: 3e9, startupCheck: 'off', stageFlushMs: 2000,
        },
        sender: {
          batchMaxRecords: 500, batchMaxBytes: 524_288, lingerMs: 5, window: 2, requestTimeoutMs: 12_000, backoffBaseMs: 1000, backoffCapMs: 60_000,
          backoffResetAfterMs: 120_000, authRetryMs: 300_000, maxRecordsPerSecond: 2000, maxBytesPerSecond: 4096, order: 'oldest_first', resendAfterReconnectMs: 45_000,
        },
        housekeepingIntervalMs: 30_000,
        stopDeadlineMs: 3000,
      });
      expect(settings.mapping).toEqual({
        max_payload_bytes: 65_536, timestamp_floor: Date.UTC(2023, 5, 1), on_bad_timestamp: 'dead_letter', on_collision: 'keep',
        collision_memory: 10, ts_unit_out: 'us', collections: { telemetry: { ts_unit_out: 's' } },
      });
      expect(settings.mqtt).toEqual({
        input: {
          url: 'mqtts://broker.local:8883', clientId: 'gw3', username: 'edge', password: 'pw-from-file', protocolVersion: 5, keepaliveS: 60,
          clean: false, reconnectBaseMs: 250, reconnectCapMs: 10_000, tls: { ca: PEM_CA, rejectUnauthorized: true },
          subscriptions: [{ filter: 'sensors/#', qos: 2 }],
          groupCommit: { maxMessages: 10, maxDelayMs: 1, backlogDelayMs: 250 },
        },
        embeddedBroker: { host: '0.0.0.0', port: 1884 },
        rules: [
          { topic: 'sensors/{site}/{device}/telemetry', qos: 2, kind: 'records', collection: 'telemetry', document: '{device}', format: 'json' },
          { topic: 'sensors/#', qos: 0, kind: 'records', collection: 'raw', document: 'all', format: 'json', passthrough: true },
        ],
      });
      expect(config.fluxiondb.api_key_file).toBe(join(dir.path, 'api-key'));
      expect(config.fluxiondb.tls).toEqual({
        ca_file: join(dir.path, 'ca.pem'), cert_file: join(dir.path, 'cert.pem'), key_file: join(dir.path, 'key.pem'), reject_unauthorized: false,
      });
      expect(config.mqtt?.password_file).toBe(join(dir.path, 'mqtt-password'));
    });

    it('warns about secret files other users can read, and about risky settings', () => {
      chmodSync(join(dir.path, 'api-key'), 0o644);
      chmodSync(join(dir.path, 'key.pem'), 0o604);
      const text = [
        'fluxiondb:', //                                                 1
        '  url: wss://db:8443', //                                       2
        '  api_key_file: api-key', //                                    3
        '  tls: { cert_file: cert.pem, key_file: key.pem }', //          4
        'queue: { synchronous: "off" }', //                              5
        'mqtt:', //                                                      6
        '  url: mqtt://b', //                                            7
        '  clean: true', //                                              8
        '  subscriptions: [{ topic: t, collection: c, document: d }]', // 9
      ].join('\n');
      const { warnings } = parseConfig(text, { env: {}, baseDir: dir.path });
      expect(warnings).toEqual([
        {
          path: 'fluxiondb.api_key_file', file: 'config.yaml', line: 3, column: 17,
          message: `API key file ${join(dir.path, 'api-key')} is readable by other users: chmod 600 it (or 640 with the service group)`,
        },
        {
          path: 'fluxiondb.tls.key_file', file: 'config.yaml', line: 4, column: 41,
          message: `FluxionDB client key file ${join(dir.path, 'key.pem')} is readable by other users: chmod 600 it (or 640 with the service group)`,
        },
        {
          path: 'queue.synchronous', file: 'config.yaml', line: 5, column: 23,
          message: 'synchronous: off never fsyncs: a power loss can lose readings and corrupt the queue file (use full, or normal)',
        },
        {
          path: 'mqtt.clean', file: 'config.yaml', line: 8, column: 10,
          message: 'clean: true turns the persistent session off: messages published while the agent is down or reconnecting are lost',
        },
      ]);
    });

    it('warns when the config file itself is readable by others and holds a secret', () => {
      const path = join(dir.path, 'config.yaml');
      writeFileSync(path, 'fluxiondb:\n  url: ws://db:8080\n  api_key: plain-secret\nmqtt:\n  url: mqtt://b\n  password: ${MQTT_PASSWORD}\n  subscriptions: [{ topic: t, collection: c, document: d }]\n');
      chmodSync(path, 0o644);
      const { warnings, settings } = loadConfig(path, { MQTT_PASSWORD: 'from-env' });
      expect(warnings).toEqual([
        {
          path: 'fluxiondb.api_key', file: path, line: 3, column: 12,
          message: 'the config file is readable by other users and holds this secret: chmod 640 the file, or use api_key_file or ${ENV_VAR}',
        },
      ]);
      expect(settings.mqtt?.input.password).toBe('from-env');
      chmodSync(path, 0o640);
      expect(loadConfig(path, { MQTT_PASSWORD: 'from-env' }).warnings).toEqual([]);
    });
  });

  it('substitutes environment variables, with defaults, and converts numbers and booleans where the schema wants them', () => {
    const text = [
      'fluxiondb:',
      '  url: ws://${DB_HOST}:${DB_PORT:-8080}/?name=$${literal}',
      '  api_key: ${FLUXION_API_KEY}',
      'queue:',
      '  max_rows: ${MAX_ROWS}',
      '  max_bytes: ${QUEUE_BYTES:-1GiB}',
      'mqtt:',
      '  embedded_broker: { port: "${BROKER_PORT}" }',
      '  clean: ${CLEAN:-false}',
      '  username: ${MQTT_USER}',
      '  subscriptions: [{ topic: t, collection: c, document: d }]',
    ].join('\n');
    const env = { DB_HOST: 'db.local', FLUXION_API_KEY: 'env-key', MAX_ROWS: '42', BROKER_PORT: '1999', MQTT_USER: '1234', DB_PORT: '' };
    const { config, settings } = parseConfig(text, { env, hostname: 'h' });
    expect(config.fluxiondb.url).toBe('ws://db.local:8080/?name=${literal}');
    expect(settings.agent.fluxiondb.apiKey).toBe('env-key');
    expect(config.queue.max_rows).toBe(42);
    expect(config.queue.max_bytes).toBe(2 ** 30);
    expect(config.mqtt?.embedded_broker).toEqual({ host: '127.0.0.1', port: 1999 });
    expect(config.mqtt?.url).toBe('mqtt://127.0.0.1:1999');
    expect(config.mqtt?.client_id).toBe('fluxion-edge-h');
    expect(config.mqtt?.clean).toBe(false);
    // A string field keeps digits as text: user names are not numbers.
    expect(config.mqtt?.username).toBe('1234');
  });

  it('freezes the config and the settings deeply', () => {
    const { config, settings } = parseConfig(`${MINIMAL}mqtt: { url: "mqtt://b", subscriptions: [{ topic: t, collection: c, document: d }] }\n`, { env: {} });
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.sender.backoff)).toBe(true);
    expect(Object.isFrozen(settings.agent.queue)).toBe(true);
    expect(Object.isFrozen(settings.mqtt!.rules[0])).toBe(true);
    expect(() => {
      (config.queue as { max_rows: number }).max_rows = 1;
    }).toThrow(TypeError);
  });

  it('masks secrets for printing', () => {
    const text = `fluxiondb:\n  url: ws://db:8080/?api-key=in-url&x=1\n  api_key: k-secret\nmqtt:\n  url: mqtt://b\n  username: u\n  password: p-secret\n  subscriptions: [{ topic: t, collection: c, document: d, fields: { key: key } }]\n`;
    const { config, settings } = parseConfig(text, { env: {} });
    const masked = maskSecrets(config);
    expect(masked.fluxiondb.api_key).toBe('***');
    expect(masked.fluxiondb.url).toBe('ws://db:8080/?api-key=***&x=1');
    expect(masked.mqtt?.password).toBe('***');
    expect(masked.mqtt?.username).toBe('u');
    expect(masked.mqtt?.subscriptions[0]?.fields).toEqual({ key: 'key' });
    expect(config.fluxiondb.api_key).toBe('k-secret');
    const maskedSettings = maskSecrets({ ...settings.agent.fluxiondb, tls: { key: PEM_KEY, cert: PEM_CERT } });
    expect(maskedSettings).toEqual({
      url: 'ws://db:8080/?api-key=***&x=1', apiKey: '***', connectionName: expect.any(String), requestTimeoutMs: 15_000,
      connectTimeoutMs: 10_000, maxFrameBytes: 8_388_608, compression: true, tls: { key: '***', cert: PEM_CERT },
    });
    expect(JSON.stringify(maskSecrets(settings))).not.toMatch(/k-secret|p-secret|in-url/);
  });
});
