import { describe, expect, it } from 'vitest';
import { parseDuration, parseWhen } from '../../../src/cli/duration.js';

const NOW = Date.UTC(2024, 4, 1, 12, 0, 0); // 2024-05-01T12:00:00Z

describe('parseDuration', () => {
  it.each([
    ['250ms', 250],
    ['90s', 90_000],
    ['30m', 1_800_000],
    ['2h', 7_200_000],
    ['7d', 604_800_000],
    ['2w', 1_209_600_000],
    ['1h30m', 5_400_000],
    ['1.5h', 5_400_000],
    ['0s', 0],
    [' 5m ', 300_000],
  ])('%s is %d ms', (text, ms) => {
    expect(parseDuration(text, '--older-than')).toBe(ms);
  });

  it.each(['', '7', 'h', '5 minutes', '-2h', '2H', '2y', '1h 30m', 'abc'])('refuses %j with a usage error naming the option', (text) => {
    expect(() => parseDuration(text, '--older-than')).toThrow(
      expect.objectContaining({ code: 'EDGE_ERR_USAGE', message: expect.stringContaining('--older-than') }),
    );
  });
});

describe('parseWhen', () => {
  it.each([
    ['90s', NOW - 90_000],
    ['30m', NOW - 1_800_000],
    ['2h', NOW - 7_200_000],
    ['7d', NOW - 604_800_000],
    ['500ms', NOW - 500],
  ])('reads the duration %s as that long before now', (text, ms) => {
    expect(parseWhen(text, '--since', NOW)).toBe(ms);
  });

  it.each([
    ['2024-05-01T10:00:00Z', Date.UTC(2024, 4, 1, 10)],
    ['2024-05-01T10:00:00.250Z', Date.UTC(2024, 4, 1, 10, 0, 0, 250)],
    ['2024-05-01T10:00:00.123456z', Date.UTC(2024, 4, 1, 10, 0, 0, 123)],
    ['2024-05-01T12:00:00+02:00', Date.UTC(2024, 4, 1, 10)],
    ['2024-05-01T05:30:00-0430', Date.UTC(2024, 4, 1, 10)],
    ['2024-05-01T15:00+05', Date.UTC(2024, 4, 1, 10)],
    ['2024-05-01 10:00:00Z', Date.UTC(2024, 4, 1, 10)],
    ['2024-05-01', Date.UTC(2024, 4, 1)],
    ['2024-02-29T00:00:00Z', Date.UTC(2024, 1, 29)],
  ])('reads the ISO 8601 time %s', (text, ms) => {
    expect(parseWhen(text, '--since', NOW)).toBe(ms);
  });

  it('reads digits as epoch milliseconds', () => {
    expect(parseWhen('1714557600000', '--until', NOW)).toBe(1_714_557_600_000);
    expect(parseWhen('0', '--until', NOW)).toBe(0);
  });

  it.each([
    'yesterday',
    '2024-05-01T10:00:00', // no zone: would depend on the machine's TZ
    '2024-02-30T00:00:00Z',
    '2023-02-29',
    '2024-13-01',
    '2024-05-01T24:00:00Z',
    '2024-05-01T10:60:00Z',
    '2024-05-01T10:00:00+24:00',
    '1969-12-31T23:59:59Z',
    '-1000',
    '99999999999999999999',
    '1.5',
    '',
  ])('refuses %j with a usage error that says what it takes', (text) => {
    let caught: unknown;
    try {
      parseWhen(text, '--since', NOW);
    } catch (err) {
      caught = err;
    }
    expect(caught).toMatchObject({ code: 'EDGE_ERR_USAGE' });
    expect((caught as Error).message).toBe(
      `--since: cannot read '${text}' as a time; use a duration ago (90s, 30m, 2h, 7d, 1h30m), an ISO 8601 time with a zone (2024-05-01T12:00:00Z), or epoch ms`,
    );
  });
});
