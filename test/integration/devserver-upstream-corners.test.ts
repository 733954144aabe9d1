/**
 * The corners measured against the real FluxionDB server (issue 11 §4, the protocol page's
 * "Corners measured against the real server"): where the dev server used to be kinder than
 * upstream, tests passed on behaviour that fails in the field.
 */
import { constants, deflateRawSync } from 'node:zlib';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { DEFLATE_ANSWER } from '../../src/devserver/dev-server.js';
import { upstreamIp } from '../../src/devserver/peer-address.js';
import type { DevServer } from '../../src/devserver/index.js';
import { waitFor } from '../helpers/wait.js';
import { connect, envelope, frame, MASTER, rawConnect, serverFrames, startServer, TestClient } from '../helpers/devserver-harness.js';

let server: DevServer;
const opened: TestClient[] = [];
let colSeq = 0;

beforeAll(async () => {
  server = await startServer();
});
afterAll(async () => {
  await server.stop();
});
afterEach(() => {
  for (const c of opened.splice(0)) c.close();
});

async function client(key = MASTER): Promise<TestClient> {
  const c = await connect(server, key);
  opened.push(c);
  return c;
}

const READY = '{"message":"Authentication successful","type":"ready"}';
const GOOD = envelope('good', 'cols', 'x');

describe('deletes the server refuses: no answer, close 1008, requests behind lost', () => {
  const cases: Array<[string, string, unknown]> = [
    ['drrng fromTs 0', 'drrng', { col: 'c', doc: 'd', fromTs: 0, toTs: 5 }],
    ['drrng fromTs negative', 'drrng', { col: 'c', doc: 'd', fromTs: -3, toTs: 5 }],
    ['dcol without col', 'dcol', {}],
    ['dcol with an empty col', 'dcol', { col: '' }],
    ['ddoc without doc', 'ddoc', { col: 'c' }],
    ['ddoc without doc or col', 'ddoc', {}],
  ];
  it.each(cases)('%s', async (_name, type, payload) => {
    const c = await client();
    await c.call('ins', [{ ts: 1, doc: 'd', data: 'x', col: 'c' }]);
    c.send('bad', type, payload);
    c.ws.send(GOOD);
    expect(await c.closed).toEqual({ code: 1008, reason: 'policy violation' });
    expect(c.frames).toEqual([READY, '{"id":"r"}']);
    expect(server.records('c', 'd')).toEqual([{ ts: 1, data: 'x' }]);
  });
});

describe('conn reports IPv6 in full form, IPv4 peers IPv4-mapped', () => {
  it('answers 127.0.0.1 as 0000:0000:0000:0000:0000:ffff:7f00:0001', async () => {
    const c = await client();
    const answer = JSON.parse(await c.call('conn', 'x')) as { connections: Array<{ ip: string; self: boolean }> };
    expect(answer.connections.find((x) => x.self)!.ip).toBe('0000:0000:0000:0000:0000:ffff:7f00:0001');
  });

  it.each([
    ['127.0.0.1', '0000:0000:0000:0000:0000:ffff:7f00:0001'],
    ['::ffff:192.168.1.20', '0000:0000:0000:0000:0000:ffff:c0a8:0114'],
    ['::1', '0000:0000:0000:0000:0000:0000:0000:0001'],
    ['fe80::1:AB', 'fe80:0000:0000:0000:0000:0000:0001:00ab'],
    ['fe80::1%eth0', 'fe80:0000:0000:0000:0000:0000:0000:0001'],
    ['2001:db8:0:0:1:0:0:1', '2001:0db8:0000:0000:0001:0000:0000:0001'],
  ])('%s', (address, full) => {
    expect(upstreamIp(address)).toBe(full);
  });
});

