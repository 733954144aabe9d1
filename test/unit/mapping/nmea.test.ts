import { describe, expect, it } from 'vitest';
import { checkRules, compileRules, type MappingRuleSpec } from '../../../src/mapping/index.js';
import { nmeaChecksum, NmeaError, NmeaSkip, parseNmea } from '../../../src/mapping/nmea.js';
import { serial } from './helpers.js';

const BOTH = { sentences: ['GGA', 'RMC'] as const, requireFix: true };
/** The textbook sentences (their checksums as published, not computed here). */
const GGA = '$GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,*47';
const RMC = '$GPRMC,123519,A,4807.038,N,01131.000,E,022.4,084.4,230394,003.1,W*6A';

function sentence(body: string): string {
  return `$${body}*${nmeaChecksum(body)}`;
}

describe('parseNmea', () => {
  it('parses GGA into decimal degrees, altitude and fix data, dated by the receive day', () => {
    const received = Date.UTC(2024, 4, 17, 12, 35, 20);
    expect({ ...(parseNmea(GGA, received, BOTH) as object) }).toEqual({
      sentence: 'GGA',
      talker: 'GP',
      time: '2024-05-17T12:35:19.000Z',
      lat: 48.1173,
      lon: 11.516666667,
      fix_quality: 1,
      satellites: 8,
      hdop: 0.9,
      alt: 545.4,
      geoid_sep: 46.9,
    });
  });

  it('parses RMC with its own date, speed in knots and km/h, course and magnetic variation', () => {
    expect({ ...(parseNmea(`${RMC}\r\n`, Date.UTC(2024, 0, 1), BOTH) as object) }).toEqual({
      sentence: 'RMC',
      talker: 'GP',
      time: '1994-03-23T12:35:19.000Z',
      status: 'A',
      lat: 48.1173,
      lon: 11.516666667,
      speed_knots: 22.4,
      speed_kmh: 41.4848,
      course: 84.4,
      mag_var: -3.1,
    });
  });

  it('gives southern and western positions negative degrees, with fractional seconds', () => {
    const s = sentence('GNRMC,083559.25,A,3352.1280,S,15112.5540,W,0.00,,010125,,,A');
    expect(parseNmea(s, 0, BOTH)).toMatchObject({
      talker: 'GN', time: '2025-01-01T08:35:59.250Z', lat: -33.868800000, lon: -151.209233333, speed_knots: 0, speed_kmh: 0,
    });
    expect(parseNmea(s, 0, BOTH)).not.toHaveProperty('course');
  });

  it('dates a GGA fix from just before midnight, received just after, on the previous day', () => {
    const s = sentence('GPGGA,235959.50,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,');
    expect(parseNmea(s, Date.UTC(2024, 2, 1, 0, 0, 1), BOTH)).toMatchObject({ time: '2024-02-29T23:59:59.500Z' });
    // And the other way: a receiver clock slightly ahead, received just before midnight.
    const early = sentence('GPGGA,000000.20,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,');
    expect(parseNmea(early, Date.UTC(2023, 11, 31, 23, 59, 59), BOTH)).toMatchObject({ time: '2024-01-01T00:00:00.200Z' });
  });

  it('rejects a bad or missing checksum, and lines that are not sentences', () => {
    expect(parseNmea(GGA.replace('*47', '*48'), 0, BOTH)).toEqual(new NmeaError('NMEA checksum mismatch: sentence says 48, computed 47'));
    expect(parseNmea(GGA.replace('545.4', '545.5'), 0, BOTH)).toEqual(new NmeaError('NMEA checksum mismatch: sentence says 47, computed 46'));
    expect(parseNmea(GGA.slice(0, -3), 0, BOTH)).toEqual(new NmeaError('NMEA sentence has no checksum (*hh)'));
    expect(parseNmea('GPGGA,1*00', 0, BOTH)).toEqual(new NmeaError('not an NMEA sentence (no leading $)'));
    expect(parseNmea('$GPGGA*Z1', 0, BOTH)).toEqual(new NmeaError("NMEA checksum 'Z1' is not two hex digits"));
  });

  it('rejects listed sentences with wrong fields', () => {
    expect(parseNmea(sentence('GPGGA,123519,4807.038,N,01131.000,E,1,08'), 0, BOTH)).toEqual(new NmeaError('GGA sentence has 7 fields, expected 14'));
    expect(parseNmea(sentence('GPGGA,123519,4807.038,N,01131.000,X,1,08,0.9,545.4,M,46.9,M,,'), 0, BOTH)).toEqual(
      new NmeaError("GGA longitude '01131.000,X' is invalid"),
    );
    expect(parseNmea(sentence('GPRMC,123519,A,4807.038,N,01131.000,E,022.4,084.4,310294,,'), 0, BOTH)).toEqual(
      new NmeaError("RMC date '310294' is not a valid date"),
    );
    expect(parseNmea(sentence('GPGGA,126019,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,'), 0, BOTH)).toEqual(
      new NmeaError("GGA time '126019' is out of range"),
    );
  });

  it('skips unlisted sentence types and sentences without a fix, unless told otherwise', () => {
    const gsv = sentence('GPGSV,3,1,11,03,03,111,00,04,15,270,00,06,01,010,00,13,06,292,00');
    expect(parseNmea(gsv, 0, BOTH)).toEqual(new NmeaSkip('sentence GPGSV is not in nmea.sentences'));
    expect(parseNmea(RMC, 0, { sentences: ['GGA'], requireFix: true })).toEqual(new NmeaSkip('sentence GPRMC is not in nmea.sentences'));
    const noFix = sentence('GPGGA,123519,,,,,0,00,,,M,,M,,');
    expect(parseNmea(noFix, Date.UTC(2024, 0, 1), BOTH)).toEqual(new NmeaSkip('GGA without a fix (quality 0)'));
    expect({ ...(parseNmea(noFix, Date.UTC(2024, 0, 1, 12), { sentences: ['GGA'], requireFix: false }) as object) }).toEqual({
      sentence: 'GGA', talker: 'GP', time: '2024-01-01T12:35:19.000Z', fix_quality: 0, satellites: 0,
    });
    const void_ = sentence('GPRMC,123519,V,,,,,,,230394,,');
    expect(parseNmea(void_, 0, BOTH)).toEqual(new NmeaSkip('RMC without a fix (status V)'));
  });
});

