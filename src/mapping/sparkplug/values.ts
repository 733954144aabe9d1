/**
 * Sparkplug values as JSON, by data type. The traps this file exists for:
 * - Int8/Int16/Int32 travel as two's complement inside a uint32 (`int_value`): -1 arrives
 *   as 4294967295 and is sign-extended here.
 * - UInt32 may come in `int_value` or in `long_value`, depending on the encoder.
 * - 64-bit integers never pass through a float: exact numbers up to 2^53, decimal strings
 *   beyond (a JSON reader would round them otherwise).
 * Bytes and File become base64; arrays (Sparkplug 3.0: little-endian packed in
 * `bytes_value`) become JSON arrays; a DataSet becomes rows of named columns.
 */
import { DataTypes, has, type ProtoDataSet, type ProtoMetric, type ProtoPropertySet, type ProtoPropertyValue, type ProtoScalarHolder, type Wire64 } from './payload.js';

export type JsonValue = null | boolean | number | string | JsonValue[] | { [k: string]: JsonValue };

/** A value that cannot be read as the data type says (e.g. an Int32 without `int_value`). */
export class ValueError extends Error {}

const TWO_32 = 4294967296;

/** A 64-bit wire value as an exact JSON value: a number when safe, else a decimal string. */
export function exact64(v: Wire64, signed: boolean): number | string {
  if (typeof v === 'number') return v;
  const lo = v.low >>> 0;
  const hi = v.high >>> 0;
  if (hi < 0x200000 || (signed && hi >= 0xffe00000 && (hi !== 0xffe00000 || lo !== 0))) {
    // |value| < 2^53: plain arithmetic is exact here.
    return signed && hi >= 0x80000000 ? (hi - TWO_32) * TWO_32 + lo : hi * TWO_32 + lo;
  }
  const big = (BigInt(hi) << 32n) | BigInt(lo);
  return (signed ? BigInt.asIntN(64, big) : big).toString();
}

/** A 64-bit wire value as a JS number (timestamps, sequence numbers: always small). */
export function small64(v: Wire64): number {
  if (typeof v === 'number') return v;
  return (v.high >>> 0) * TWO_32 + (v.low >>> 0);
}

/** The shortest decimal that reads back as the same float32 (21.7, not 21.700000762939453). */
export function float32(v: number): number {
  if (!Number.isFinite(v) || Number.isInteger(v)) return v;
  for (let p = 6; p < 9; p++) {
    const s = Number(v.toPrecision(p));
    if (Math.fround(s) === v) return s;
  }
  return v;
}

/** The scalar of a metric, data set cell, property or parameter, as `type` says. */
export function scalarValue(h: ProtoScalarHolder, type: number): JsonValue {
  switch (type) {
    case DataTypes.Int8:
      return (intOf(h) << 24) >> 24;
    case DataTypes.Int16:
      return (intOf(h) << 16) >> 16;
    case DataTypes.Int32:
      return intOf(h) | 0;
    case DataTypes.UInt8:
      return intOf(h) & 0xff;
    case DataTypes.UInt16:
      return intOf(h) & 0xffff;
    case DataTypes.UInt32:
      if (has(h, 'int_value')) return h.int_value! >>> 0;
      return exact64(longOf(h), false);
    case DataTypes.Int64:
      return exact64(longOf(h), true);
    case DataTypes.UInt64:
      return exact64(longOf(h), false);
    case DataTypes.DateTime:
      return exact64(longOf(h), false);
    case DataTypes.Float:
      if (has(h, 'float_value')) return float32(h.float_value!);
      if (has(h, 'double_value')) return h.double_value!;
      throw new ValueError('Float without float_value');
    case DataTypes.Double:
      if (has(h, 'double_value')) return h.double_value!;
      if (has(h, 'float_value')) return float32(h.float_value!);
      throw new ValueError('Double without double_value');
    case DataTypes.Boolean:
      if (has(h, 'boolean_value')) return h.boolean_value!;
      throw new ValueError('Boolean without boolean_value');
    case DataTypes.String:
    case DataTypes.Text:
    case DataTypes.UUID:
      // Some encoders leave an empty string off the wire: absent reads as empty.
      return has(h, 'string_value') ? h.string_value! : '';
    default:
      throw new ValueError(`data type ${type} is not a scalar`);
  }
}

function intOf(h: ProtoScalarHolder): number {
  if (has(h, 'int_value')) return h.int_value! >>> 0;
  // Some encoders put small integers in long_value; the low 32 bits hold the same pattern.
  if (has(h, 'long_value')) {
    const v = h.long_value!;
    return typeof v === 'number' ? v >>> 0 : v.low >>> 0;
  }
  throw new ValueError('integer without int_value');
}

function longOf(h: ProtoScalarHolder): Wire64 {
  if (has(h, 'long_value')) return h.long_value!;
  if (has(h, 'int_value')) return h.int_value! >>> 0;
  throw new ValueError('integer without long_value');
}

/**
 * The value of a non-template metric as `type` says: scalars, Bytes/File (base64), DataSet
 * (rows of named columns), arrays. `is_null` gives null whatever the type.
 */
export function metricValue(m: ProtoMetric, type: number): JsonValue {
  if (m.is_null === true) return null;
  if (type <= DataTypes.Double || (type >= DataTypes.Boolean && type <= DataTypes.UUID)) return scalarValue(m, type);
  switch (type) {
    case DataTypes.Bytes:
    case DataTypes.File:
      return Buffer.from(bytesOf(m)).toString('base64');
    case DataTypes.DataSet:
      if (!has(m, 'dataset_value')) throw new ValueError('DataSet without dataset_value');
      return dataSetRows(m.dataset_value!);
    default:
      if (type >= DataTypes.Int8Array && type <= DataTypes.DateTimeArray) return arrayValue(bytesOf(m), type);
      throw new ValueError(`unsupported data type ${type}`);
  }
}

