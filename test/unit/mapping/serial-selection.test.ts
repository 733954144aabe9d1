/**
 * Several rules on one serial port: which rule takes a line (`match`, or the first rule that
 * maps it), and what a line no rule took is dead-lettered with (every rule's reason, bounded).
 */
import { describe, expect, it } from 'vitest';
import { checkRules, compileRules, deadLetterReason, type MappingRuleSpec } from '../../../src/mapping/index.js';
import { MAX_REASON_CHARS } from '../../../src/mapping/dead-letter-reason.js';
import { nmeaChecksum } from '../../../src/mapping/nmea.js';
import { RECEIVED, serial } from './helpers.js';

function sentence(body: string): string {
  return `$${body}*${nmeaChecksum(body)}`;
}

const GGA = sentence('GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,');
const GSV = sentence('GPGSV,3,1,11,03,03,111,00,04,15,270,00,06,01,010,00,13,06,292,00');

/** The field trial's port: a GPS, an energy meter printing CSV and a PLC printing key=value, on one line. */
const nmeaRule: MappingRuleSpec = {
  port: 'line1', collection: 'gps', document: 'truck-7', format: 'nmea', timestamp: { field: 'time', unit: 'iso' }, fields: { lat: 'lat', lon: 'lon' },
};
const csvRule: MappingRuleSpec = {
  port: 'line1', collection: 'energy', document: 'meter-1', format: 'csv', csv: { header: ['ts', 'v', 'i', 'p'] }, timestamp: { field: 'ts', unit: 'ms' }, fields: { v: 'v', i: 'i', p: 'p' },
};
const kvRule: MappingRuleSpec = { port: 'line1', collection: 'plc', document: 'plc-1', format: 'kv', fields: { state: 'state', speed: 'speed' } };

describe('several rules on one serial port, without match: the first rule that maps a line wins', () => {
  const set = compileRules([nmeaRule, csvRule, kvRule]);

  it('maps each kind of line with its own rule and files nothing for it', () => {
    expect(set.map(serial('line1', GGA, Date.UTC(2024, 4, 17, 12, 40)))).toMatchObject({ ok: true, records: [{ col: 'gps' }], rejections: [] });
    expect(set.map(serial('line1', '1760000000000,230.1,4.2,966'))).toMatchObject({ ok: true, records: [{ col: 'energy' }], rejections: [] });
    expect(set.map(serial('line1', 'state=run speed=1200'))).toMatchObject({ ok: true, records: [{ col: 'plc', data: '{"state":"run","speed":1200}' }], rejections: [] });
    // A GSV sentence the NMEA rule skips by design is filtered, not a dead letter of the other rules.
    expect(set.map(serial('line1', GSV))).toEqual({ ok: true, records: [], metadata: [], matched: 3, rejections: [] });
    expect(set.counters.rejected.parse_error).toBe(0);
  });

  it('dead-letters a line no rule took with every rule\'s reason', () => {
    const r = set.map(serial('line1', 'hello world'));
    expect(r).toMatchObject({ ok: false, code: 'parse_error' });
    expect(deadLetterReason(r)).toBe(
      "rules[0] parse_error: not an NMEA sentence (no leading $); rules[1] parse_error: csv line has 1 cells, the header has 4; rules[2] parse_error: kv pair 'hello' has no '='",
    );
  });
});

describe('match: a rule takes the lines it selects', () => {
  const selected = compileRules([
    { ...nmeaRule, match: { nmea_type: ['GGA', 'RMC'] } },
    { ...csvRule, match: { cells: 4 } },
    { ...kvRule, match: { regex: '^state=' } },
  ]);

  it('dead-letters a selected line that fails its rule with that rule\'s reason only', () => {
    const bad = GGA.slice(0, -2) + '00';
    const r = selected.map(serial('line1', bad));
    expect(r).toMatchObject({ ok: false, code: 'parse_error', rule: 0, rejections: [{ rule: 0, portRule: 0, code: 'parse_error' }] });
    expect(deadLetterReason(r)).toMatch(/^parse_error: NMEA checksum mismatch: sentence says 00, computed [0-9A-F]{2}$/);
    const cells = selected.map(serial('line1', 'x,230.1,4.2,966'));
    expect(deadLetterReason(cells)).toBe("bad_timestamp: timestamp 'x' is not a number");
  });

  it('says why no rule selected a line, rule by rule', () => {
    const r = selected.map(serial('line1', GSV));
    expect(r.ok).toBe(false);
    expect(deadLetterReason(r)).toBe(
      'rules[0] no_rule: not selected: the line is an NMEA GPGSV sentence, not GGA or RMC; rules[1] no_rule: not selected: the line has 20 cells, not 4; rules[2] no_rule: not selected: the line does not match /^state=/',
    );
  });

  it('selects nothing in a line that is not UTF-8, and says so', () => {
    const r = selected.map({ source: 'serial', port: 'line1', payload: Buffer.from([0x24, 0xff, 0xfe]), receivedAt: RECEIVED });
    expect(deadLetterReason(r)).toBe(
      'rules[0] no_rule: not selected: payload is not valid UTF-8; rules[1] no_rule: not selected: payload is not valid UTF-8; rules[2] no_rule: not selected: payload is not valid UTF-8',
    );
  });

  it('checks match settings', () => {
    expect(checkRules([{ ...kvRule, match: {} }, { ...kvRule, match: { regex: '(', cells: 0, nmea_type: 'gga', other: 1 } as never }])).toEqual([
      { path: 'rules[0].match', message: 'give at least one of prefix, regex, nmea_type, cells', rule: 0, field: 'match' },
      { path: 'rules[1].match.other', message: 'unknown setting (expected prefix, regex, nmea_type or cells)', rule: 1, field: 'match.other' },
      { path: 'rules[1].match.regex', message: expect.stringContaining('is not a valid regex'), rule: 1, field: 'match.regex' },
      { path: 'rules[1].match.nmea_type', message: expect.stringContaining('upper case'), rule: 1, field: 'match.nmea_type' },
      { path: 'rules[1].match.cells', message: 'must be a positive integer', rule: 1, field: 'match.cells' },
    ]);
    expect(checkRules([{ topic: 'a/b', collection: 'c', document: 'd', match: { prefix: 'x' } }])).toEqual([
      { path: 'rules[0].match', message: 'only for serial rules (an MQTT rule selects by its topic)', rule: 0, field: 'match' },
    ]);
  });
});

