/**
 * Modbus frames, built and parsed with the `jsmodbus` library (PDU bodies, RTU and MBAP
 * framing) and `crc` (the RTU CRC-16): this file only adapts them to what the buses need.
 * RTU answers are found in a byte stream that may hold garbage (line noise, a late answer
 * to an earlier request, another device's echo): `RtuAnswerScanner` looks for a frame from
 * the expected unit with the expected function code whose CRC holds.
 */
import { crc16modbus } from 'crc';
import jsmodbus from 'jsmodbus';
import type { ModbusTable } from './types.js';

// A CommonJS package whose class exports Node's ESM loader cannot list by name.
const { ModbusRTURequest, ModbusRTUResponse, ModbusTCPRequest, ModbusTCPResponse, requests } = jsmodbus;

/** One read: function 1-4 over a range, or 43/14 (Read Device Identification, basic objects). */
export type ModbusRequest = { unitId: number; table: ModbusTable; start: number; count: number } | { unitId: number; identification: true };

export type ModbusAnswer =
  | { kind: 'data'; data: Buffer }
  | { kind: 'exception'; code: number }
  | { kind: 'identification'; objects: Array<{ id: number; value: string }> };

const FUNCTION_OF: Record<ModbusTable, number> = { coil: 1, discrete: 2, holding: 3, input: 4 };
const IDENTIFICATION_FC = 0x2b;

export function functionCode(req: ModbusRequest): number {
  return 'identification' in req ? IDENTIFICATION_FC : FUNCTION_OF[req.table];
}

function requestBody(req: ModbusRequest) {
  if ('identification' in req) return new requests.ReadDeviceIdentificationRequestBody(1, 0);
  switch (req.table) {
    case 'coil':
      return new requests.ReadCoilsRequestBody(req.start, req.count);
    case 'discrete':
      return new requests.ReadDiscreteInputsRequestBody(req.start, req.count);
    case 'holding':
      return new requests.ReadHoldingRegistersRequestBody(req.start, req.count);
    case 'input':
      return new requests.ReadInputRegistersRequestBody(req.start, req.count);
  }
}

export function rtuRequestFrame(req: ModbusRequest): Buffer {
  return new ModbusRTURequest(req.unitId, requestBody(req)).createPayload();
}

export function tcpRequestFrame(transactionId: number, req: ModbusRequest): Buffer {
  const body = requestBody(req);
  return new ModbusTCPRequest(transactionId, 0, body.byteCount + 1, req.unitId, body).createPayload();
}

/** Bytes of the RTU answer to `req` when it carries data (for pacing and the wire limit). */
export function rtuAnswerBytes(req: ModbusRequest): number {
  if ('identification' in req) return 64;
  const dataBytes = req.table === 'coil' || req.table === 'discrete' ? Math.ceil(req.count / 8) : req.count * 2;
  return 5 + dataBytes;
}

/** The answer a parsed response body gives to `req`, or null when it does not fit the request. */
function answerOf(body: unknown, req: ModbusRequest): ModbusAnswer | null {
  const b = body as { fc: number; isException: boolean; code?: number; valuesAsBuffer?: Buffer; objects?: Array<{ id: number; value: Buffer }> };
  if (b.isException) return { kind: 'exception', code: b.code ?? 0 };
  if (b.fc !== functionCode(req)) return null;
  if ('identification' in req) return { kind: 'identification', objects: (b.objects ?? []).map((o) => ({ id: o.id, value: o.value.toString('latin1') })) };
  const data = b.valuesAsBuffer;
  if (data === undefined) return null;
  const want = req.table === 'coil' || req.table === 'discrete' ? Math.ceil(req.count / 8) : req.count * 2;
  return data.length === want ? { kind: 'data', data: Buffer.from(data) } : null;
}

const MAX_RTU_BUFFER = 512;

/**
 * Collects the bytes read after an RTU request until they hold the answer. Counts the bytes
 * skipped before it (garbage) and candidate frames whose CRC failed.
 */
export class RtuAnswerScanner {
  private buf = Buffer.alloc(0);
  private readonly fc: number;
  private readonly badCrcAt = new Set<number>();
  garbage = 0;

  constructor(private readonly req: ModbusRequest) {
    this.fc = functionCode(req);
  }

  get crcErrors(): number {
    return this.badCrcAt.size;
  }

  /** Bytes read so far that are not part of an answer. */
  get pending(): number {
    return this.buf.length;
  }

  push(chunk: Buffer): ModbusAnswer | null {
    this.buf = this.buf.length === 0 ? Buffer.from(chunk) : Buffer.concat([this.buf, chunk]);
    if (this.buf.length > MAX_RTU_BUFFER) {
      const drop = this.buf.length - MAX_RTU_BUFFER;
      this.garbage += drop;
      this.buf = this.buf.subarray(drop);
      this.badCrcAt.clear();
    }
    for (let i = 0; i + 4 < this.buf.length; i++) {
      if (this.buf[i] !== this.req.unitId || (this.buf[i + 1]! & 0x7f) !== this.fc) continue;
      const frame = this.buf.subarray(i);
      const res = ModbusRTUResponse.fromBuffer(frame);
      if (res === null) continue;
      const len = res.byteCount;
      if (crc16modbus(frame.subarray(0, len - 2)) !== frame.readUInt16LE(len - 2)) {
        this.badCrcAt.add(i);
        continue;
      }
      const answer = answerOf(res.body, this.req);
      if (answer === null) continue;
      this.garbage += i;
      this.buf = Buffer.alloc(0);
      return answer;
    }
    return null;
  }
}

/** A TCP answer, matched to its request by transaction id. */
export interface TcpFrame {
  transactionId: number;
  unitId: number;
  /** The parsed PDU body (jsmodbus), turned into an answer by `tcpAnswer`. */
  body: unknown;
}

/** MBAP frames out of a TCP byte stream. Throws on a frame that is not Modbus (protocol id not 0, absurd length). */
export class TcpFrameReader {
  private buf = Buffer.alloc(0);

  push(chunk: Buffer): TcpFrame[] {
    this.buf = this.buf.length === 0 ? Buffer.from(chunk) : Buffer.concat([this.buf, chunk]);
    const out: TcpFrame[] = [];
    while (this.buf.length >= 7) {
      const protocol = this.buf.readUInt16BE(2);
      const length = this.buf.readUInt16BE(4);
      if (protocol !== 0 || length < 2 || length > 254) throw new Error(`not a Modbus TCP frame (protocol ${protocol}, length ${length})`);
      if (this.buf.length < 6 + length) break;
      const frame = this.buf.subarray(0, 6 + length);
      this.buf = this.buf.subarray(6 + length);
      const res = ModbusTCPResponse.fromBuffer(Buffer.from(frame));
      if (res === null) throw new Error('a Modbus TCP frame with an unreadable body');
      out.push({ transactionId: res.id, unitId: res.unitId, body: res.body });
    }
    return out;
  }
}

export function tcpAnswer(frame: TcpFrame, req: ModbusRequest): ModbusAnswer | null {
  if (frame.unitId !== req.unitId) return null;
  return answerOf(frame.body, req);
}

/** Names of the exception codes, for logs and `modbus read`. */
export const EXCEPTION_NAMES: Record<number, string> = {
  1: 'illegal function',
  2: 'illegal data address',
  3: 'illegal data value',
  4: 'server device failure',
  5: 'acknowledge',
  6: 'server device busy',
  8: 'memory parity error',
  10: 'gateway path unavailable',
  11: 'gateway target device failed to respond',
};
