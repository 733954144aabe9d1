/**
 * Register values to typed values: the ten types, the four byte/word orders (ABCD big/big,
 * CDAB big bytes/little words, BADC little bytes/big words, DCBA little/little), bits,
 * strings, scale and offset. Pure functions over the bytes of a response, as they came off
 * the wire (each register big-endian, as Modbus sends it).
 *
 * 64-bit integers never pass through a float: they are exact `number`s up to 2^53 and
 * decimal strings beyond, unless a scale or offset is applied (then a float is the point).
 */
import type { Endianness, ModbusTable, ModbusValueType, RegisterSpec } from './types.js';

export type DecodedValue = number | boolean | string;

/** Registers (or coils) a value occupies. */
export function registerCount(spec: Pick<RegisterSpec, 'table' | 'type' | 'length'>): number {
  if (isBitTable(spec.table)) return 1;
  switch (spec.type) {
    case 'bool':
    case 'int16':
    case 'uint16':
      return 1;
    case 'int32':
    case 'uint32':
    case 'float32':
      return 2;
    case 'int64':
    case 'uint64':
    case 'float64':
      return 4;
    case 'string':
      return spec.length ?? 1;
  }
}

export function isBitTable(table: ModbusTable): boolean {
  return table === 'coil' || table === 'discrete';
}

/**
 * The bytes of `count` registers starting at register `offset` of `data`, reordered to
 * big-endian (ABCD): words reversed for little word order, bytes swapped for little byte order.
 */
export function orderedBytes(data: Uint8Array, offset: number, count: number, byteOrder: Endianness, wordOrder: Endianness): Buffer {
  const out = Buffer.allocUnsafe(count * 2);
  for (let i = 0; i < count; i++) {
    const src = (wordOrder === 'little' ? count - 1 - i : i) * 2 + offset * 2;
    const hi = data[src]!;
    const lo = data[src + 1]!;
    out[i * 2] = byteOrder === 'little' ? lo : hi;
    out[i * 2 + 1] = byteOrder === 'little' ? hi : lo;
  }
  return out;
}

/** One coil or discrete input of a packed bit response (LSB of the first byte is the first bit). */
export function bitAt(data: Uint8Array, index: number): boolean {
  return ((data[index >> 3]! >> (index & 7)) & 1) === 1;
}

/** Decodes one configured register from its block's data (`offset` in registers or bits from the block start). */
export function decodeRegister(spec: RegisterSpec, data: Uint8Array, offset: number): DecodedValue {
  if (isBitTable(spec.table)) return bitAt(data, offset);
  if (spec.bit !== undefined) {
    const word = (data[offset * 2]! << 8) | data[offset * 2 + 1]!;
    return ((word >> spec.bit) & 1) === 1;
  }
  const n = registerCount(spec);
  const bytes = orderedBytes(data, offset, n, spec.byteOrder, spec.wordOrder);
  const raw = decodeType(spec.type, bytes);
  return typeof raw === 'string' || typeof raw === 'boolean' ? raw : scaled(raw, spec.scale, spec.offset);
}

/** Decodes big-endian bytes as `type`; 64-bit integers as bigint. */
export function decodeType(type: ModbusValueType, b: Buffer): number | bigint | boolean | string {
  switch (type) {
    case 'bool':
      return b.readUInt16BE(0) !== 0;
    case 'int16':
      return b.readInt16BE(0);
    case 'uint16':
      return b.readUInt16BE(0);
    case 'int32':
      return b.readInt32BE(0);
    case 'uint32':
      return b.readUInt32BE(0);
    case 'float32':
      return b.readFloatBE(0);
    case 'int64':
      return b.readBigInt64BE(0);
    case 'uint64':
      return b.readBigUInt64BE(0);
    case 'float64':
      return b.readDoubleBE(0);
    case 'string': {
      // Devices pad with NULs (sometimes spaces after them): the text ends at the first NUL.
      const end = b.indexOf(0);
      return b.toString('latin1', 0, end === -1 ? b.length : end).trimEnd();
    }
  }
}

/** Applies scale and offset; an exact integer stays exact when neither is set. */
export function scaled(v: number | bigint, scale: number, offset: number): number | string {
  if (typeof v === 'bigint') {
    if (scale === 1 && offset === 0) return Number.isSafeInteger(Number(v)) && BigInt(Number(v)) === v ? Number(v) : v.toString();
    return tidy(Number(v) * scale + offset);
  }
  if (scale === 1 && offset === 0) return v;
  return tidy(v * scale + offset);
}

/** 12345 * 0.01 is 123.45000000000002 in binary floating point: keep 15 significant digits. */
function tidy(v: number): number {
  return Number.isFinite(v) ? Number(v.toPrecision(15)) : v;
}

/** Every reading of the same registers, for `modbus read`: each type in each order. */
export function decodeAllWays(data: Uint8Array, count: number): Array<{ type: ModbusValueType; order: string; offset: number; value: string }> {
  const out: Array<{ type: ModbusValueType; order: string; offset: number; value: string }> = [];
  const orders: Array<[string, Endianness, Endianness]> = [
    ['ABCD', 'big', 'big'],
    ['CDAB', 'big', 'little'],
    ['BADC', 'little', 'big'],
    ['DCBA', 'little', 'little'],
  ];
  const types: Array<[ModbusValueType, number]> = [
    ['int16', 1], ['uint16', 1], ['int32', 2], ['uint32', 2], ['float32', 2], ['int64', 4], ['uint64', 4], ['float64', 4],
  ];
  for (const [type, n] of types) {
    for (let offset = 0; offset + n <= count; offset++) {
      for (const [order, byteOrder, wordOrder] of orders) {
        if (n === 1 && wordOrder === 'little') continue;
        const v = decodeType(type, orderedBytes(data, offset, n, byteOrder, wordOrder));
        out.push({ type, order: n === 1 ? (byteOrder === 'big' ? 'AB' : 'BA') : order, offset, value: String(v) });
      }
    }
  }
  for (const [order, byteOrder] of [['AB', 'big'], ['BA', 'little']] as const) {
    const text = decodeType('string', orderedBytes(data, 0, count, byteOrder, 'big')) as string;
    out.push({ type: 'string', order, offset: 0, value: JSON.stringify(text) });
  }
  return out;
}
