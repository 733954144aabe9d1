/**
 * Options of the Modbus input (camelCase; the config layer maps each `modbus:` bus onto
 * them) and its status. Addresses here are always protocol addresses (0-based): the config
 * layer has already resolved `ref: 40001`-style references.
 */
import type { InputStatus } from '../types.js';

export type ModbusTable = 'coil' | 'discrete' | 'holding' | 'input';
export type ModbusValueType = 'bool' | 'int16' | 'uint16' | 'int32' | 'uint32' | 'int64' | 'uint64' | 'float32' | 'float64' | 'string';
export type Endianness = 'big' | 'little';

export interface RegisterSpec {
  /** Field name in the record's data (or the metadata key). */
  name: string;
  table: ModbusTable;
  /** Protocol address, 0-based. */
  address: number;
  type: ModbusValueType;
  /** Order of the two bytes inside each register: `big` (AB) or `little` (BA). */
  byteOrder: Endianness;
  /** Order of the registers of a multi-register value: `big` (high word first) or `little`. */
  wordOrder: Endianness;
  /** One bit of a 16-bit register (0 = least significant), read as a bool. */
  bit?: number;
  /** Registers of a string (two characters each). */
  length?: number;
  /** value * scale + offset (numeric types). Default 1 and 0. */
  scale: number;
  offset: number;
  /** Engineering unit, kept as device metadata (`unit.<name>`). */
  unit?: string;
  /** `records`: in the reading; `metadata`: to the key/value store (changes only). */
  kind: 'records' | 'metadata';
}

export interface ModbusDeviceOptions {
  /** Device name within its bus (default `unit-<id>`). */
  name: string;
  unitId: number;
  /** The `port` its mapping rules listen to: `modbus:<bus>:<device>`. */
  ruleKey: string;
  /** The rendered document name, when it has no payload placeholder: the device in metadata. */
  document: string | null;
  intervalMs: number;
  maxRegistersPerRequest: number;
  maxCoilsPerRequest: number;
  /** Largest run of unconfigured registers (or coils) read to merge two blocks. */
  maxGap: number;
  /** Read Device Identification (function 43/14) once per connection, as metadata. */
  identification: boolean;
  registers: RegisterSpec[];
}

export interface ModbusBusOptions {
  name: string;
  transport: 'rtu' | 'tcp';
  /** RTU: serial device path. */
  path?: string;
  baudRate: number;
  dataBits: 5 | 6 | 7 | 8;
  parity: 'none' | 'even' | 'odd' | 'mark' | 'space';
  stopBits: 1 | 1.5 | 2;
  /** TCP: gateway or device. */
  host?: string;
  port?: number;
  /** Per request, in ms. */
  timeoutMs: number;
  /** Further attempts of a request after a timeout or a corrupt answer (not after an exception). */
  retries: number;
  /** RTU: the silent interval between frames, in ms; 0 = 3.5 characters at the baud rate (1.75 ms above 19,200). */
  silentIntervalMs: number;
  /** TCP: requests in flight at once on the connection. */
  maxOutstanding: number;
  /** Consecutive failed polls after which a device is offline. */
  offlineAfter: number;
  /** Longest delay between polls of an offline device, in ms. */
  offlineRetryCapMs: number;
  /** Reopen (RTU) or reconnect (TCP) backoff, in ms. */
  reconnectBaseMs: number;
  reconnectCapMs: number;
  reconnectResetAfterMs: number;
  devices: ModbusDeviceOptions[];
}

/** Counters of one device (and summed for the bus). */
export interface ModbusCounters {
  polls: number;
  /** Polls skipped because the previous one overran the interval. */
  skipped: number;
  /** Polls that produced no reading (every block failed). */
  failedPolls: number;
  requests: number;
  timeouts: number;
  crcErrors: number;
  /** Bytes on the line that belonged to no answer. */
  garbage: number;
  /** Modbus exception answers, by code (1 illegal function, 2 illegal data address, ...). */
  exceptions: Record<string, number>;
  /** Readings the queue refused (full); the poll's values are dropped, the next poll comes. */
  queueRefused: number;
}

export interface ModbusDeviceStatus {
  name: string;
  unitId: number;
  state: 'online' | 'offline' | 'unknown';
  lastPollAt: number | null;
  lastError: string | null;
  /** Registers the device refused alone (illegal data address): left out of its readings. */
  unreadable: string[];
  /** Blocks read per poll (after remembered splits). */
  blocks: number;
  counters: ModbusCounters;
  /** The same faults per request range (`holding 0+10`), for the blocks that had any. */
  blockFaults: Array<{ block: string; timeouts: number; crcErrors: number; exceptions: Record<string, number> }>;
}

export interface ModbusInputStatus extends InputStatus {
  bus: string;
  transport: 'rtu' | 'tcp';
  /** `open`/`connected`, or `waiting` for the adapter or the gateway. */
  link: 'open' | 'waiting' | 'closed';
  reopens: number;
  /** RTU: bytes read while no request waited (noise, late answers); TCP: answers to no request in flight. */
  strayBytes: number;
  devices: ModbusDeviceStatus[];
}

export function emptyCounters(): ModbusCounters {
  return { polls: 0, skipped: 0, failedPolls: 0, requests: 0, timeouts: 0, crcErrors: 0, garbage: 0, exceptions: {}, queueRefused: 0 };
}
