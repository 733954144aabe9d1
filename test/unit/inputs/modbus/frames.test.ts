import { describe, expect, it } from 'vitest';
import { RtuAnswerScanner, TcpFrameReader, rtuRequestFrame, tcpAnswer, tcpRequestFrame } from '../../../../src/inputs/modbus/frames.js';

// Frames written out by hand from the Modbus spec (CRC-16/MODBUS, low byte first).
const READ_HOLDING_REQ = Buffer.from('010300000002c40b', 'hex'); // unit 1, fc 3, address 0, count 2
const ANSWER = Buffer.from('01030400ff0001', 'hex');

function withCrc(frame: Buffer): Buffer {
  let crc = 0xffff;
  for (const b of frame) {
    crc ^= b;
    for (let i = 0; i < 8; i++) crc = crc & 1 ? (crc >>> 1) ^ 0xa001 : crc >>> 1;
  }
  const out = Buffer.alloc(frame.length + 2);
  frame.copy(out);
  out.writeUInt16LE(crc, frame.length);
  return out;
}

describe('RTU frames', () => {
  const req = { unitId: 1, table: 'holding' as const, start: 0, count: 2 };

  it('builds the request the spec shows', () => {
    expect(rtuRequestFrame(req)).toEqual(READ_HOLDING_REQ);
  });

  it('finds the answer after garbage and across chunks, counting what it skipped', () => {
    const s = new RtuAnswerScanner(req);
    const answer = withCrc(ANSWER);
    expect(s.push(Buffer.concat([Buffer.from('ff0103', 'hex'), answer.subarray(0, 4)]))).toBeNull();
    expect(s.push(answer.subarray(4))).toEqual({ kind: 'data', data: Buffer.from('00ff0001', 'hex') });
    expect(s.garbage).toBe(3);
    expect(s.crcErrors).toBe(0);
  });

  it('counts a bad CRC and takes a good frame after it; reads exceptions', () => {
    const s = new RtuAnswerScanner(req);
    const bad = withCrc(ANSWER);
    bad[bad.length - 1] ^= 0xff;
    expect(s.push(bad)).toBeNull();
    expect(s.crcErrors).toBe(1);
    expect(s.push(withCrc(ANSWER))).toEqual({ kind: 'data', data: Buffer.from('00ff0001', 'hex') });
    expect(new RtuAnswerScanner(req).push(withCrc(Buffer.from('018302', 'hex')))).toEqual({ kind: 'exception', code: 2 });
  });

  it('ignores an answer from another unit or of the wrong length', () => {
    const s = new RtuAnswerScanner(req);
    expect(s.push(withCrc(Buffer.from('02030400ff0001', 'hex')))).toBeNull();
    expect(s.push(withCrc(Buffer.from('010302abcd', 'hex')))).toBeNull();
  });
});

describe('TCP frames', () => {
  it('builds MBAP requests and matches answers by transaction id and unit', () => {
    const req = { unitId: 7, table: 'input' as const, start: 16, count: 1 };
    expect(tcpRequestFrame(0x1234, req)).toEqual(Buffer.from('12340000000607040010' + '0001', 'hex'));
    const r = new TcpFrameReader();
    const frame = Buffer.from('1234000000050704020102', 'hex');
    expect(r.push(frame.subarray(0, 5))).toEqual([]);
    const [f] = r.push(frame.subarray(5));
    expect(f!.transactionId).toBe(0x1234);
    expect(tcpAnswer(f!, req)).toEqual({ kind: 'data', data: Buffer.from('0102', 'hex') });
    expect(tcpAnswer(f!, { ...req, unitId: 8 })).toBeNull();
    expect(() => new TcpFrameReader().push(Buffer.from('123400010005070402', 'hex'))).toThrow(/not a Modbus TCP frame/);
  });
});
