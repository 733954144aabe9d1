import { describe, expect, it } from 'vitest';
import { formatDuration, formatSize, parseDuration, parseSize } from '../../../src/config/schema/index.js';

describe('durations and sizes', () => {
  it('parses durations into milliseconds', () => {
    expect([500, '500ms', '15s', '5m', '24h', '7d', '1.5s', ' 2 s ', '250'].map(parseDuration)).toEqual([
      500, 500, 15_000, 300_000, 86_400_000, 604_800_000, 1500, 2000, 250,
    ]);
  });

  it('sums parts like the command line does (issue 12: one duration parser)', () => {
    expect(['1h30m', '1m30s', '2w', '1d12h', '1 h30m'].map(parseDuration)).toEqual([5_400_000, 90_000, 1_209_600_000, 129_600_000, 5_400_000]);
  });

  it('refuses what is not a duration', () => {
    expect(['15x', '-1s', '0.5ms', 's', '1h 30m', '', -5, 1.5].map(parseDuration)).toEqual([null, null, null, null, null, null, null, null]);
  });

  it('parses sizes into bytes, with decimal and binary units', () => {
    expect([1024, '512KiB', '1MiB', '2GiB', '2GB', '1.5KB', '10 mb', '100', '3b', '1TiB'].map(parseSize)).toEqual([
      1024, 524_288, 1_048_576, 2_147_483_648, 2_000_000_000, 1500, 10_000_000, 100, 3, 1_099_511_627_776,
    ]);
  });

  it('refuses what is not a size', () => {
    expect(['2 gigs', '1.5B', 'KiB', '-1', 0.5].map(parseSize)).toEqual([null, null, null, null, null]);
  });

  it('formats values back the way people write them', () => {
    expect([15_000, 86_400_000, 1500, 0].map(formatDuration)).toEqual(['15s', '1d', '1500ms', '0ms']);
    expect([8 * 1024 * 1024, 2e9, 1000, 1023].map(formatSize)).toEqual(['8MiB', '2GB', '1KB', '1023 bytes']);
  });
});
