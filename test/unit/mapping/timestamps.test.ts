import { describe, expect, it } from 'vitest';
import { compileRules, type MappingOptions, type TimestampUnit } from '../../../src/mapping/index.js';
import { mqtt, RECEIVED } from './helpers.js';

function tsOf(unit: TimestampUnit, value: unknown, options: MappingOptions = {}) {
  const set = compileRules([{ topic: 't', collection: 'c', document: 'd', timestamp: { field: 'ts', unit }, fields: { v: 'v' } }], options);
  const r = set.map(mqtt('t', JSON.stringify({ ts: value, v: 1 })));
  return r.ok ? r.records[0]!.ts : `${r.code}: ${r.reason}`;
}

describe('payload timestamps', () => {
  it('reads every unit, as numbers and numeric strings, into ms', () => {
    expect(tsOf('s', 1700000000)).toBe(1700000000000);
    expect(tsOf('s', 1700000000.123)).toBe(1700000000123);
    expect(tsOf('s', '1700000000.5')).toBe(1700000000500);
    expect(tsOf('ms', 1700000000123)).toBe(1700000000123);
    expect(tsOf('ms', '1700000000123')).toBe(1700000000123);
    expect(tsOf('us', 1700000000123456)).toBe(1700000000123);
    expect(tsOf('ns', 1700000000123456789)).toBe(1700000000123);
    expect(tsOf('ns', '1700000000123456789')).toBe(1700000000123);
    expect(tsOf('s', '1.7e9')).toBe(1700000000000);
  });

  it('reads ISO 8601 with a zone and refuses one without', () => {
    expect(tsOf('iso', '2024-03-01T12:00:00Z')).toBe(Date.UTC(2024, 2, 1, 12));
    expect(tsOf('iso', '2024-03-01T12:00:00.250+02:00')).toBe(Date.UTC(2024, 2, 1, 10, 0, 0, 250));
    expect(tsOf('iso', '2024-03-01T12:00:00-0130')).toBe(Date.UTC(2024, 2, 1, 13, 30));
    expect(tsOf('iso', '2024-03-01T12:00:00')).toBe(
      "bad_timestamp: timestamp '2024-03-01T12:00:00' has no time zone (add Z or an offset like +02:00)",
    );
    expect(tsOf('iso', '2024-02-30T12:00:00Z')).toBe("bad_timestamp: timestamp '2024-02-30T12:00:00Z' is out of range");
    expect(tsOf('iso', 1700000000)).toBe('bad_timestamp: timestamp is a number, expected an ISO 8601 string');
  });

  it('refuses non-numeric values and reports a missing field', () => {
    expect(tsOf('ms', 'yesterday')).toBe("bad_timestamp: timestamp 'yesterday' is not a number");
    expect(tsOf('ms', '0x10')).toBe("bad_timestamp: timestamp '0x10' is not a number");
    expect(tsOf('ms', true)).toBe('bad_timestamp: timestamp is a boolean, expected a number');
    expect(tsOf('ms', undefined)).toBe("missing_field: timestamp field 'ts' is missing");
  });

  it('writes seconds or microseconds when the collection says so', () => {
    expect(tsOf('ms', 1700000000999, { ts_unit_out: 's' })).toBe(1700000000);
    expect(tsOf('ms', 1700000000123, { collections: { c: { ts_unit_out: 'us' } } })).toBe(1700000000123000);
    expect(tsOf('ns', '1700000000123456789', { collections: { c: { ts_unit_out: 'us' } } })).toBe(1700000000123456);
    expect(tsOf('iso', '2024-03-01T12:00:00.123456Z', { ts_unit_out: 'us' })).toBe(Date.UTC(2024, 2, 1, 12) * 1000 + 123456);
    expect(tsOf('s', 1700000000, { collections: { other: { ts_unit_out: 's' } } })).toBe(1700000000000);
  });

  it('looks up the output unit of a templated collection per message', () => {
    const set = compileRules([{ topic: 'x/{col}', collection: '{col}', document: 'd' }], { collections: { slow: { ts_unit_out: 's' } } });
    const a = set.map(mqtt('x/slow', '{}', RECEIVED + 1500));
    const b = set.map(mqtt('x/fast', '{}', RECEIVED + 1500));
    expect(a.ok && a.records[0]!.ts).toBe(RECEIVED / 1000 + 1);
    expect(b.ok && b.records[0]!.ts).toBe(RECEIVED + 1500);
  });
});

describe('timestamp floor', () => {
  const rule = { topic: 't', collection: 'c', document: 'd', timestamp: { field: 'ts', unit: 's' as const } };

  it('replaces a timestamp before the floor by the receive time, and counts it', () => {
    const set = compileRules([rule]);
    expect(set.map(mqtt('t', '{"ts":5}'))).toEqual({
      ok: true, records: [{ col: 'c', doc: 'd', ts: RECEIVED, data: '{"ts":5}' }], metadata: [], matched: 1, rejections: [],
    });
    expect(set.map(mqtt('t', '{"ts":-1}', RECEIVED + 1000))).toMatchObject({ ok: true, records: [{ ts: RECEIVED + 1000 }] });
    expect(set.counters.badTimestamps).toBe(2);
    expect(set.counters.clockUnsynced).toBe(0);
  });

  it('dead-letters it when so configured, and counts it', () => {
    const set = compileRules([rule], { on_bad_timestamp: 'dead_letter' });
    expect(set.map(mqtt('t', '{"ts":5}'))).toEqual({
      ok: false, code: 'bad_timestamp', rule: 0, reason: 'timestamp 5 is before the floor 2020-01-01T00:00:00.000Z',
      rejections: [{ rule: 0, code: 'bad_timestamp', reason: 'timestamp 5 is before the floor 2020-01-01T00:00:00.000Z' }],
    });
    expect(set.counters.badTimestamps).toBe(1);
    expect(set.counters.rejected.bad_timestamp).toBe(1);
  });

  it('honours a custom floor', () => {
    const set = compileRules([rule], { timestamp_floor: Date.UTC(2023, 0, 1), on_bad_timestamp: 'dead_letter' });
    expect(set.map(mqtt('t', '{"ts":1640995200}'))).toMatchObject({ ok: false, code: 'bad_timestamp' });
    expect(set.map(mqtt('t', '{"ts":1672531200}'))).toMatchObject({ ok: true, records: [{ ts: 1672531200000 }] });
  });

  it('keeps a receive time from an unsynced clock but counts it', () => {
    const set = compileRules([{ topic: 't', collection: 'c', document: 'd' }]);
    const bootTime = 42_000; // 1970-01-01T00:00:42Z: no clock battery, no NTP yet
    expect(set.map(mqtt('t', '{"v":1}', bootTime))).toMatchObject({ ok: true, records: [{ ts: bootTime }] });
    expect(set.counters.clockUnsynced).toBe(1);
    expect(set.counters.badTimestamps).toBe(0);
  });
});
