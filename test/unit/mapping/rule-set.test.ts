import { afterEach, describe, expect, it, vi } from 'vitest';
import { compileRules, type MappingRuleSpec } from '../../../src/mapping/index.js';
import { mqtt, RECEIVED } from './helpers.js';

const telemetry: MappingRuleSpec = { topic: 'sensors/{site}/{device}/telemetry', collection: 'telemetry', document: '{device}' };

afterEach(() => {
  vi.restoreAllMocks();
});

describe('templates and tags', () => {
  it('renders collection, document and tags from named wildcards, static text and the payload', () => {
    const set = compileRules([{
      topic: 'sensors/{site}/{device}/{kind#}',
      collection: 'env-{site}',
      document: '{device}-{payload.unit.id}',
      fields: { t: 'temp' },
      tags: { site: '{site}', line: '3', kind: '{kind}', braces: '{{x}}' },
    }]);
    expect(set.map(mqtt('sensors/plant-3/th-1/a/b', '{"temp":21.5,"unit":{"id":7}}'))).toEqual({
      ok: true,
      records: [{ col: 'env-plant-3', doc: 'th-1-7', ts: RECEIVED, data: '{"t":21.5,"site":"plant-3","line":"3","kind":"a/b","braces":"{x}"}' }],
      metadata: [],
      matched: 1,
      rejections: [],
    });
  });

  it('rejects a payload placeholder that finds nothing, and an empty document', () => {
    const set = compileRules([{ topic: 'a/{x#}', collection: 'c', document: '{payload.id}' }, { topic: 'b/{x#}', collection: 'c', document: '{x}' }]);
    expect(set.map(mqtt('a/1', '{"id":{"deep":1}}'))).toMatchObject({
      ok: false, code: 'missing_field', reason: "document template '{payload.id}' needs a payload value that is missing or not a scalar",
    });
    expect(set.map(mqtt('b', '{}'))).toMatchObject({ ok: false, code: 'invalid_record', reason: "document template '{x}' rendered empty" });
  });

  it('lets a payload field win over a tag of the same name, and counts the clash', () => {
    const set = compileRules([{ ...telemetry, tags: { site: '{site}' } }]);
    expect(set.map(mqtt('sensors/p3/d1/telemetry', '{"site":"own","v":1}'))).toMatchObject({ ok: true, records: [{ data: '{"site":"own","v":1}' }] });
    expect(set.counters.tagClashes).toBe(1);
  });
});

describe('coercion', () => {
  it('turns numeric strings into numbers and rejects the rest', () => {
    const set = compileRules([{ ...telemetry, fields: { t: 'temp', h: 'hum' }, coerce: 'number' }]);
    expect(set.map(mqtt('sensors/p/d1/telemetry', '{"temp":"21.5","hum":40}'))).toMatchObject({ ok: true, records: [{ data: '{"t":21.5,"h":40}' }] });
    expect(set.map(mqtt('sensors/p/d1/telemetry', '{"temp":"warm","hum":40}'))).toMatchObject({
      ok: false, code: 'bad_type', reason: 'field \'t\' is "warm", not a number',
    });
  });

  it('coerces per field', () => {
    const set = compileRules([{ ...telemetry, coerce: { serial: 'string', temp: 'number' } }]);
    expect(set.map(mqtt('sensors/p/d1/telemetry', '{"temp":" 1e2 ","serial":7,"note":"x"}'))).toMatchObject({
      ok: true, records: [{ data: '{"temp":100,"serial":"7","note":"x"}' }],
    });
    expect(set.map(mqtt('sensors/p/d1/telemetry', '{"temp":null}'))).toMatchObject({ ok: false, code: 'bad_type' });
  });
});

describe('passthrough', () => {
  it('keeps a JSON object as is, adds tags, and wraps anything else as raw', () => {
    const set = compileRules([{ ...telemetry, passthrough: true, tags: { site: '{site}' } }]);
    expect(set.map(mqtt('sensors/p3/d1/telemetry', '{"a":{"b":[1]}}'))).toMatchObject({ ok: true, records: [{ data: '{"a":{"b":[1]},"site":"p3"}' }] });
    expect(set.map(mqtt('sensors/p3/d1/telemetry', 'not json', RECEIVED + 1))).toMatchObject({ ok: true, records: [{ data: '{"raw":"not json","site":"p3"}' }] });
    expect(set.map(mqtt('sensors/p3/d1/telemetry', '[1,2]', RECEIVED + 2))).toMatchObject({ ok: true, records: [{ data: '{"raw":"[1,2]","site":"p3"}' }] });
  });

  it('keeps a non-JSON format as raw text', () => {
    const set = compileRules([{ ...telemetry, format: 'kv', passthrough: true }]);
    expect(set.map(mqtt('sensors/p3/d1/telemetry', 'a=1 b=2'))).toMatchObject({ ok: true, records: [{ data: '{"raw":"a=1 b=2"}' }] });
  });
});