describe('timestamps are int64, never rounded through a double', () => {
  async function stored(payload: string): Promise<string> {
    const col = `ts${++colSeq}`;
    const c = await client();
    expect(await c.call('ins', payload.replaceAll('COL', col))).toBe('{"id":"r"}');
    return c.call('qdoc', `{"col":"${col}","doc":"d","from":-9223372036854775808,"to":9223372036854775807}`);
  }

  it('keeps integers above 2^53 exactly, wraps uint64 max to -1, sends 1e300 to int64 min', async () => {
    const answer = await stored(
      '[{"ts":9223372036854775807,"doc":"d","data":"max","col":"COL"},' +
        '{"ts":18446744073709551615,"doc":"d","data":"u64max","col":"COL"},' +
        '{"ts":1e300,"doc":"d","data":"huge","col":"COL"},' +
        '{"ts":9007199254740993,"doc":"d","data":"2^53+1","col":"COL"},' +
        '{"ts":9007199254740992,"doc":"d","data":"2^53","col":"COL"},' +
        '{"ts":18446744073709551616,"doc":"d","data":"2^64","col":"COL"}]',
    );
    // 2^64 no longer fits uint64: upstream read it as a double, so it lands on int64 min too
    // and overwrites "huge" (same identity, last one wins).
    expect(answer).toBe(
      '{"id":"r","records":[{"ts":-9223372036854775808,"data":"2^64"},{"ts":-1,"data":"u64max"},' +
        '{"ts":9007199254740992,"data":"2^53"},{"ts":9007199254740993,"data":"2^53+1"},{"ts":9223372036854775807,"data":"max"}]}',
    );
  });

  it('truncates floats and numeric strings, and stores a missing ts as 0', async () => {
    const answer = await stored(
      '[{"ts":1500.7,"doc":"d","data":"float","col":"COL"},{"ts":"17abc","doc":"d","data":"string","col":"COL"},' +
        '{"doc":"d","data":"missing","col":"COL"},{"ts":-2.9,"doc":"d","data":"negative","col":"COL"},' +
        '{"ts":"9223372036854775806x","doc":"d","data":"big string","col":"COL"}]',
    );
    expect(answer).toBe(
      '{"id":"r","records":[{"ts":-2,"data":"negative"},{"ts":0,"data":"missing"},{"ts":17,"data":"string"},' +
        '{"ts":1500,"data":"float"},{"ts":9223372036854775806,"data":"big string"}]}',
    );
  });

  it('qry, drec and drrng take exact int64 bounds too', async () => {
    const col = `ts${++colSeq}`;
    const c = await client();
    await c.call('ins', `[{"ts":9007199254740993,"doc":"d","data":"a","col":"${col}"},{"ts":9007199254740995,"doc":"d","data":"b","col":"${col}"},{"ts":9007199254740997,"doc":"d","data":"c","col":"${col}"}]`);
    expect(await c.call('qry', `{"col":"${col}","ts":9007199254740994}`)).toBe('{"id":"r","records":{"d":{"ts":9007199254740993,"data":"a"}}}');
    expect(await c.call('drec', `{"col":"${col}","doc":"d","ts":9007199254740997}`)).toBe('{"id":"r"}');
    expect(await c.call('drrng', `{"col":"${col}","doc":"d","fromTs":9007199254740994,"toTs":9007199254740995}`)).toBe('{"id":"r"}');
    expect(server.records(col, 'd')).toEqual([{ ts: 9007199254740993n, data: 'a' }]);
  });
});

describe('ins stores what is not a string as ""', () => {
  it('data that is an object, a number or missing; a numeric doc', async () => {
    const col = `data${++colSeq}`;
    const c = await client();
    expect(
      await c.call('ins', [
        { ts: 1, doc: 'd', data: { v: 1 }, col },
        { ts: 2, doc: 'd', data: 42, col },
        { ts: 3, doc: 'd', col },
        { ts: 4, doc: 7, data: 'numeric doc', col },
        { ts: 5, doc: 'd', data: 'kept', col },
      ]),
    ).toBe('{"id":"r"}');
    expect(server.records(col, 'd')).toEqual([{ ts: 1, data: '' }, { ts: 2, data: '' }, { ts: 3, data: '' }, { ts: 5, data: 'kept' }]);
    expect(server.records(col, '')).toEqual([{ ts: 4, data: 'numeric doc' }]);
    expect(server.documents(col).sort()).toEqual(['', 'd']);
  });
});

