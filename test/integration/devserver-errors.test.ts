import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DevServer } from '../../src/devserver/index.js';
import { waitFor } from '../helpers/wait.js';
import { connect, envelope, frame, rawConnect, serverFrames, startServer } from '../helpers/devserver-harness.js';

let server: DevServer;

beforeAll(async () => {
  server = await startServer();
});
afterAll(async () => {
  await server.stop();
});

const READY = '{"message":"Authentication successful","type":"ready"}';
const GOOD = envelope('good', 'cols', 'x');

describe('envelope failures: no response, close 1008 policy violation, pipelined requests lost', () => {
  const cases: Array<[string, string]> = [
    ['not JSON', '{"id":"1","type":'],
    ['a JSON array', '["1","cols","x"]'],
    ['a JSON string', '"hello"'],
    ['id missing', '{"type":"cols","data":"x"}'],
    ['id empty', '{"id":"","type":"cols","data":"x"}'],
    ['id a number', '{"id":1,"type":"cols","data":"x"}'],
    ['type missing', '{"id":"1","data":"x"}'],
    ['type empty', '{"id":"1","type":"","data":"x"}'],
    ['data missing', '{"id":"1","type":"cols"}'],
    ['data empty', '{"id":"1","type":"cols","data":""}'],
    ['data an object', '{"id":"1","type":"qry","data":{"col":"c","ts":1}}'],
  ];
  it.each(cases)('%s', async (_name, text) => {
    const c = await connect(server);
    c.ws.send(text);
    c.ws.send(GOOD);
    expect(await c.closed).toEqual({ code: 1008, reason: 'policy violation' });
    expect(c.frames).toEqual([READY]);
  });
});

describe('payload failures: no response, close 1008', () => {
  const cases: Array<[string, string, unknown]> = [
    ['ins not an array', 'ins', { ts: 1, doc: 'd', data: 'x', col: 'c' }],
    ['ins holding a non-object', 'ins', [{ ts: 1, doc: 'd', data: 'x', col: 'c' }, 5]],
    ['ins holding an array', 'ins', [[1]]],
    ['ins payload not JSON', 'ins', '[{"ts":1'],
    ['qry ts 0', 'qry', { col: 'c', ts: 0 }],
    ['qry ts "abc"', 'qry', { col: 'c', ts: 'abc' }],
    ['qry no col', 'qry', { ts: 5 }],
    ['qry not an object', 'qry', [1]],
    ['qdoc to 0', 'qdoc', { col: 'c', doc: 'd', from: 0, to: 0 }],
    ['qdoc from > to', 'qdoc', { col: 'c', doc: 'd', from: 9, to: 5 }],
    ['qdoc no doc', 'qdoc', { col: 'c', from: 0, to: 5 }],
    ['qdoc no col', 'qdoc', { doc: 'd', from: 0, to: 5 }],
    ['drec empty doc', 'drec', { col: 'c', doc: '', ts: 5 }],
    ['drec ts 0', 'drec', { col: 'c', doc: 'd', ts: 0 }],
    ['dmrec not an array', 'dmrec', { col: 'c', doc: 'd', ts: 5 }],
    ['dmrec entry with empty col', 'dmrec', [{ col: 'c', doc: 'd', ts: 5 }, { col: '', doc: 'd', ts: 5 }]],
    ['drrng from > to', 'drrng', { col: 'c', doc: 'd', fromTs: 9, toTs: 5 }],
    ['drrng toTs 0', 'drrng', { col: 'c', doc: 'd', fromTs: 0, toTs: 0 }],
    ['drrng no doc', 'drrng', { col: 'c', fromTs: 1, toTs: 5 }],
    ['sval empty value', 'sval', { col: 'c', key: 'k', value: '' }],
    ['sval empty key', 'sval', { col: 'c', key: '', value: 'v' }],
    ['sval empty col', 'sval', { col: '', key: 'k', value: 'v' }],
    ['gval no key', 'gval', { col: 'c' }],
    ['gvalues no key', 'gvalues', { col: 'c' }],
    ['rval no key', 'rval', { col: 'c' }],
    ['gvals no col', 'gvals', { col: '' }],
    ['gkeys no col', 'gkeys', {}],
    ['ddoc payload not JSON', 'ddoc', 'nope'],
  ];
  it.each(cases)('%s', async (_name, type, payload) => {
    const c = await connect(server);
    c.send('bad', type, payload);
    c.ws.send(GOOD);
    expect(await c.closed).toEqual({ code: 1008, reason: 'policy violation' });
    expect(c.frames).toEqual([READY]);
  });

  it('a rejected ins batch stores nothing', async () => {
    const c = await connect(server);
    c.send('bad', 'ins', [{ ts: 1, doc: 'd', data: 'x', col: 'rejected-batch' }, 'oops']);
    await c.closed;
    expect(server.collections()).not.toContain('rejected-batch');
  });
});

