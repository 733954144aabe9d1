import { describe, expect, it } from 'vitest';
import { checkRules, compileRules, SparkplugDecoder, SparkplugState, type MapResult, type RawMessage } from '../../../src/mapping/index.js';
import { aliasOnly, ArrayTypes, encodeTahu, Long, packArray, scalarBirthData, scalarBirthMetrics, withRawMetrics } from '../../helpers/sparkplug.js';

const T0 = 1_750_000_000_000;
const RULE = { topic: 'spBv1.0/{group}/+/{node}/#', format: 'sparkplug_b' as const, collection: 'plant' };

function msg(topic: string, payload: Uint8Array, extra: Partial<RawMessage> = {}): RawMessage {
  return { source: 'mqtt', topic, payload, receivedAt: T0 + 99_000, ...extra };
}

function records(r: MapResult): Array<{ doc: string; ts: number; data: Record<string, unknown> }> {
  if (!r.ok) throw new Error(`rejected: ${r.code} ${r.reason}`);
  return r.records.map((x) => ({ doc: x.doc, ts: x.ts, data: JSON.parse(x.data) as Record<string, unknown> }));
}

/** A birth with every scalar type, a data set, bytes, a file, a template and a null. */
function fullBirth(seq = 0, bdSeq = 7): Buffer {
  const tahu = encodeTahu({
    timestamp: T0,
    seq,
    metrics: [
      { name: 'bdSeq', type: 'UInt64', value: bdSeq },
      { name: 'Node Control/Rebirth', type: 'Boolean', value: false },
      ...scalarBirthMetrics(T0),
      {
        name: 'ds', alias: 16, type: 'DataSet',
        value: { numOfColumns: 2, columns: ['n', 'label'], types: ['Int32', 'String'], rows: [[-1, 'x'], [2, 'y']] },
      },
      { name: 'raw', alias: 17, type: 'Bytes', value: Buffer.from([1, 2, 255]) },
      { name: 'file', alias: 18, type: 'File', value: Buffer.from('hi') },
      {
        name: 'motor', alias: 19, type: 'Template',
        value: { templateRef: 'Motor', isDefinition: false, metrics: [{ name: 'speed', type: 'Int16', value: -12 }, { name: 'on', type: 'Boolean', value: true }] },
      },
      { name: 'missing', alias: 20, type: 'Int32', value: null },
    ],
  });
  return withRawMetrics(tahu, arrays(100, 1));
}

/** One metric of each array type, aliases from `base`. */
function arrays(base: number, scale: number): Array<Record<string, unknown>> {
  const a = (name: string, type: number, values: Array<number | bigint | boolean | string>, i: number): Record<string, unknown> => ({
    name, alias: base + i, datatype: type, bytesValue: packArray(type, values),
  });
  return [
    a('a_i8', ArrayTypes.Int8Array, [-1 * scale, 2], 0),
    a('a_i16', ArrayTypes.Int16Array, [-300 * scale, 7], 1),
    a('a_i32', ArrayTypes.Int32Array, [-70000 * scale, 8], 2),
    a('a_i64', ArrayTypes.Int64Array, [-9007199254740993n, 5n * BigInt(scale)], 3),
    a('a_u8', ArrayTypes.UInt8Array, [255, scale], 4),
    a('a_u16', ArrayTypes.UInt16Array, [65535, scale], 5),
    a('a_u32', ArrayTypes.UInt32Array, [4294967295, scale], 6),
    a('a_u64', ArrayTypes.UInt64Array, [18446744073709551615n, BigInt(scale)], 7),
    a('a_f', ArrayTypes.FloatArray, [1.5 * scale, 0.1], 8),
    a('a_d', ArrayTypes.DoubleArray, [0.1 * scale, -2], 9),
    a('a_b', ArrayTypes.BooleanArray, [true, false, true, true, false, false, false, false, true], 10),
    a('a_s', ArrayTypes.StringArray, ['ä', '', `x${scale}`], 11),
    a('a_dt', ArrayTypes.DateTimeArray, [T0, T0 + scale], 12),
  ];
}

const ARRAYS_1 = {
  a_i8: [-1, 2], a_i16: [-300, 7], a_i32: [-70000, 8], a_i64: ['-9007199254740993', 5], a_u8: [255, 1], a_u16: [65535, 1],
  a_u32: [4294967295, 1], a_u64: ['18446744073709551615', 1], a_f: [1.5, 0.1], a_d: [0.1, -2],
  a_b: [true, false, true, true, false, false, false, false, true], a_s: ['ä', '', 'x1'], a_dt: [T0, T0 + 1],
};

