import { describe, expect, it } from 'vitest';
import { EscapedPayload, decodeFrame, encodeFrame, encodeRequest } from '../../../src/client/frame.js';
import { FluxionErrorCodes, isFluxionError } from '../../../src/client/index.js';

describe('encodeFrame', () => {
  it('encodes the payload twice, exactly like the protocol page example', () => {
    const frame = encodeFrame('42', 'ins', [{ ts: 1700000000000, doc: 'd1', data: '{"v":1}', col: 'c' }], 1 << 20);
    expect(frame).toBe(
      '{"id":"42","type":"ins","data":"[{\\"ts\\":1700000000000,\\"doc\\":\\"d1\\",\\"data\\":\\"{\\\\\\"v\\\\\\":1}\\",\\"col\\":\\"c\\"}]"}',
    );
    const outer = JSON.parse(frame) as { id: string; type: string; data: string };
    expect(JSON.parse(outer.data)).toEqual([{ ts: 1700000000000, doc: 'd1', data: '{"v":1}', col: 'c' }]);
  });

  it('sends {} for a payload-less request, so data is never empty', () => {
    expect(encodeFrame('1', 'cols', undefined, 1000)).toBe('{"id":"1","type":"cols","data":"{}"}');
  });

  it('accepts a frame of exactly maxFrameBytes and refuses one byte more, counting UTF-8 bytes', () => {
    const base = encodeFrame('1', 'sval', { col: 'c', key: 'k', value: '' }, 1 << 20);
    const exact = Buffer.byteLength(base) + 3 * 10; // ten 3-byte characters
    const value = '€'.repeat(10);
    expect(Buffer.byteLength(encodeFrame('1', 'sval', { col: 'c', key: 'k', value }, exact))).toBe(exact);
    try {
      encodeFrame('1', 'sval', { col: 'c', key: 'k', value }, exact - 1);
      expect.unreachable();
    } catch (err) {
      expect(isFluxionError(err, FluxionErrorCodes.VALIDATION)).toBe(true);
      expect((err as { field: string }).field).toBe('frame');
      expect((err as Error).message).toBe(
        `sval frame of ${exact} bytes exceeds maxFrameBytes (${exact - 1}); send smaller batches`,
      );
    }
  });

  it('refuses a payload that is not JSON data, which would drop data from the envelope', () => {
    for (const payload of [() => 1, Symbol('s'), { n: 1n }]) {
      try {
        encodeFrame('1', 'cols', payload, 1000);
        expect.unreachable();
      } catch (err) {
        expect(isFluxionError(err, FluxionErrorCodes.VALIDATION)).toBe(true);
        expect((err as { field: string }).field).toBe('payload');
      }
    }
  });
});

describe('decodeFrame', () => {
  it('returns objects and null for anything else', () => {
    expect(decodeFrame('{"id":"1","value":"x"}')).toEqual({ id: '1', value: 'x' });
    expect(decodeFrame('[1]')).toBeNull();
    expect(decodeFrame('null')).toBeNull();
    expect(decodeFrame('"s"')).toBeNull();
    expect(decodeFrame('{oops')).toBeNull();
  });
});

describe('encodeRequest with an escaped payload', () => {
  const records = [{ ts: 1700000000000, doc: 'd€', data: '{"v":"a\\b\\n"}', col: 'c' }];
  const escaped = JSON.stringify(JSON.stringify(records)).slice(1, -1);
  // In two parts, cut inside the escaped text: the frame pastes the bytes as they are.
  const parts = [Buffer.from(escaped.slice(0, 9)), Buffer.from(escaped.slice(9))];

  it('gives the bytes of the text frame encodeFrame builds for the same records', () => {
    const frame = encodeRequest('7', 'ins', new EscapedPayload(parts), 1 << 20);
    expect(Buffer.isBuffer(frame)).toBe(true);
    expect((frame as Buffer).toString('utf8')).toBe(encodeFrame('7', 'ins', records, 1 << 20));
  });

  it('accepts exactly maxFrameBytes and refuses one byte more, with the text frame\'s error', () => {
    const exact = Buffer.byteLength(encodeFrame('7', 'ins', records, 1 << 20));
    expect((encodeRequest('7', 'ins', new EscapedPayload(parts), exact) as Buffer).length).toBe(exact);
    try {
      encodeRequest('7', 'ins', new EscapedPayload(parts), exact - 1);
      expect.unreachable();
    } catch (err) {
      expect(isFluxionError(err, FluxionErrorCodes.VALIDATION)).toBe(true);
      expect((err as { field: string }).field).toBe('frame');
      expect((err as Error).message).toBe(`ins frame of ${exact} bytes exceeds maxFrameBytes (${exact - 1}); send smaller batches`);
    }
  });
});
