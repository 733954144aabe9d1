import { describe, expect, it } from 'vitest';
import { compileRules, type MappingRuleSpec } from '../../../src/mapping/index.js';
import { mqtt, RECEIVED, serial } from './helpers.js';

const base = { topic: 'dev/{device}', collection: 'telemetry', document: '{device}' } as const;

function one(rule: Partial<MappingRuleSpec>, payload: string | Uint8Array) {
  return compileRules([{ ...base, ...rule }]).map(mqtt('dev/d1', payload));
}

function rec(data: unknown, ts = RECEIVED) {
  return { ok: true, records: [{ col: 'telemetry', doc: 'd1', ts, data: JSON.stringify(data) }], metadata: [], matched: 1, rejections: [] };
}

describe('json', () => {
  it('keeps every top-level field when no fields are selected', () => {
    expect(one({}, '{"temp":21.5,"env":{"hum":40},"on":true}')).toEqual(rec({ temp: 21.5, env: { hum: 40 }, on: true }));
  });

  it('selects nested paths and array indexes, renaming them', () => {
    const r = one({ fields: { temperature: 'temp', humidity: 'env.hum', first: 'values.0', last: 'values.2.v' } }, '{"temp":21.5,"env":{"hum":40},"values":[1,2,{"v":"x"}],"junk":1}');
    expect(r).toEqual(rec({ temperature: 21.5, humidity: 40, first: 1, last: 'x' }));
  });

  it('rejects a missing field, and leaves out an optional one', () => {
    expect(one({ fields: { t: 'temp', h: 'env.hum' } }, '{"temp":1,"env":{}}')).toEqual({
      ok: false, code: 'missing_field', reason: "field 'env.hum' (for 'h') is missing", rule: 0,
      rejections: [{ rule: 0, code: 'missing_field', reason: "field 'env.hum' (for 'h') is missing" }],
    });
    expect(one({ fields: { t: 'temp', h: 'env.hum?' } }, '{"temp":1,"env":{}}')).toEqual(rec({ t: 1 }));
    expect(one({ fields: { t: 'values.5' } }, '{"values":[1]}')).toMatchObject({ ok: false, code: 'missing_field' });
    expect(one({ fields: { t: 'constructor' } }, '{}')).toMatchObject({ ok: false, code: 'missing_field' });
  });

  it('wraps a bare JSON scalar as {value} and refuses an array without fields', () => {
    expect(one({}, '23.5')).toEqual(rec({ value: 23.5 }));
    expect(one({}, '[1,2]')).toMatchObject({ ok: false, code: 'bad_type', reason: 'payload is an array; select values with fields (e.g. values.0)' });
    expect(one({ fields: { a: '0', b: '1' } }, '[1,2]')).toEqual(rec({ a: 1, b: 2 }));
  });

  it('accepts a UTF-8 byte order mark and string payloads', () => {
    expect(one({}, Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{"t":"é"}')]))).toEqual(rec({ t: 'é' }));
    const set = compileRules([{ ...base }]);
    expect(set.map({ source: 'mqtt', topic: 'dev/d1', payload: '{"t":1}', receivedAt: RECEIVED })).toEqual(rec({ t: 1 }));
  });

  it('rejects invalid JSON, invalid UTF-8 and binary garbage as parse errors', () => {
    expect(one({}, '{"temp":')).toMatchObject({ ok: false, code: 'parse_error', rule: 0 });
    expect(one({}, Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d]))).toMatchObject({ ok: false, code: 'parse_error', reason: 'payload is not valid UTF-8' });
    expect(one({}, Buffer.from([0x00, 0x01, 0x02, 0x9c]))).toMatchObject({ ok: false, code: 'parse_error' });
    expect(one({ format: 'value' }, Buffer.from([0x00, 0x01, 0x02, 0x03]))).toMatchObject({
      ok: false, code: 'parse_error', reason: 'payload holds control characters (binary data?)',
    });
  });
});

