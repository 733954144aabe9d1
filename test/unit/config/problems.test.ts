import { describe, expect, it } from 'vitest';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { formatProblems, parseConfig } from '../../../src/config/index.js';
import { ErrorCodes, isAgentError } from '../../../src/errors.js';
import { tempDir } from '../../helpers/tmp.js';
import { brief, MINIMAL, problemsFor } from './helpers.js';

describe('config problems', () => {
  it('lists five different mistakes at once, each with its path and line:column', () => {
    const text = [
      'fluxiondb:', //                        1
      '  url: ws://db.example:8080', //       2
      '  api_key: ${FLUXION_API_KEY}', //     3  env var unset
      'queue:', //                            4
      '  on_full: drop_old', //               5  wrong enum
      '  retain_sent: 24hours', //            6  bad duration
      'sender:', //                           7
      '  windoww: 8', //                      8  unknown key
      'mqtt:', //                             9
      '  url: mqtt://broker.local:1883', //   10
      '  subscriptions:', //                  11
      '    - topic: sensors/{device}/+', //   12
      '      collection: telemetry', //       13
      '      document: "{dev}"', //           14 rule problem (checkRules)
    ].join('\n');
    const problems = problemsFor(text, { file: 'config.yaml' });
    expect(formatProblems(problems).split('\n')).toEqual([
      'config.yaml:3:12 fluxiondb.api_key: environment variable FLUXION_API_KEY is not set (set it, or give a default: ${FLUXION_API_KEY:-value})',
      'config.yaml:5:12 queue.on_full: must be one of drop_oldest, drop_newest, block (got "drop_old")',
      'config.yaml:6:16 queue.retain_sent: must be a duration such as "500ms", "15s", "5m", "24h", "7d", or a number of milliseconds (got "24hours")',
      'config.yaml:8:3 sender.windoww: unknown key (did you mean `window`?)',
      "config.yaml:14:17 mqtt.subscriptions[0].document: '{dev}': placeholder '{dev}' is not a named wildcard of the topic (named wildcards: {device}; or use {payload.<path>})",
    ]);
    expect(problems[0]).toEqual({
      path: 'fluxiondb.api_key',
      file: 'config.yaml',
      line: 3,
      column: 12,
      message: 'environment variable FLUXION_API_KEY is not set (set it, or give a default: ${FLUXION_API_KEY:-value})',
    });
  });

  it('throws EDGE_ERR_CONFIG_INVALID with the problems as details', () => {
    let caught: unknown;
    try {
      parseConfig('queue: { max_rows: 0 }\n', { env: {} });
    } catch (err) {
      caught = err;
    }
    expect(isAgentError(caught, ErrorCodes.CONFIG_INVALID)).toBe(true);
    expect((caught as { details: unknown }).details).toEqual([
      { path: 'queue.max_rows', message: 'must be at least 1 (got 0)', file: 'config.yaml', line: 1, column: 20 },
      { path: 'fluxiondb', message: 'is required', file: 'config.yaml' },
    ]);
  });

  it('suggests the closest known key, or lists the known keys when nothing is close', () => {
    expect(brief(problemsFor(`${MINIMAL}queue:\n  max_byte: 1GiB\n  colour: red\nmqtt_broker: {}\n`))).toEqual([
      'queue.max_byte: unknown key (did you mean `max_bytes`?)',
      'queue.colour: unknown key (known keys: path, synchronous, max_bytes, max_rows, max_age, on_full, retain_sent, retain_sent_bytes, dead_letter_max_rows, max_file_bytes, startup_check, stage_flush)',
      'mqtt_broker: unknown key (did you mean `mqtt`?)',
    ]);
  });

  it('reports wrong types and ranges with the value given', () => {
    const text = `${MINIMAL}queue:\n  max_rows: many\n  max_bytes: 2 gigs\nsender:\n  window: 1.5\n  batch_max_records: -1\nmqtt:\n  clean: "no"\n  protocol_version: 3\n  url: http://broker\n  subscriptions: []\n`;
    expect(brief(problemsFor(text))).toEqual([
      'queue.max_rows: must be a number (got "many")',
      'queue.max_bytes: must be "auto" or a size such as "512KiB", "1MiB", "2GB" (GB = 10^9 bytes, GiB = 2^30), or a number of bytes (got "2 gigs")',
      'sender.window: must be a whole number (got 1.5)',
      'sender.batch_max_records: must be at least 1 (got -1)',
      'mqtt.clean: must be true or false (got "no")',
      'mqtt.protocol_version: must be one of 4, 5 (got 3)',
      'mqtt.url: must be an mqtt://, mqtts://, ws:// or wss:// URL, e.g. mqtt://broker.local:1883 (got "http://broker")',
      'mqtt.subscriptions: must list at least one subscription (a topic and how to map it) (got an empty list)',
    ]);
  });

  it('reports missing required keys at the parent, and bad URLs', () => {
    const problems = problemsFor('gateway:\n  id: gw 1\nfluxiondb:\n  api_key_file: /nonexistent/key\n');
    expect(problems.map((p) => [p.path, p.line, p.column])).toEqual([
      ['gateway.id', 2, 7],
      ['fluxiondb.url', 3, 1],
      ['fluxiondb.api_key_file', 4, 17],
    ]);
    expect(brief(problems)).toEqual([
      'gateway.id: must be letters, digits, ".", "_" or "-" (got "gw 1")',
      'fluxiondb.url: is required',
      'fluxiondb.api_key_file: cannot read API key file /nonexistent/key: ENOENT',
    ]);
    expect(brief(problemsFor('fluxiondb: { url: "http://db:8080", api_key: k }\n'))).toEqual([
      'fluxiondb.url: must be a ws:// or wss:// URL, e.g. ws://db.example:8080 (got "http://db:8080")',
    ]);
  });

  it('needs exactly one of api_key and api_key_file', () => {
    expect(brief(problemsFor('fluxiondb:\n  url: ws://db:8080\n'))).toEqual([
      'fluxiondb: needs an API key: api_key_file: /etc/fluxion-edge/api-key (preferred) or api_key: ${FLUXION_API_KEY}',
    ]);
    const dir = tempDir();
    try {
      writeFileSync(join(dir.path, 'key'), 'secret\n');
      const both = problemsFor('fluxiondb:\n  url: ws://db:8080\n  api_key: k\n  api_key_file: key\n', { baseDir: dir.path });
      expect(both).toEqual([
        {
          path: 'fluxiondb.api_key', file: 'config.yaml', line: 3, column: 12,
          message: 'give exactly one of api_key and api_key_file, not both (remove one)',
        },
      ]);
    } finally {
      dir.cleanup();
    }
  });

  it('reports secret files that are missing or empty, and TLS files that are not PEM', () => {
    const dir = tempDir();
    try {
      writeFileSync(join(dir.path, 'empty'), '\n');
      writeFileSync(join(dir.path, 'ca.txt'), 'not a certificate');
      const text = [
        'fluxiondb:',
        '  url: wss://db:8443',
        '  api_key_file: empty',
        '  tls: { ca_file: ca.txt }',
        'mqtt:',
        '  url: mqtt://b:1883',
        '  password_file: missing-password',
        '  subscriptions: [{ topic: a/b, collection: c, document: d }]',
      ].join('\n');
      expect(brief(problemsFor(text, { baseDir: dir.path }))).toEqual([
        `fluxiondb.api_key_file: API key file ${join(dir.path, 'empty')} is empty`,
        `fluxiondb.tls.ca_file: FluxionDB CA file ${join(dir.path, 'ca.txt')} is not PEM (no "-----BEGIN" line)`,
        `mqtt.password_file: cannot read MQTT password file ${join(dir.path, 'missing-password')}: ENOENT`,
      ]);
    } finally {
      dir.cleanup();
    }
  });

  it('moves the mapping engine problems under mqtt.subscriptions[i] without repeating the schema ones', () => {
    const text = [
      MINIMAL.trimEnd(),
      'mqtt:',
      '  embedded_broker: {}',
      '  subscriptions:',
      '    - { topic: a/b, collection: c, document: d }',
      '    - { topic: a/b, collection: c, document: d }',
      '    - topic: "sensors/#/x"', //                               line 9
      '      collection: c',
      '      document: d',
      '      format: csv', //                                        line 12
      '    - { topic: t, collection: c, document: d, format: xml, fieldz: {} }', // line 13
    ].join('\n');
    const problems = problemsFor(text);
    expect(problems.map((p) => `${p.line}:${p.column} ${p.path}: ${p.message}`)).toEqual([
      '9:7 mqtt.subscriptions[2].csv: format: csv needs csv: { header: [names...] }',
      "9:14 mqtt.subscriptions[2].topic: 'sensors/#/x': '#' must be the last level",
      '13:55 mqtt.subscriptions[3].format: must be one of json, value, kv, csv, regex, nmea, sparkplug_b (got "xml")',
      '13:60 mqtt.subscriptions[3].fieldz: unknown key (did you mean `fields`?)',
    ]);
  });

  it('needs url or embedded_broker, and subscriptions, when mqtt is present', () => {
    expect(brief(problemsFor(`${MINIMAL}mqtt:\n  username: u\n`))).toEqual([
      'mqtt.subscriptions: is required',
      'mqtt: needs url (an external broker, e.g. mqtt://broker.local:1883) or embedded_broker (start one inside the agent)',
    ]);
  });

  it('checks relations between values', () => {
    const text = `${MINIMAL}  max_frame_bytes: 1MiB\nqueue:\n  max_bytes: 1GiB\n  retain_sent_bytes: 2GiB\nsender:\n  backoff: { base: 1m, cap: 30s }\nmqtt:\n  url: mqtt://b\n  keepalive: 1500ms\n  reconnect: { base: 2s, cap: 1s }\n  group_commit: { max_messages: 0 }\n  subscriptions: [{ topic: a, collection: c, document: d }]\n`;
    expect(brief(problemsFor(text))).toEqual([
      'queue.retain_sent_bytes: must not exceed queue.max_bytes (1GiB) (got 2GiB)',
      'sender.batch_max_bytes: must be below fluxiondb.max_frame_bytes (1MiB), or full batches could never be sent (got 1MiB)',
      'sender.backoff.base: must not exceed backoff.cap (30s) (got 1m)',
      'mqtt.keepalive: must be a whole number of seconds, e.g. "30s" (got 1500 ms)',
      'mqtt.reconnect.base: must not exceed reconnect.cap (1s) (got 2s)',
      'mqtt.group_commit.max_messages: must be at least 1 (got 0)',
    ]);
  });

  it('reports YAML syntax errors with their position', () => {
    expect(problemsFor('fluxiondb:\n  url: ws://db:8080\n  api_key: a: b\n')).toEqual([
      { path: '', file: 'config.yaml', line: 3, column: 12, message: 'YAML syntax: Nested mappings are not allowed in compact mappings' },
    ]);
    expect(problemsFor('fluxiondb: {}\nfluxiondb: {}\n')[0]).toEqual(expect.objectContaining({ message: 'YAML syntax: Map keys must be unique', line: 2, column: 1 }));
    expect(brief(problemsFor('- a\n- b\n'))).toEqual([': must be a map of sections (fluxiondb:, queue:, mqtt:, ...)']);
  });

  it('reports malformed references and never echoes a secret', () => {
    expect(brief(problemsFor('fluxiondb:\n  url: ws://${HOST\n  api_key: 12345\n'))).toEqual([
      'fluxiondb.url: unterminated ${ in "ws://${HOST" (write $${ for a literal ${)',
      'fluxiondb.api_key: must be a string',
    ]);
    expect(brief(problemsFor('fluxiondb:\n  url: ws://${1HOST}\n  api_key: k\n'))).toEqual([
      'fluxiondb.url: ${1HOST} is not a variable reference: use ${NAME} or ${NAME:-default}',
    ]);
  });

  it('formats problems without a position or path', () => {
    expect(formatProblems([{ path: 'a.b', message: 'm' }, { path: '', message: 'n', file: 'f.yaml', line: 2, column: 3 }, { path: 'x', message: 'y', file: 'f.yaml' }])).toBe(
      'a.b: m\nf.yaml:2:3: n\nf.yaml x: y',
    );
  });

  it('loads a missing config file as one problem', async () => {
    const { loadConfig } = await import('../../../src/config/index.js');
    const dir = tempDir();
    try {
      const path = join(dir.path, 'nope.yaml');
      expect(() => loadConfig(path, {})).toThrow(expect.objectContaining({ code: ErrorCodes.CONFIG_INVALID, details: [{ path: '', file: path, message: 'cannot read the config file: ENOENT' }] }));
      writeFileSync(path, MINIMAL);
      chmodSync(path, 0o600);
      expect(loadConfig(path, {}).warnings).toEqual([]);
    } finally {
      dir.cleanup();
    }
  });
});