describe('other rows of the error table', () => {
  it('answers an unknown (or wrongly cased) type without id, then closes 1008; later requests are lost', async () => {
    const c = await connect(server);
    c.ws.send(GOOD);
    c.ws.send(envelope('7', 'INS', []));
    c.ws.send(GOOD);
    expect(await c.closed).toEqual({ code: 1008, reason: 'policy violation' });
    expect(c.frames.slice(1)).toEqual([`{"id":"good","collections":${JSON.stringify(server.collections())}}`, '{"error":"Unknown message type"}']);
  });

  it('answers auth with an error and keeps the socket open', async () => {
    const c = await connect(server);
    expect(await c.call('auth', { key: 'x' }, 'a1')).toBe(
      '{"error":"auth messages are not supported; use the api-key query parameter","id":"a1"}',
    );
    expect(await c.call('gval', { col: 'none', key: 'k' })).toBe('{"id":"r","value":""}');
    c.close();
  });

  it('closes 1003 "text frames only" on a binary frame', async () => {
    const c = await connect(server);
    c.ws.send(Buffer.from(GOOD), { binary: true });
    c.ws.send(GOOD);
    expect(await c.closed).toEqual({ code: 1003, reason: 'text frames only' });
    expect(c.frames).toEqual([READY]);
  });

  it('cuts the TCP connection without a close frame on invalid UTF-8', async () => {
    const c = await connect(server);
    c.ws.send(GOOD);
    c.ws.send(Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), { binary: false });
    expect((await c.closed).code).toBe(1006);
    expect(c.frames).toHaveLength(2);
  });

  it('accepts a frame of exactly 16 MiB and cuts one byte more without a close frame', async () => {
    const limit = 16 * 1024 * 1024;
    const build = (size: number): string => {
      const shell = envelope('big', 'sval', { col: 'big', key: 'k', value: '' });
      return envelope('big', 'sval', { col: 'big', key: 'k', value: 'x'.repeat(size - shell.length) });
    };
    const exact = build(limit);
    expect(Buffer.byteLength(exact)).toBe(limit);
    const c = await connect(server);
    expect(await c.call('sval', JSON.parse(exact).data, 'big')).toBe('{"id":"big"}');
    expect(server.values('big').k).toHaveLength(limit - envelope('big', 'sval', { col: 'big', key: 'k', value: '' }).length);
    c.ws.send(build(limit + 1));
    expect((await c.closed).code).toBe(1006);
    expect(c.frames).toHaveLength(2);
  });

  it('cuts a message whose fragments add up to more than 16 MiB', async () => {
    const raw = await rawConnect(server);
    const half = Buffer.alloc(8 * 1024 * 1024, 0x61);
    raw.socket.write(frame(0x1, half, false));
    raw.socket.write(frame(0x0, Buffer.concat([half, Buffer.from('a')]), true));
    await raw.ended;
    expect(serverFrames(raw.received()).map((f) => f.opcode)).toEqual([0x1]);
  });
});

describe('response discard trap', () => {
  it('silently drops responses once more than 16 MiB wait unsent, and keeps the socket open', async () => {
    const writer = await connect(server);
    const value = 'v'.repeat(1024 * 1024);
    await writer.call('sval', { col: 'trap', key: 'big', value });
    await writer.call('sval', { col: 'trap', key: 'small', value: 's' });
    writer.close();

    const raw = await rawConnect(server);
    raw.socket.pause();
    const before = server.frameCounts.get('gval') ?? 0;
    const n = 60;
    for (let i = 0; i < n; i++) raw.socket.write(frame(0x1, Buffer.from(envelope(`g${i}`, 'gval', { col: 'trap', key: 'big' }))));
    await waitFor(() => (server.frameCounts.get('gval') ?? 0) === before + n, { what: 'the server to read every request' });
    raw.socket.resume();
    // Wait for the backlog to drain: a request sent while it is still over 16 MiB goes unanswered too.
    let seen = -1;
    await waitFor(
      async () => {
        await new Promise((r) => setTimeout(r, 200));
        const now = raw.received().length;
        const still = now === seen;
        seen = now;
        return still;
      },
      { what: 'the backlog to drain', timeoutMs: 20_000 },
    );
    raw.socket.write(frame(0x1, Buffer.from(envelope('after', 'gval', { col: 'trap', key: 'small' }))));
    await waitFor(() => raw.received().includes('"id":"after"'), { what: 'the answer after the trap', timeoutMs: 20_000 });
    const texts = serverFrames(raw.received()).filter((f) => f.opcode === 1).map((f) => f.payload.toString());
    const big = texts.filter((t) => t.startsWith('{"id":"g'));
    expect(big.length).toBeGreaterThan(0);
    expect(big.length).toBeLessThan(n);
    expect(big.map((t) => JSON.parse(t).id)).toEqual(big.map((_t, i) => `g${i}`));
    expect(texts.at(-1)).toBe('{"id":"after","value":"s"}');
    raw.socket.destroy();
  });
});

describe('idle timeout', () => {
  it('drops a socket that answers no ping, keeps one that does', async () => {
    const quick = await startServer({ idleTimeoutMs: 300 });
    try {
      const silent = await rawConnect(quick);
      const polite = await connect(quick);
      const t0 = Date.now();
      await silent.ended;
      expect(Date.now() - t0).toBeLessThan(2000);
      expect(serverFrames(silent.received()).some((f) => f.opcode === 0x9)).toBe(true);
      await new Promise((r) => setTimeout(r, 700));
      expect(await polite.call('cols', 'x')).toBe('{"id":"r","collections":[]}');
      polite.close();
    } finally {
      await quick.stop();
    }
  });
});