describe('key management corners', () => {
  it('a non-master key of any scope is denied', async () => {
    const admin = await client();
    await admin.call('keys', { action: 'add', key: 'rwd', scope: 'read_write_delete' });
    const other = await client('rwd');
    expect(await other.call('keys', { action: 'add', key: 'x', scope: 'readonly' })).toBe('{"error":"permission denied","id":"r"}');
    expect(await other.call('keys', { action: 'list' })).toBe('{"error":"permission denied","id":"r"}');
  });

  it('remove without a key answers api key not found', async () => {
    const admin = await client();
    expect(await admin.call('keys', { action: 'remove' })).toBe('{"error":"api key not found","id":"r"}');
  });

  it('adding the master key answers ok with the scope asked and changes nothing', async () => {
    const admin = await client();
    expect(await admin.call('keys', { action: 'add', key: MASTER, scope: 'readonly' })).toBe('{"id":"r","scope":"readonly","status":"ok"}');
    const list = JSON.parse(await admin.call('keys', { action: 'list' })) as { keys: Array<{ key: string; scope: string }> };
    expect(list.keys.find((k) => k.key === MASTER)!.scope).toBe('read_write_delete');
    expect(await admin.call('dcol', { col: 'no-such-col' })).toBe('{"id":"r"}');
  });
});

describe('permessage-deflate', () => {
  it.each([
    ['a bare offer', 'permessage-deflate'],
    ['ws\'s default offer', 'permessage-deflate; client_max_window_bits'],
    ['an offer with parameters', 'permessage-deflate; server_no_context_takeover; client_max_window_bits'],
  ])('answers upstream\'s exact header to %s', async (_name, offer) => {
    const raw = await rawConnect(server, MASTER, `Sec-WebSocket-Extensions: ${offer}\r\n`);
    const line = raw.handshake.split('\r\n').find((l) => /^sec-websocket-extensions:/i.test(l));
    expect(line).toBe(`Sec-WebSocket-Extensions: ${DEFLATE_ANSWER}`);
    expect(DEFLATE_ANSWER).toBe('permessage-deflate; client_no_context_takeover; server_no_context_takeover');
    raw.socket.destroy();
  });

  it('cuts the TCP connection without a close frame when a compressed frame inflates past 16 MiB', async () => {
    const limit = 16 * 1024 * 1024;
    const shell = envelope('big', 'sval', { col: 'zip', key: 'k', value: '' });
    const build = (size: number): Buffer => Buffer.from(envelope('big', 'sval', { col: 'zip', key: 'k', value: 'x'.repeat(size - shell.length) }));
    const raw = await rawConnect(server, MASTER, 'Sec-WebSocket-Extensions: permessage-deflate\r\n');
    // A compressed frame (RSV1) that inflates to exactly 16 MiB is taken...
    raw.socket.write(compressedFrame(build(limit)));
    await waitFor(() => serverFrames(raw.received()).length === 2, { what: 'the answer to 16 MiB inflated' });
    expect(serverFrames(raw.received())[1]!.payload.toString()).toBe('{"id":"big"}');
    // ...one byte more is cut: no close frame (opcode 8) ever arrives.
    raw.socket.write(compressedFrame(build(limit + 1)));
    await raw.ended;
    expect(serverFrames(raw.received()).map((f) => f.opcode)).toEqual([0x1, 0x1]);
  });

  it('the ws client sees 1006, not 1009, and the requests in flight are lost', async () => {
    const ws = new WebSocket(`${server.url}/?api-key=${MASTER}`, { perMessageDeflate: { threshold: 0 } });
    const c = new TestClient(ws);
    opened.push(c);
    await c.responses(0);
    c.send('big', 'sval', { col: 'zip2', key: 'k', value: 'y'.repeat(16 * 1024 * 1024) });
    c.ws.send(GOOD);
    expect((await c.closed).code).toBe(1006);
    expect(c.frames).toEqual([READY]);
    expect(server.values('zip2')).toEqual({});
  });
});

/** A masked text frame whose payload is deflated (RSV1 set), as permessage-deflate sends it. */
function compressedFrame(text: Buffer): Buffer {
  // RFC 7692: a sync flush, its trailing 00 00 ff ff dropped.
  const deflated = deflateRawSync(text, { finishFlush: constants.Z_SYNC_FLUSH });
  const f = frame(0x1, deflated.subarray(0, deflated.length - 4));
  f[0]! |= 0x40;
  return f;
}
