/**
 * An independent Sparkplug B encoder for tests: Eclipse Tahu's `sparkplug-payload` (its own
 * protobufjs 6 generated code), never the agent's decoder. Arrays (Sparkplug 3.0) are not
 * in that package, so they are packed here by hand, per the specification, into the raw
 * generated message.
 */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

interface TahuPayloadCodec {
  encodePayload(p: unknown): Uint8Array;
  decodePayload(b: Uint8Array): unknown;
}
interface RawMessageType {
  decode(b: Uint8Array): Record<string, unknown> & { metrics: Array<Record<string, unknown>> };
  encode(m: unknown): { finish(): Uint8Array };
  fromObject(o: unknown): unknown;
}

const codec = (require('sparkplug-payload') as { get(ns: string): TahuPayloadCodec }).get('spBv1.0');
const RawPayload = (require('sparkplug-payload/lib/sparkplugPayloadProto') as { org: { eclipse: { tahu: { protobuf: { Payload: RawMessageType } } } } }).org.eclipse.tahu.protobuf.Payload;
export const Long = require('long') as { fromString(s: string, unsigned?: boolean): unknown };

/** Tahu's object form: `{ timestamp, seq, metrics: [{ name, alias, type, value, timestamp, isHistorical }] }`. */
export function encodeTahu(payload: unknown): Buffer {
  return Buffer.from(codec.encodePayload(payload));
}

/**
 * Re-encodes a payload with every metric's name and datatype removed (alias only), as edge
 * nodes send data after their birth; and with the given raw metrics (arrays) appended.
 */
export function aliasOnly(bytes: Uint8Array, extra: Array<Record<string, unknown>> = []): Buffer {
  const m = RawPayload.decode(bytes);
  const metrics = m.metrics.map((x) => {
    const o = { ...x } as Record<string, unknown>;
    delete o.name;
    delete o.datatype;
    return o;
  });
  return Buffer.from(RawPayload.encode(RawPayload.fromObject({ ...toPlain(m), metrics: [...metrics.map(toPlain), ...extra] })).finish());
}

/** Appends raw metrics (e.g. arrays) to a Tahu-encoded payload. */
export function withRawMetrics(bytes: Uint8Array, extra: Array<Record<string, unknown>>): Buffer {
  const m = RawPayload.decode(bytes);
  return Buffer.from(RawPayload.encode(RawPayload.fromObject({ ...toPlain(m), metrics: [...m.metrics.map(toPlain), ...extra] })).finish());
}

function toPlain(x: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(x)) out[k] = x[k];
  return out;
}

/** Birth metrics of every scalar type (aliases 1-15), with values at their limits, in Tahu's object form. */
export function scalarBirthMetrics(t0: number): unknown[] {
  return [
    { name: 'i8', alias: 1, type: 'Int8', value: -5 },
    { name: 'i16', alias: 2, type: 'Int16', value: -300 },
    { name: 'i32', alias: 3, type: 'Int32', value: -70000 },
    { name: 'i64', alias: 4, type: 'Int64', value: Long.fromString('-9007199254740993') },
    { name: 'u8', alias: 5, type: 'UInt8', value: 250 },
    { name: 'u16', alias: 6, type: 'UInt16', value: 65000 },
    { name: 'u32', alias: 7, type: 'UInt32', value: 4_000_000_000 },
    { name: 'u64', alias: 8, type: 'UInt64', value: Long.fromString('18446744073709551615', true) },
    { name: 'f', alias: 9, type: 'Float', value: 21.7, properties: { engUnit: { type: 'String', value: '°C' } } },
    { name: 'd', alias: 10, type: 'Double', value: 3.141592653589793 },
    { name: 'b', alias: 11, type: 'Boolean', value: true },
    { name: 's', alias: 12, type: 'String', value: 'hello' },
    { name: 'dt', alias: 13, type: 'DateTime', value: t0 - 5 },
    { name: 'txt', alias: 14, type: 'Text', value: 'a longer text' },
    { name: 'id', alias: 15, type: 'UUID', value: '123e4567-e89b-12d3-a456-426614174000' },
  ];
}

/** The values of scalarBirthMetrics as the agent writes them. */
export function scalarBirthData(t0: number): Record<string, unknown> {
  return {
    i8: -5, i16: -300, i32: -70000, i64: '-9007199254740993', u8: 250, u16: 65000, u32: 4000000000,
    u64: '18446744073709551615', f: 21.7, d: 3.141592653589793, b: true, s: 'hello', dt: t0 - 5, txt: 'a longer text',
    id: '123e4567-e89b-12d3-a456-426614174000',
  };
}

