import { describe, expect, it } from 'vitest';
import { decodeAllWays, decodeRegister, orderedBytes, scaled } from '../../../../src/inputs/modbus/decode.js';
import type { RegisterSpec } from '../../../../src/inputs/modbus/types.js';

function spec(extra: Partial<RegisterSpec>): RegisterSpec {
  return { name: 'v', table: 'holding', address: 0, type: 'uint16', byteOrder: 'big', wordOrder: 'big', scale: 1, offset: 0, kind: 'records', ...extra };
}

describe('decode', () => {
  // 0x41 0x20 0x00 0x00 is 10.0 as float32 ABCD.
  const abcd = Buffer.from([0x41, 0x20, 0x00, 0x00]);
  it('reads the four orders of a 32-bit value', () => {
    expect(decodeRegister(spec({ type: 'float32' }), abcd, 0)).toBe(10);
    expect(decodeRegister(spec({ type: 'float32', wordOrder: 'little' }), Buffer.from([0x00, 0x00, 0x41, 0x20]), 0)).toBe(10);
    expect(decodeRegister(spec({ type: 'float32', byteOrder: 'little' }), Buffer.from([0x20, 0x41, 0x00, 0x00]), 0)).toBe(10);
    expect(decodeRegister(spec({ type: 'float32', byteOrder: 'little', wordOrder: 'little' }), Buffer.from([0x00, 0x00, 0x20, 0x41]), 0)).toBe(10);
    expect(orderedBytes(Buffer.from([1, 2, 3, 4, 5, 6, 7, 8]), 0, 4, 'little', 'little')).toEqual(Buffer.from([8, 7, 6, 5, 4, 3, 2, 1]));
  });

  it('keeps 64-bit integers exact: numbers up to 2^53, strings beyond', () => {
    const b = Buffer.alloc(8);
    b.writeBigUInt64BE(2n ** 53n - 1n);
    expect(decodeRegister(spec({ type: 'uint64' }), b, 0)).toBe(2 ** 53 - 1);
    b.writeBigUInt64BE(2n ** 64n - 1n);
    expect(decodeRegister(spec({ type: 'uint64' }), b, 0)).toBe('18446744073709551615');
    b.writeBigInt64BE(-(2n ** 60n) - 3n);
    expect(decodeRegister(spec({ type: 'int64' }), b, 0)).toBe('-1152921504606846979');
  });

  it('reads bits, coils, strings, scale and offset', () => {
    expect(decodeRegister(spec({ type: 'bool', bit: 3 }), Buffer.from([0x00, 0x08]), 0)).toBe(true);
    expect(decodeRegister(spec({ type: 'bool', bit: 15 }), Buffer.from([0x00, 0x08]), 0)).toBe(false);
    expect(decodeRegister(spec({ table: 'coil', type: 'bool' }), Buffer.from([0b0000_0100]), 2)).toBe(true);
    expect(decodeRegister(spec({ type: 'string', length: 3 }), Buffer.from('AB-7\0\0', 'latin1'), 0)).toBe('AB-7');
    expect(decodeRegister(spec({ type: 'string', length: 2, byteOrder: 'little' }), Buffer.from('BA-7', 'latin1'), 0)).toBe('AB7-');
    expect(decodeRegister(spec({ type: 'uint16', scale: 0.01 }), Buffer.from([0x30, 0x39]), 0)).toBe(123.45);
    expect(decodeRegister(spec({ type: 'int16', scale: 0.1, offset: -40 }), Buffer.from([0x01, 0x90]), 0)).toBe(0);
    expect(scaled(10n, 0.5, 0)).toBe(5);
  });

  it('lists every type in every order for modbus read', () => {
    const all = decodeAllWays(abcd, 2);
    expect(all).toContainEqual({ type: 'float32', order: 'ABCD', offset: 0, value: '10' });
    expect(all).toContainEqual({ type: 'uint16', order: 'AB', offset: 0, value: String(0x4120) });
    expect(all.filter((e) => e.type === 'int64')).toEqual([]);
  });
});