/** Some encoders leave an empty bytes value off the wire: absent reads as empty. */
function bytesOf(m: ProtoMetric): Uint8Array {
  return has(m, 'bytes_value') ? m.bytes_value! : new Uint8Array(0);
}

/** A DataSet as rows of named columns: `[{"col": value, ...}, ...]`. */
export function dataSetRows(ds: ProtoDataSet): JsonValue[] {
  const columns = ds.columns ?? [];
  const types = ds.types ?? [];
  if (types.length !== columns.length) throw new ValueError(`DataSet with ${columns.length} columns and ${types.length} types`);
  return (ds.rows ?? []).map((row) => {
    const cells = row.elements ?? [];
    const out: Record<string, JsonValue> = {};
    for (let i = 0; i < columns.length; i++) {
      const cell = cells[i];
      // A cell without any value field is how encoders write a null.
      out[columns[i]!] = cell === undefined || !hasAnyValue(cell) ? null : scalarValue(cell, types[i]!);
    }
    return out;
  });
}

function hasAnyValue(h: ProtoScalarHolder): boolean {
  return has(h, 'int_value') || has(h, 'long_value') || has(h, 'float_value') || has(h, 'double_value') || has(h, 'boolean_value') || has(h, 'string_value');
}

/** Sparkplug 3.0 arrays: little-endian packed values in `bytes_value`. */
export function arrayValue(bytes: Uint8Array, type: number): JsonValue[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = bytes.byteLength;
  const each = (size: number, read: (off: number) => JsonValue): JsonValue[] => {
    if (n % size !== 0) throw new ValueError(`${n} bytes is not a whole number of ${size}-byte elements`);
    const out: JsonValue[] = new Array(n / size);
    for (let i = 0; i < out.length; i++) out[i] = read(i * size);
    return out;
  };
  const int64 = (off: number, signed: boolean): number | string =>
    exact64({ low: view.getUint32(off, true), high: view.getUint32(off + 4, true), unsigned: !signed }, signed);
  switch (type) {
    case DataTypes.Int8Array: return each(1, (o) => view.getInt8(o));
    case DataTypes.Int16Array: return each(2, (o) => view.getInt16(o, true));
    case DataTypes.Int32Array: return each(4, (o) => view.getInt32(o, true));
    case DataTypes.Int64Array: return each(8, (o) => int64(o, true));
    case DataTypes.UInt8Array: return each(1, (o) => view.getUint8(o));
    case DataTypes.UInt16Array: return each(2, (o) => view.getUint16(o, true));
    case DataTypes.UInt32Array: return each(4, (o) => view.getUint32(o, true));
    case DataTypes.UInt64Array: return each(8, (o) => int64(o, false));
    case DataTypes.FloatArray: return each(4, (o) => float32(view.getFloat32(o, true)));
    case DataTypes.DoubleArray: return each(8, (o) => view.getFloat64(o, true));
    case DataTypes.DateTimeArray: return each(8, (o) => int64(o, false));
    case DataTypes.BooleanArray: {
      // A little-endian count of booleans, then the bits, most significant first.
      if (n < 4) throw new ValueError('BooleanArray shorter than its 4-byte count');
      const count = view.getUint32(0, true);
      if (Math.ceil(count / 8) > n - 4) throw new ValueError(`BooleanArray of ${count} values in ${n - 4} bytes`);
      const out: boolean[] = new Array(count);
      for (let i = 0; i < count; i++) out[i] = (bytes[4 + (i >> 3)]! & (0x80 >> (i & 7))) !== 0;
      return out;
    }
    case DataTypes.StringArray: {
      // UTF-8 strings, each ended by a NUL byte.
      const out: string[] = [];
      let start = 0;
      for (let i = 0; i < n; i++) {
        if (bytes[i] !== 0) continue;
        out.push(Buffer.from(bytes.buffer, bytes.byteOffset + start, i - start).toString('utf8'));
        start = i + 1;
      }
      if (start < n) throw new ValueError('StringArray whose last string has no NUL terminator');
      return out;
    }
    default:
      throw new ValueError(`data type ${type} is not an array`);
  }
}

/** A property set (units, ranges, ...) as a plain object; nested sets recurse. */
export function propertySet(ps: ProtoPropertySet | null | undefined): Record<string, JsonValue> {
  const out: Record<string, JsonValue> = {};
  // Absent message fields read as null (protobufjs' prototype default).
  if (ps == null) return out;
  const keys = ps.keys ?? [];
  const values = ps.values ?? [];
  for (let i = 0; i < keys.length; i++) {
    const v = values[i];
    if (v === undefined) continue;
    try {
      out[keys[i]!] = propertyValue(v);
    } catch {
      // A property this agent cannot read is left out; the metric itself is still fine.
    }
  }
  return out;
}

function propertyValue(v: ProtoPropertyValue): JsonValue {
  if (v.is_null === true) return null;
  const type = v.type ?? 0;
  if (type === DataTypes.PropertySet) return propertySet(v.propertyset_value);
  if (type === DataTypes.PropertySetList) return (v.propertysets_value?.propertyset ?? []).map((s) => propertySet(s));
  if (type === DataTypes.DateTime || type === DataTypes.Int64 || type === DataTypes.UInt64) return scalarValue(v, type === DataTypes.Int64 ? type : DataTypes.UInt64);
  return scalarValue(v, type);
}