/** Sparkplug 3.0 array metrics, packed little-endian by hand (type numbers 22-34). */
export const ArrayTypes = {
  Int8Array: 22, Int16Array: 23, Int32Array: 24, Int64Array: 25, UInt8Array: 26, UInt16Array: 27, UInt32Array: 28,
  UInt64Array: 29, FloatArray: 30, DoubleArray: 31, BooleanArray: 32, StringArray: 33, DateTimeArray: 34,
} as const;

export function packArray(type: number, values: ReadonlyArray<number | bigint | boolean | string>): Buffer {
  const sizes: Record<number, number> = { 22: 1, 23: 2, 24: 4, 25: 8, 26: 1, 27: 2, 28: 4, 29: 8, 30: 4, 31: 8, 34: 8 };
  if (type === ArrayTypes.StringArray) return Buffer.concat(values.map((v) => Buffer.from(`${String(v)}\0`, 'utf8')));
  if (type === ArrayTypes.BooleanArray) {
    const b = Buffer.alloc(4 + Math.ceil(values.length / 8));
    b.writeUInt32LE(values.length, 0);
    values.forEach((v, i) => {
      if (v === true) b[4 + (i >> 3)]! |= 0x80 >> (i & 7);
    });
    return b;
  }
  const size = sizes[type]!;
  const b = Buffer.alloc(size * values.length);
  values.forEach((v, i) => {
    const o = i * size;
    switch (type) {
      case 22: b.writeInt8(Number(v), o); break;
      case 23: b.writeInt16LE(Number(v), o); break;
      case 24: b.writeInt32LE(Number(v), o); break;
      case 25: b.writeBigInt64LE(BigInt(v as number | bigint), o); break;
      case 26: b.writeUInt8(Number(v), o); break;
      case 27: b.writeUInt16LE(Number(v), o); break;
      case 28: b.writeUInt32LE(Number(v), o); break;
      case 29: case 34: b.writeBigUInt64LE(BigInt(v as number | bigint), o); break;
      case 30: b.writeFloatLE(Number(v), o); break;
      case 31: b.writeDoubleLE(Number(v), o); break;
    }
  });
  return b;
}

/** The parts of Tahu's `sparkplug-client` (an edge node on its own mqtt.js 4 connection) the tests use. */
export interface TahuEdgeNode {
  seq: number;
  bdSeq: number;
  client: { publish(topic: string, msg: Buffer, opts?: unknown, cb?: unknown): unknown; end(force?: boolean): unknown };
  publishNodeBirth(p: unknown): void;
  publishNodeData(p: unknown): void;
  publishDeviceBirth(device: string, p: unknown): void;
  publishDeviceData(device: string, p: unknown): void;
  publishDeviceDeath(device: string, p: unknown): void;
  stop(): void;
  on(event: 'birth' | 'connect' | 'close', fn: () => void): unknown;
  on(event: 'ncmd', fn: (payload: { metrics?: Array<{ name?: string; value?: unknown }> }) => void): unknown;
  encodePayload(p: unknown): Uint8Array;
}

/**
 * Starts an edge node with Eclipse Tahu's client. Its publishes are made QoS 1 (the
 * specification has nodes publish data at QoS 0 and store and forward themselves; QoS 1
 * lets the broker keep what the agent misses while it is down, which is what the tests
 * check). A payload with a `raw` list gets those raw metrics (arrays) appended.
 */
export function startEdgeNode(opts: { url: string; group: string; node: string; publishDeath?: boolean }): TahuEdgeNode {
  const { newClient } = require('sparkplug-client') as { newClient(config: Record<string, unknown>): TahuEdgeNode };
  const node = newClient({
    serverUrl: opts.url,
    username: '',
    password: '',
    clientId: `edge-${opts.node}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`,
    groupId: opts.group,
    edgeNode: opts.node,
    publishDeath: opts.publishDeath ?? false,
    version: 'spBv1.0',
  });
  const mq = node.client;
  const publish = mq.publish.bind(mq);
  mq.publish = (topic: string, msg: Buffer, o?: unknown, cb?: unknown) => publish(topic, msg, { qos: 1, ...((o as object | undefined) ?? {}) }, cb);
  const encode = node.encodePayload.bind(node);
  node.encodePayload = (p: unknown) => {
    const raw = (p as { raw?: Array<Record<string, unknown>> }).raw;
    const bytes = encode(p);
    return raw === undefined ? bytes : withRawMetrics(bytes, raw);
  };
  return node;
}
