/**
 * Sparkplug B payloads through protobufjs and the Tahu schema: decode what edge nodes send,
 * encode the few messages the agent sends itself (the rebirth request). Field names are the
 * schema's own (`keepCase`), so `int_value`, `is_null`, `template_value` read as in the spec.
 *
 * A decoded message holds only the fields present on the wire as own properties (absent
 * ones fall back to the prototype's defaults), so presence is tested with `has()`.
 */
import protobuf from 'protobufjs';
import { SPARKPLUG_B_PROTO } from './sparkplug-b-proto.js';

/** A 64-bit field as protobufjs hands it: a Long (low and high 32 bits), or a plain number. */
export type Wire64 = number | { low: number; high: number; unsigned: boolean };

export interface ProtoPropertyValue extends ProtoScalarHolder {
  type?: number;
  is_null?: boolean;
  propertyset_value?: ProtoPropertySet;
  propertysets_value?: { propertyset?: ProtoPropertySet[] };
}

export interface ProtoPropertySet {
  keys?: string[];
  values?: ProtoPropertyValue[];
}

export interface ProtoDataSet {
  num_of_columns?: Wire64;
  columns?: string[];
  types?: number[];
  rows?: Array<{ elements?: ProtoScalarHolder[] }>;
}

/** The value fields a metric, a data set cell or a template parameter may carry. */
export interface ProtoScalarHolder {
  int_value?: number;
  long_value?: Wire64;
  float_value?: number;
  double_value?: number;
  boolean_value?: boolean;
  string_value?: string;
}

export interface ProtoTemplate {
  version?: string;
  metrics?: ProtoMetric[];
  template_ref?: string;
  is_definition?: boolean;
}

export interface ProtoMetric extends ProtoScalarHolder {
  name?: string;
  alias?: Wire64;
  timestamp?: Wire64;
  datatype?: number;
  is_historical?: boolean;
  is_transient?: boolean;
  is_null?: boolean;
  properties?: ProtoPropertySet;
  bytes_value?: Uint8Array;
  dataset_value?: ProtoDataSet;
  template_value?: ProtoTemplate;
}

export interface ProtoPayload {
  timestamp?: Wire64;
  metrics?: ProtoMetric[];
  seq?: Wire64;
  uuid?: string;
  body?: Uint8Array;
}

const root = protobuf.parse(SPARKPLUG_B_PROTO, { keepCase: true }).root;
const PayloadType = root.lookupType('org.eclipse.tahu.protobuf.Payload');

// The `oneof value` groups only say that one value field is set; on the wire they are plain
// optional fields. Decoded as oneofs, protobufjs deletes the nine sibling fields on every
// metric it reads, which took a third of the decode time (measured, bench/sparkplug); read
// as plain optional fields instead (the data type decides which one is used anyway).
for (const name of ['Metric', 'PropertyValue', 'DataSet.DataSetValue', 'Template.Parameter']) {
  const type = PayloadType.lookupType(name);
  for (const oneof of [...type.oneofsArray]) {
    for (const field of oneof.fieldsArray) field.partOf = null;
    oneof.fieldsArray.length = 0;
    oneof.oneof.length = 0;
    type.remove(oneof);
  }
}

/** True when the field was on the wire (not a default from the prototype). */
export function has<T extends object>(m: T, field: keyof T & string): boolean {
  return Object.prototype.hasOwnProperty.call(m, field);
}

/** Decodes a payload; throws (a protobufjs error) on bytes that are not one. */
export function decodePayload(bytes: Uint8Array): ProtoPayload {
  return PayloadType.decode(bytes) as unknown as ProtoPayload;
}

/** Sparkplug data types (the schema's DataType enum), by number. */
export const DataTypes = {
  Unknown: 0, Int8: 1, Int16: 2, Int32: 3, Int64: 4, UInt8: 5, UInt16: 6, UInt32: 7, UInt64: 8,
  Float: 9, Double: 10, Boolean: 11, String: 12, DateTime: 13, Text: 14, UUID: 15, DataSet: 16,
  Bytes: 17, File: 18, Template: 19, PropertySet: 20, PropertySetList: 21,
  Int8Array: 22, Int16Array: 23, Int32Array: 24, Int64Array: 25, UInt8Array: 26, UInt16Array: 27,
  UInt32Array: 28, UInt64Array: 29, FloatArray: 30, DoubleArray: 31, BooleanArray: 32,
  StringArray: 33, DateTimeArray: 34,
} as const;

const NAMES: string[] = [];
for (const [name, n] of Object.entries(DataTypes)) NAMES[n] = name;

/** The name of a data type number (`Int16`), or `Unknown(<n>)`. */
export function dataTypeName(n: number): string {
  return NAMES[n] ?? `Unknown(${n})`;
}

/**
 * Encodes an NCMD asking an edge node to publish its births again (`Node Control/Rebirth`
 * = true), as a primary host application does when it lost track of the node's aliases.
 */
export function encodeRebirthRequest(timestampMs: number): Uint8Array {
  const msg = PayloadType.fromObject({
    timestamp: timestampMs,
    metrics: [{ name: 'Node Control/Rebirth', timestamp: timestampMs, datatype: DataTypes.Boolean, boolean_value: true }],
  });
  return PayloadType.encode(msg).finish();
}