describe('value', () => {
  it('turns a bare number, string or boolean into {value}', () => {
    expect(one({ format: 'value' }, '23.5\n')).toEqual(rec({ value: 23.5 }));
    expect(one({ format: 'value' }, 'on')).toEqual(rec({ value: 'on' }));
    expect(one({ format: 'value' }, 'true')).toEqual(rec({ value: true }));
    expect(one({ format: 'value' }, '"quoted"')).toEqual(rec({ value: 'quoted' }));
    expect(one({ format: 'value' }, '007')).toEqual(rec({ value: '007' }));
    expect(one({ format: 'value', fields: { temperature: 'value' } }, '-4')).toEqual(rec({ temperature: -4 }));
    expect(one({ format: 'value' }, '  ')).toMatchObject({ ok: false, code: 'parse_error', reason: 'empty payload' });
  });
});

describe('kv', () => {
  it('splits on spaces or commas by default', () => {
    expect(one({ format: 'kv' }, 'temp=21.5 hum=40 state=ok')).toEqual(rec({ temp: 21.5, hum: 40, state: 'ok' }));
    expect(one({ format: 'kv' }, 'temp=21.5,hum=40\r\n')).toEqual(rec({ temp: 21.5, hum: 40 }));
  });

  it('uses configured separators', () => {
    expect(one({ format: 'kv', kv: { pair_separators: ';', key_value_separator: ':' } }, 'temp: 21.5; name: line 3')).toEqual(rec({ temp: 21.5, name: 'line 3' }));
  });

  it('rejects a pair without separator', () => {
    expect(one({ format: 'kv' }, 'temp=1 garbage')).toMatchObject({ ok: false, code: 'parse_error', reason: "kv pair 'garbage' has no '='" });
  });
});

describe('csv', () => {
  const csv = { format: 'csv', csv: { header: ['temp', 'hum', 'label'] } } as const;

  it('names cells by the header, with quotes and a custom delimiter', () => {
    expect(one(csv, '21.5,40,"a, ""b"""\r\n')).toEqual(rec({ temp: 21.5, hum: 40, label: 'a, "b"' }));
    expect(one({ format: 'csv', csv: { header: ['temp', 'hum', 'label'], delimiter: ';' } }, '21.5;;x')).toEqual(rec({ temp: 21.5, label: 'x' }));
  });

  it('rejects a wrong number of cells and a second line', () => {
    expect(one(csv, '21.5,40')).toMatchObject({ ok: false, code: 'parse_error', reason: 'csv line has 2 cells, the header has 3' });
    expect(one(csv, '1,2,3\n4,5,6')).toMatchObject({ ok: false, code: 'parse_error', reason: 'csv payload holds more than one line' });
  });
});

describe('regex', () => {
  const regex = { format: 'regex', regex: 'T=(?<temp>[-\\d.]+)C(?: H=(?<hum>\\d+)%)?' } as const;

  it('takes named groups, leaving out the unmatched ones', () => {
    expect(one(regex, 'T=-3.5C H=40%')).toEqual(rec({ temp: -3.5, hum: 40 }));
    expect(one(regex, 'T=21C')).toEqual(rec({ temp: 21 }));
  });

  it('rejects a payload that does not match', () => {
    expect(one(regex, 'hello')).toMatchObject({ ok: false, code: 'parse_error', reason: 'payload does not match the regex' });
  });

  it('serves serial ports too, with the port in templates', () => {
    const set = compileRules([{ port: 'ttyUSB0', collection: 'serial', document: 'bus-{port}', format: 'regex', regex: '(?<temp>\\d+)' }]);
    expect(set.map(serial('ttyUSB0', 'temp 17\r\n'))).toEqual({
      ok: true, records: [{ col: 'serial', doc: 'bus-ttyUSB0', ts: RECEIVED, data: '{"temp":17}' }], metadata: [], matched: 1, rejections: [],
    });
    expect(set.map(serial('ttyUSB1', '17'))).toEqual({ ok: false, code: 'no_rule', reason: "no rule matches port 'ttyUSB1'", rejections: [] });
  });
});