describe('format: sparkplug_b', () => {
  it('decodes every data type of a birth exactly, and the birth becomes metadata', () => {
    const set = compileRules([RULE]);
    const r = set.map(msg('spBv1.0/plant1/NBIRTH/edge1', fullBirth()));
    expect(records(r)).toEqual([{
      doc: 'plant1/edge1', ts: T0,
      data: {
        ...scalarBirthData(T0), ds: [{ n: -1, label: 'x' }, { n: 2, label: 'y' }],
        raw: Buffer.from([1, 2, 255]).toString('base64'), file: Buffer.from('hi').toString('base64'),
        'motor/speed': -12, 'motor/on': true, missing: null, ...ARRAYS_1,
      },
    }]);
    const meta = Object.fromEntries((r as { metadata: Array<{ device: string; key: string; value: string }> }).metadata.map((p) => [p.key, p]));
    expect(meta['sparkplug.online']).toEqual({ device: 'plant1/edge1', key: 'sparkplug.online', value: 'true' });
    expect(meta['sparkplug.bdseq']!.value).toBe('7');
    expect(meta['sparkplug.birth_time']!.value).toBe(new Date(T0).toISOString());
    const list = JSON.parse(meta['sparkplug.metrics']!.value) as Array<Record<string, unknown>>;
    expect(list.find((m) => m.name === 'f')).toEqual({ name: 'f', datatype: 'Float', alias: '9', units: '°C', properties: { engUnit: '°C' } });
    expect(list.find((m) => m.name === 'a_u64')).toMatchObject({ datatype: 'UInt64Array' });
  });

  it('resolves alias-only data (no names, no datatypes) against the birth', () => {
    const set = compileRules([RULE]);
    set.map(msg('spBv1.0/plant1/NBIRTH/edge1', fullBirth()));
    const data = aliasOnly(encodeTahu({
      timestamp: T0 + 1000, seq: 1,
      metrics: [
        { alias: 1, type: 'Int8', value: -128 }, { alias: 2, type: 'Int16', value: -32768 }, { alias: 3, type: 'Int32', value: -2147483648 },
        { alias: 4, type: 'Int64', value: Long.fromString('-9223372036854775808') }, { alias: 5, type: 'UInt8', value: 255 },
        { alias: 6, type: 'UInt16', value: 65535 }, { alias: 7, type: 'UInt32', value: 4294967295 },
        { alias: 8, type: 'UInt64', value: Long.fromString('9007199254740993', true) }, { alias: 9, type: 'Float', value: -0.1 },
        { alias: 10, type: 'Double', value: 1e300 }, { alias: 11, type: 'Boolean', value: false }, { alias: 12, type: 'String', value: 'é' },
        { alias: 13, type: 'DateTime', value: T0 + 1 }, { alias: 14, type: 'Text', value: '' }, { alias: 15, type: 'UUID', value: 'u' },
        { alias: 17, type: 'Bytes', value: Buffer.alloc(0) }, { alias: 20, type: 'Int32', value: 5 },
      ],
    }), arrays(100, 2).map(({ name: _n, datatype: _t, ...rest }) => rest));
    const [rec] = records(set.map(msg('spBv1.0/plant1/NDATA/edge1', data)));
    expect(rec).toEqual({
      doc: 'plant1/edge1', ts: T0 + 1000,
      data: {
        i8: -128, i16: -32768, i32: -2147483648, i64: '-9223372036854775808', u8: 255, u16: 65535, u32: 4294967295,
        u64: '9007199254740993', f: -0.1, d: 1e300, b: false, s: 'é', dt: T0 + 1, txt: '', id: 'u', raw: '', missing: 5,
        a_i8: [-2, 2], a_i16: [-600, 7], a_i32: [-140000, 8], a_i64: ['-9007199254740993', 10], a_u8: [255, 2], a_u16: [65535, 2],
        a_u32: [4294967295, 2], a_u64: ['18446744073709551615', 2], a_f: [3, 0.1], a_d: [0.2, -2],
        a_b: [true, false, true, true, false, false, false, false, true], a_s: ['ä', '', 'x2'], a_dt: [T0, T0 + 2],
      },
    });
  });

  it('groups metrics by timestamp, counts historical ones apart, keeps a null', () => {
    const decoder = new SparkplugDecoder(new SparkplugState(), { holdAfterGap: false });
    const set = compileRules([RULE], {}, { sparkplug: decoder });
    set.map(msg('spBv1.0/g/NBIRTH/n', encodeTahu({ timestamp: T0, seq: 0, metrics: [{ name: 'a', alias: 1, type: 'Int32', value: 1 }, { name: 'b', alias: 2, type: 'Int32', value: 2 }] })));
    const data = aliasOnly(encodeTahu({
      timestamp: T0 + 10, seq: 1,
      metrics: [
        { alias: 1, type: 'Int32', value: 3, timestamp: T0 + 5 },
        { alias: 2, type: 'Int32', value: null, timestamp: T0 + 5 },
        { alias: 1, type: 'Int32', value: 4, timestamp: T0 - 60_000, isHistorical: true },
        { alias: 2, type: 'Int32', value: 6 },
      ],
    }));
    expect(records(set.map(msg('spBv1.0/g/NDATA/n', data)))).toEqual([
      { doc: 'g/n', ts: T0 + 5, data: { a: 3, b: null } },
      { doc: 'g/n', ts: T0 - 60_000, data: { a: 4 } },
      { doc: 'g/n', ts: T0 + 10, data: { b: 6 } },
    ]);
    expect(decoder.state.counters()['g/n']).toMatchObject({ historical: 1, dataMessages: 1, births: 1, metrics: 6 });
  });

  it('devices: DBIRTH, DDATA with aliases, DDEATH marks the device offline; NDEATH by bdSeq, a stale one ignored', () => {
    const set = compileRules([{ ...RULE, sparkplug: { node_document: 'node:{node}' }, tags: { site: '{group}' } }]);
    set.map(msg('spBv1.0/g/NBIRTH/n', encodeTahu({ timestamp: T0, seq: 0, metrics: [{ name: 'bdSeq', type: 'UInt64', value: 2 }] })));
    const birth = set.map(msg('spBv1.0/g/DBIRTH/n/pump', encodeTahu({ timestamp: T0 + 1, seq: 1, metrics: [{ name: 'rpm', alias: 1, type: 'UInt16', value: 10 }] })));
    expect(records(birth)).toEqual([{ doc: 'g/n/pump', ts: T0 + 1, data: { rpm: 10, site: 'g' } }]);
    const data = set.map(msg('spBv1.0/g/DDATA/n/pump', aliasOnly(encodeTahu({ timestamp: T0 + 2, seq: 2, metrics: [{ alias: 1, type: 'UInt16', value: 11 }] }))));
    expect(records(data)).toEqual([{ doc: 'g/n/pump', ts: T0 + 2, data: { rpm: 11, site: 'g' } }]);
    const ddeath = set.map(msg('spBv1.0/g/DDEATH/n/pump', encodeTahu({ timestamp: T0 + 3, seq: 3, metrics: [] })));
    expect(ddeath).toMatchObject({ ok: true, records: [], metadata: [{ device: 'g/n/pump', key: 'sparkplug.online', value: 'false' }, { key: 'sparkplug.death_time' }] });

    const stale = set.map(msg('spBv1.0/g/NDEATH/n', encodeTahu({ metrics: [{ name: 'bdSeq', type: 'UInt64', value: 1 }] })));
    expect(stale).toEqual({ ok: true, records: [], metadata: [], matched: 1, rejections: [] });
    expect(set.counters.filtered).toBe(1);
    set.map(msg('spBv1.0/g/DBIRTH/n/pump', encodeTahu({ timestamp: T0 + 4, seq: 4, metrics: [{ name: 'rpm', alias: 1, type: 'UInt16', value: 10 }] })));
    const death = set.map(msg('spBv1.0/g/NDEATH/n', encodeTahu({ metrics: [{ name: 'bdSeq', type: 'UInt64', value: 2 }] })));
    if (!death.ok) throw new Error(death.reason);
    expect(death.metadata.filter((p) => p.key === 'sparkplug.online')).toEqual([
      { device: 'node:n', key: 'sparkplug.online', value: 'false' },
      { device: 'g/n/pump', key: 'sparkplug.online', value: 'false' },
    ]);
  });

  it('an unknown alias is not guessed at: unresolved, a rebirth wanted; replayed after the birth it resolves', () => {
    const decoder = new SparkplugDecoder(new SparkplugState(), { holdAfterGap: true });
    const set = compileRules([RULE], {}, { sparkplug: decoder });
    const data = aliasOnly(encodeTahu({ timestamp: T0 + 5, seq: 9, metrics: [{ alias: 3, type: 'Int16', value: -2 }] }));
    const r = set.map(msg('spBv1.0/g/NDATA/n', data));
    expect(r).toMatchObject({ ok: false, code: 'unresolved', reason: 'g/n: unknown alias 3 (no NBIRTH defines it)' });
    expect(decoder.state.takeRebirths().map((e) => e.key)).toEqual(['g/n']);
    set.map(msg('spBv1.0/g/NBIRTH/n', encodeTahu({ timestamp: T0 + 6, seq: 0, metrics: [{ name: 't', alias: 3, type: 'Int16', value: 1 }] })));
    expect(decoder.state.takeBirths().map((e) => e.key)).toEqual(['g/n']);
    expect(records(set.map(msg('spBv1.0/g/NDATA/n', data, { replayed: true })))).toEqual([{ doc: 'g/n', ts: T0 + 5, data: { t: -2 } }]);
  });

  it('a seq gap holds data until the next NBIRTH (when gaps hold); a repeat is not a gap; seq wraps at 255', () => {
    const decoder = new SparkplugDecoder(new SparkplugState(), { holdAfterGap: true });
    const set = compileRules([RULE], {}, { sparkplug: decoder });
    const data = (seq: number, v: number): RawMessage =>
      msg('spBv1.0/g/NDATA/n', aliasOnly(encodeTahu({ timestamp: T0 + v, seq, metrics: [{ alias: 1, type: 'Int32', value: v }] })));
    set.map(msg('spBv1.0/g/NBIRTH/n', encodeTahu({ timestamp: T0, seq: 254, metrics: [{ name: 'v', alias: 1, type: 'Int32', value: 0 }] })));
    expect(set.map(data(255, 1)).ok).toBe(true);
    expect(set.map(data(0, 2)).ok).toBe(true);
    expect(set.map(data(0, 2)).ok).toBe(true);
    expect(set.map(data(5, 3))).toMatchObject({ ok: false, code: 'unresolved' });
    expect(set.map(data(6, 4))).toMatchObject({ ok: false, code: 'unresolved', reason: 'g/n: waiting for the rebirth after a seq gap' });
    expect(decoder.state.counters()['g/n']).toMatchObject({ seqGaps: 1, unresolved: 2 });
    set.map(msg('spBv1.0/g/NBIRTH/n', encodeTahu({ timestamp: T0 + 10, seq: 0, metrics: [{ name: 'v', alias: 1, type: 'Int32', value: 0 }] })));
    expect(set.map(data(1, 11)).ok).toBe(true);
  });

  it('reads retained births under $sparkplug/certificates/ for aliases only, and subscribes there', () => {
    const set = compileRules([RULE], {}, { sparkplug: new SparkplugDecoder(new SparkplugState(), { holdAfterGap: true }), sparkplugCertificates: true });
    expect(set.mqttFilters()).toEqual([{ filter: 'spBv1.0/+/+/+/#', qos: 1 }, { filter: '$sparkplug/certificates/spBv1.0/+/+/+/#', qos: 1 }]);
    const cert = set.map(msg('$sparkplug/certificates/spBv1.0/g/NBIRTH/n', encodeTahu({ timestamp: T0, seq: 3, metrics: [{ name: 'v', alias: 1, type: 'Int32', value: 0 }] })));
    expect(cert).toMatchObject({ ok: true, records: [] });
    const data = aliasOnly(encodeTahu({ timestamp: T0 + 1, seq: 77, metrics: [{ alias: 1, type: 'Int32', value: 9 }] }));
    expect(records(set.map(msg('spBv1.0/g/NDATA/n', data)))).toEqual([{ doc: 'g/n', ts: T0 + 1, data: { v: 9 } }]);
  });

  it('commands and STATE are filtered, garbage is a parse error, and the rule is checked', () => {
    const set = compileRules([{ ...RULE, topic: 'spBv1.0/#' }]);
    expect(set.map(msg('spBv1.0/g/NCMD/n', encodeTahu({ metrics: [] })))).toMatchObject({ ok: true, records: [] });
    expect(set.map({ source: 'mqtt', topic: 'spBv1.0/STATE/host', payload: '{"online":true}', receivedAt: T0 })).toMatchObject({ ok: true, records: [] });
    expect(set.map(msg('spBv1.0/g/NDATA/n', Buffer.from([0xff, 0xff, 0xff])))).toMatchObject({ ok: false, code: 'parse_error' });
    expect(set.counters.filtered).toBe(2);
    expect(checkRules([{ topic: 'plant/#', format: 'sparkplug_b', collection: 'c', fields: { a: 'b' }, document: '{payload.x}' }]).map((p) => p.path)).toEqual(
      expect.arrayContaining(['rules[0].topic', 'rules[0].fields', 'rules[0].format']),
    );
    expect(checkRules([{ port: 'ttyS0', format: 'sparkplug_b', collection: 'c' }]).map((p) => p.message)).toContain('sparkplug_b is an MQTT format (a serial rule cannot use it)');
    expect(checkRules([RULE])).toEqual([]);
  });
});
