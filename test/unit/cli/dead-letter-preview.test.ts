import { describe, expect, it } from 'vitest';
import { escapeBytes, escapeText, preview } from '../../../src/cli/dead-letter-command.js';

describe('dead-letter previews', () => {
  it('escapes control and invisible characters in text, keeps printable Unicode', () => {
    expect(escapeText('a\nb\r\tc\\d\u0000\u001b[0m 21.5°C \u200b\u2028')).toBe('a\\nb\\r\\tc\\\\d\\x00\\x1b[0m 21.5°C \\u{200b}\\u{2028}');
  });

  it('escapes every byte outside printable ASCII when the payload is not UTF-8', () => {
    expect(escapeBytes(Buffer.from([0x24, 0x47, 0x00, 0xff, 0x0d, 0x0a, 0x5c, 0x7f]))).toBe('$G\\x00\\xff\\r\\n\\\\\\x7f');
  });

  it('shows the record of a dead letter that has one, else its payload, cut to 60 characters', () => {
    const record = { col: 'telemetry', doc: 'device-1', ts: 1_700_000_000_001, data: '{"n":1}' };
    expect(preview({ record, payload: 'ignored' })).toBe('telemetry/device-1@1700000000001 {"n":1}');
    expect(preview({ record: null, payload: Buffer.from('temp=21.5\nhum=40', 'utf8') })).toBe('temp=21.5\\nhum=40');
    expect(preview({ record: null, payload: Buffer.from([0xc3, 0x28]) })).toBe('\\xc3(');
    expect(preview({ record: null, payload: null })).toBe('-');
    const long = preview({ record: null, payload: '°'.repeat(100) });
    expect(long).toBe(`${'°'.repeat(59)}…`);
  });
});