describe('collisions', () => {
  const rule: MappingRuleSpec = { ...telemetry, timestamp: { field: 'ts' }, fields: { v: 'v' } };
  const send = (set: ReturnType<typeof compileRules>, ts: number, v: number, device = 'd1') => {
    const r = set.map(mqtt(`sensors/p/${device}/telemetry`, JSON.stringify({ ts, v })));
    return r.ok ? r.records[0]!.ts : r.code;
  };
  const T = 1700000000000;

  it('bumps readings of one document with the same ts by one unit, and counts them', () => {
    const set = compileRules([rule]);
    expect([send(set, T, 1), send(set, T, 2), send(set, T, 3), send(set, T, 4, 'd2'), send(set, T + 1, 5), send(set, T + 5, 6)]).toEqual([
      T, T + 1, T + 2, T, T + 3, T + 5,
    ]);
    expect(set.counters.collisions).toBe(3);
  });

  it('bumps in the output unit', () => {
    const set = compileRules([rule], { ts_unit_out: 's' });
    expect([send(set, T, 1), send(set, T + 400, 2)]).toEqual([T / 1000, T / 1000 + 1]);
  });

  it('leaves readings older than the latest alone', () => {
    const set = compileRules([rule]);
    expect([send(set, T, 1), send(set, T - 10, 2), send(set, T - 10, 3), send(set, T, 4)]).toEqual([T, T - 10, T - 10, T + 1]);
    expect(set.counters.collisions).toBe(1);
  });

  it('keeps colliding timestamps under on_collision: keep, counting them', () => {
    const set = compileRules([rule], { on_collision: 'keep' });
    expect([send(set, T, 1), send(set, T, 2), send(set, T, 3)]).toEqual([T, T, T]);
    expect(set.counters.collisions).toBe(2);
  });

  it('forgets the oldest document when its memory is full', () => {
    const set = compileRules([rule], { collision_memory: 2 });
    expect([send(set, T, 1, 'a'), send(set, T, 1, 'b'), send(set, T, 1, 'c'), send(set, T, 2, 'a'), send(set, T, 2, 'c')]).toEqual([T, T, T, T, T + 1]);
  });
});

describe('several rules, no rule, size', () => {
  it('feeds one message to every matching rule, parsing it once', () => {
    const set = compileRules([
      { ...telemetry, fields: { t: 'temp' } },
      { topic: 'sensors/+/{device}/#', collection: 'all', document: '{device}', fields: { h: 'hum' } },
      { topic: 'other/#', collection: 'x', document: 'y' },
    ]);
    const parse = vi.spyOn(JSON, 'parse');
    const r = set.map(mqtt('sensors/p/d1/telemetry', '{"temp":1,"hum":2}'));
    expect(parse).toHaveBeenCalledTimes(1);
    expect(r).toEqual({
      ok: true,
      records: [
        { col: 'telemetry', doc: 'd1', ts: RECEIVED, data: '{"t":1}' },
        { col: 'all', doc: 'd1', ts: RECEIVED, data: '{"h":2}' },
      ],
      metadata: [],
      matched: 2,
      rejections: [],
    });
  });

  it('returns the records of the rules that worked and the reasons of those that failed', () => {
    const set = compileRules([{ ...telemetry, fields: { t: 'temp' } }, { ...telemetry, collection: 'hum', fields: { h: 'hum' } }]);
    expect(set.map(mqtt('sensors/p/d1/telemetry', '{"temp":1}'))).toEqual({
      ok: true,
      records: [{ col: 'telemetry', doc: 'd1', ts: RECEIVED, data: '{"t":1}' }],
      metadata: [],
      matched: 2,
      rejections: [{ rule: 1, code: 'missing_field', reason: "field 'hum' (for 'h') is missing" }],
    });
  });

  it('says no_rule when nothing matches, and too_large before parsing', () => {
    const set = compileRules([telemetry], { max_payload_bytes: 10 });
    expect(set.map(mqtt('sensors/p/d1/status', '{}'))).toEqual({
      ok: false, code: 'no_rule', reason: "no rule matches topic 'sensors/p/d1/status'", rejections: [],
    });
    expect(set.map({ source: 'serial', port: 'ttyS0', payload: '{}', receivedAt: RECEIVED })).toMatchObject({ ok: false, code: 'no_rule' });
    expect(set.map(mqtt('sensors/p/d1/telemetry', '{"v":"123456"}'))).toEqual({
      ok: false, code: 'too_large', reason: 'payload of 14 bytes is over max_payload_bytes (10)', rejections: [],
    });
    expect(set.map({ source: 'mqtt', topic: 'sensors/p/d1/telemetry', payload: 'ééééé!', receivedAt: RECEIVED })).toMatchObject({ ok: false, code: 'too_large' });
    expect(set.counters.rejected).toEqual({
      no_rule: 2, too_large: 2, parse_error: 0, missing_field: 0, bad_type: 0, bad_timestamp: 0, invalid_record: 0, unresolved: 0,
    });
    expect(set.counters.messages).toBe(4);
  });

  it('matches shared subscriptions on the topic without the prefix', () => {
    const set = compileRules([{ topic: '$share/edge/sensors/{device}/x', collection: 'c', document: '{device}' }]);
    expect(set.map(mqtt('sensors/a/x', '{"v":1}'))).toMatchObject({ ok: true, records: [{ doc: 'a' }] });
  });
});