describe('a firmware line next to the readings (kind: metadata)', () => {
  const meter: MappingRuleSpec = { port: 'meter', collection: 'energy', document: '{port}', format: 'regex', regex: 'V=(?<voltage>[\\d.]+) I=(?<current>[\\d.]+)' };
  const firmware: MappingRuleSpec = { port: 'meter', kind: 'metadata', document: '{port}', format: 'regex', regex: '^FW=(?<firmware>\\S+)' };

  it('without match: readings and the firmware line each map, neither is a dead letter', () => {
    const set = compileRules([meter, firmware]);
    expect(set.map(serial('meter', 'V=230.1 I=4.20'))).toMatchObject({ ok: true, records: [{ data: '{"voltage":230.1,"current":4.2}' }], rejections: [] });
    expect(set.map(serial('meter', 'FW=2.1.3'))).toMatchObject({ ok: true, records: [], metadata: [{ device: 'meter', key: 'firmware', value: '2.1.3' }], rejections: [] });
  });

  it('with match: a firmware line the metadata rule selects but cannot read is its dead letter', () => {
    const set = compileRules([{ ...firmware, match: { prefix: 'FW' } }, meter]);
    expect(set.map(serial('meter', 'V=230.1 I=4.20'))).toMatchObject({ ok: true, records: [{ col: 'energy' }] });
    expect(deadLetterReason(set.map(serial('meter', 'FW: unknown')))).toBe('parse_error: payload does not match the regex');
  });
});

describe('deadLetterReason', () => {
  it('is bounded however many rules failed', () => {
    const many = Array.from({ length: 30 }, (_, i): MappingRuleSpec => ({ port: 'p', collection: 'c', document: 'd', format: 'regex', regex: `^(?<v>${'x'.repeat(200)})${i}` }));
    const reason = deadLetterReason(compileRules(many).map(serial('p', 'nothing', RECEIVED)))!;
    expect(reason.length).toBeLessThanOrEqual(MAX_REASON_CHARS + 20);
    expect(reason).toMatch(/^rules\[0\] parse_error: payload does not match the regex; rules\[1\] .*; … \d+ more$/);
  });
});

describe('the rule behind each record (the report stage reads it), for serial lines and Modbus polls', () => {
  it('names the serial rule that took the line, the first one when several could', () => {
    const set = compileRules([nmeaRule, csvRule, kvRule]);
    set.map(serial('line1', 'state=run speed=1200'));
    expect(set.recordRules()).toEqual([2]);
    set.map(serial('line1', '1760000000000,230.1,4.2,966'));
    expect(set.recordRules()).toEqual([1]);
    set.map(serial('line1', 'hello world'));
    expect(set.recordRules()).toEqual([]);
  });

  it('maps a Modbus poll with every rule of its device: the records rule and the metadata rule', () => {
    const port = 'modbus:bus-1:meter';
    const set = compileRules([
      { port, collection: 'power', document: 'meter-1', fields: { v: 'v' } },
      { port, kind: 'metadata', document: 'meter-1', fields: { firmware: 'fw' } },
    ]);
    const r = set.map({ source: 'modbus', port, payload: '{"v":230.1,"fw":"1.2"}', receivedAt: RECEIVED });
    expect(r).toMatchObject({ ok: true, records: [{ col: 'power', data: '{"v":230.1}' }], metadata: [{ device: 'meter-1', key: 'firmware', value: '1.2' }] });
    expect(set.recordRules()).toEqual([0]);
  });
});