describe('format: nmea in rules', () => {
  const gps: MappingRuleSpec = {
    port: 'gps',
    collection: 'gps',
    document: 'truck-7',
    format: 'nmea',
    timestamp: { field: 'time', unit: 'iso' },
    fields: { lat: 'lat', lon: 'lon', alt: 'alt?', speed: 'speed_kmh?' },
  };

  it('maps GGA and RMC to records stamped with the fix time', () => {
    const set = compileRules([gps]);
    expect(set.map(serial('gps', GGA, Date.UTC(2024, 4, 17, 12, 40)))).toEqual({
      ok: true,
      records: [{ col: 'gps', doc: 'truck-7', ts: Date.UTC(2024, 4, 17, 12, 35, 19), data: '{"lat":48.1173,"lon":11.516666667,"alt":545.4}' }],
      metadata: [],
      matched: 1,
      rejections: [],
    });
    const rmc = sentence('GPRMC,123519,A,4807.038,N,01131.000,E,022.4,084.4,170524,003.1,W');
    expect(set.map(serial('gps', rmc))).toMatchObject({
      ok: true,
      // GGA and RMC of one fix share a time: on one document the second is bumped by 1 ms.
      records: [{ ts: Date.UTC(2024, 4, 17, 12, 35, 19) + 1, data: '{"lat":48.1173,"lon":11.516666667,"speed":41.4848}' }],
    });
  });

  it('counts skipped sentences as filtered, and a bad checksum as a parse_error', () => {
    const set = compileRules([gps]);
    expect(set.map(serial('gps', sentence('GPGSA,A,3,04,05,,09,12,,,24,,,,,2.5,1.3,2.1')))).toEqual({
      ok: true, records: [], metadata: [], matched: 1, rejections: [],
    });
    expect(set.map(serial('gps', GGA.replace('*47', '*00')))).toMatchObject({
      ok: false, code: 'parse_error', reason: 'NMEA checksum mismatch: sentence says 00, computed 47',
    });
    expect(set.counters.filtered).toBe(1);
    expect(set.counters.rejected.parse_error).toBe(1);
  });

  it('checks the nmea settings', () => {
    expect(checkRules([{ ...gps, nmea: { sentences: ['GGA', 'GSV'], fix: true } }])).toEqual([
      { path: 'rules[0].nmea.fix', message: 'unknown setting', rule: 0, field: 'nmea.fix' },
      { path: 'rules[0].nmea.sentences[1]', message: "unsupported sentence 'GSV' (expected GGA or RMC)", rule: 0, field: 'nmea.sentences[1]' },
    ]);
    expect(checkRules([{ ...gps, format: 'json', nmea: { sentences: ['GGA'] } }])).toEqual([
      { path: 'rules[0].nmea', message: 'only used with format: nmea', rule: 0, field: 'nmea' },
    ]);
  });
});
