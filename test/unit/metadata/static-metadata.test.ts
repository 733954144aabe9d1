import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../src/config/index.js';
import { heartbeatKeys, heartbeatPairs } from '../../../src/metadata/heartbeat.js';
import { metadataKey, staticPairs, stringifyValue } from '../../../src/metadata/static-metadata.js';
import { Secrets } from '../../../src/shared/secrets.js';

describe('static metadata', () => {
  it('fills the key template in one pass', () => {
    expect(metadataKey('<device>:<field>', 'device-1', 'location')).toBe('device-1:location');
    expect(metadataKey('meta/<field>/<device>', 'd<field>', 'x')).toBe('meta/x/d<field>');
  });

  it('stringifies YAML values: strings as is, numbers and booleans as written, the rest as JSON', () => {
    expect(stringifyValue('TH-200')).toBe('TH-200');
    expect(stringifyValue(42)).toBe('42');
    expect(stringifyValue(2.5)).toBe('2.5');
    expect(stringifyValue(true)).toBe('true');
    expect(stringifyValue(['gps', 'fuel'])).toBe('["gps","fuel"]');
    expect(stringifyValue({ a: 1, b: { c: 'x' } })).toBe('{"a":1,"b":{"c":"x"}}');
    expect(stringifyValue(null)).toBe('');
  });

  it('turns devices into pairs, leaving out empty values and values holding a secret', () => {
    const out = staticPairs(
      { 'device-1': { location: 'warehouse-1', floor: 3, note: '', gone: null }, gw: { token: 'x-k-secret-y', ok: false } },
      '<device>:<field>',
      new Secrets(['k-secret']),
    );
    expect(out.pairs).toEqual([
      { key: 'device-1:location', value: 'warehouse-1' },
      { key: 'device-1:floor', value: '3' },
      { key: 'gw:ok', value: 'false' },
    ]);
    expect(out.skipped).toEqual([
      { device: 'device-1', field: 'note', reason: 'empty' },
      { device: 'device-1', field: 'gone', reason: 'empty' },
      { device: 'gw', field: 'token', reason: 'secret' },
    ]);
  });

  it('builds the heartbeat keys of the gateway', () => {
    const pairs = heartbeatPairs('<device>:<field>', 'gw-3', { now: Date.UTC(2025, 0, 2, 3, 4, 5, 6), version: '1.2.3', queueDepth: 17, oldestUnsentAgeMs: 4999 });
    expect(pairs).toEqual([
      { key: 'gw-3:last_seen', value: '2025-01-02T03:04:05.006Z' },
      { key: 'gw-3:version', value: '1.2.3' },
      { key: 'gw-3:queue_depth', value: '17' },
      { key: 'gw-3:oldest_unsent_age_s', value: '4' },
    ]);
    expect(heartbeatPairs('<device>:<field>', 'gw', { now: 0, version: 'v', queueDepth: 0, oldestUnsentAgeMs: null })[3]).toEqual({ key: 'gw:oldest_unsent_age_s', value: '0' });
    expect(heartbeatKeys('<device>.<field>', 'gw')).toEqual(['gw.last_seen', 'gw.version', 'gw.queue_depth', 'gw.oldest_unsent_age_s']);
  });
});

describe('metadata config', () => {
  const base = `
gateway: { id: gw-1 }
fluxiondb: { url: "ws://db:8080", api_key: k-1 }
`;
  const problems = (text: string): string[] => {
    try {
      parseConfig(text, { env: {}, hostname: 'h' });
      return [];
    } catch (err) {
      return ((err as { details: Array<{ path: string; message: string }> }).details).map((p) => `${p.path}: ${p.message}`);
    }
  };

  it('applies defaults when the section is absent, and maps the section onto the settings', () => {
    expect(parseConfig(base, { env: {}, hostname: 'h' }).settings.metadata).toEqual({
      collection: 'metadata', keyTemplate: '<device>:<field>', devices: {}, prune: false, resyncSchedule: '0 * * * *',
      heartbeat: { enabled: true, schedule: '* * * * *' }, gatewayId: 'gw-1',
    });
    const { settings } = parseConfig(`${base}metadata:
  collection: kv
  key_template: "<device>/<field>"
  devices: { d1: { model: TH-200, n: 2 } }
  prune: true
  resync: "*/5 * * * * *"
  heartbeat: { enabled: false, schedule: "*/2 * * * *" }
`, { env: {}, hostname: 'h' });
    expect(settings.metadata).toEqual({
      collection: 'kv', keyTemplate: '<device>/<field>', devices: { d1: { model: 'TH-200', n: 2 } }, prune: true, resyncSchedule: '*/5 * * * * *',
      heartbeat: { enabled: false, schedule: '*/2 * * * *' }, gatewayId: 'gw-1',
    });
  });

  it('refuses bad schedules, a template without placeholders, and a metadata collection that holds readings', () => {
    const found = problems(`${base}metadata:
  collection: telemetry
  key_template: "<device>"
  resync: "every hour"
  heartbeat: { schedule: "61 * * * *" }
mqtt:
  url: mqtt://b
  subscriptions:
    - { topic: "a/{device}", collection: telemetry, document: "{device}" }
    - { topic: "b/{device}", collection: "{device}", document: "{device}" }
    - { topic: "c/{device}", kind: metadata, document: "{device}" }
`);
    expect(found).toEqual([
      "metadata.collection: 'telemetry' is also the collection of readings of mqtt.subscriptions[0]: deleting its last document would delete the metadata with it; give metadata a collection of its own",
      'metadata.key_template: must contain <device> and <field>, e.g. "<device>:<field>" (got "<device>")',
      'metadata.resync: must be a node-cron expression, e.g. "0 * * * *" (five fields, or six with seconds first) (got "every hour")',
      'metadata.heartbeat.schedule: must be a node-cron expression, e.g. "* * * * *" (five fields, or six with seconds first) (got "61 * * * *")',
    ]);
  });

  it('refuses the default collection when a serial rule writes readings there', () => {
    expect(problems(`${base}serial:
  - path: /dev/ttyUSB0
    rules: [{ collection: metadata, document: "{port}", format: value }]
`)).toEqual([
      "metadata.collection: 'metadata' is also the collection of readings of serial[0].rules[0]: deleting its last document would delete the metadata with it; give metadata a collection of its own",
    ]);
  });
});