describe('subscriptions', () => {
  it('lists each filter once with the highest qos, and the serial ports', () => {
    const set = compileRules([
      { topic: 'sensors/{site}/{device}/telemetry', collection: 'a', document: '{device}', qos: 0 },
      { topic: 'sensors/+/{d}/telemetry', collection: 'b', document: '{d}', qos: 2 },
      { topic: 'logs/{rest#}', collection: 'l', document: 'x' },
      { topic: '$share/g/cmd/{d}', collection: 'c', document: '{d}', qos: 0 },
      { port: 'ttyUSB0', collection: 's', document: 'x' },
      { port: 'ttyUSB0', collection: 's2', document: 'x' },
    ]);
    expect(set.mqttFilters()).toEqual([
      { filter: 'sensors/+/+/telemetry', qos: 2 },
      { filter: 'logs/#', qos: 1 },
      { filter: '$share/g/cmd/+', qos: 0 },
    ]);
    expect(set.serialPorts()).toEqual(['ttyUSB0']);
  });

  it('drops filters another one covers, so the broker delivers each message once, and keeps the highest qos', () => {
    const set = compileRules([
      { topic: 'sensors/{site}/{device}/telemetry', collection: 'a', document: '{device}', qos: 2 },
      { topic: 'sensors/{rest#}', collection: 'b', document: 'all', qos: 0 },
      { topic: '$share/g/sensors/+/x', collection: 'c', document: 'd', qos: 0 },
      { topic: '$share/g/sensors/#', collection: 'c', document: 'd', qos: 0 },
      { topic: 'other/x', collection: 'c', document: 'd', qos: 1 },
    ]);
    expect(set.mqttFilters()).toEqual([
      { filter: 'sensors/#', qos: 2 },
      { filter: '$share/g/sensors/#', qos: 0 },
      { filter: 'other/x', qos: 1 },
    ]);
    expect(set.map(mqtt('sensors/p/d1/telemetry', '{}'))).toMatchObject({ ok: true, matched: 3 });
  });
});

describe('metadata kind', () => {
  it('produces key/value pairs for the device named by the document template', () => {
    const set = compileRules([{ topic: 'devices/{device}/info', kind: 'metadata', document: '{device}', fields: { model: 'model', fw: 'fw.version', cal: 'cal' }, tags: { site: 'plant-3' } }]);
    expect(set.map(mqtt('devices/th-1/info', '{"model":"TH-200","fw":{"version":3},"cal":[1.5,2]}'))).toEqual({
      ok: true,
      records: [],
      metadata: [
        { device: 'th-1', key: 'model', value: 'TH-200' },
        { device: 'th-1', key: 'fw', value: '3' },
        { device: 'th-1', key: 'cal', value: '[1.5,2]' },
        { device: 'th-1', key: 'site', value: 'plant-3' },
      ],
      matched: 1,
      rejections: [],
    });
  });

  it('takes every top-level field without fields, leaving out empty values', () => {
    const set = compileRules([{ topic: 'devices/{device}/info', kind: 'metadata', document: '{device}' }]);
    expect(set.map(mqtt('devices/th-1/info', '{"location":"hall","note":"","x":null,"on":true}'))).toMatchObject({
      ok: true,
      metadata: [
        { device: 'th-1', key: 'location', value: 'hall' },
        { device: 'th-1', key: 'on', value: 'true' },
      ],
    });
    expect(set.counters.metadataSkipped).toBe(2);
    expect(set.counters.metadata).toBe(2);
  });
});
