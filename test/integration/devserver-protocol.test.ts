import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { DevServer } from '../../src/devserver/index.js';
import { WebSocket } from 'ws';
import { waitFor } from '../helpers/wait.js';
import { connect, envelope, frame, MASTER, rawConnect, refusal, serverFrames, startServer, TestClient } from '../helpers/devserver-harness.js';

let server: DevServer;
let client: TestClient;
let colSeq = 0;
/** A fresh collection name per test: the server is shared. */
let col: string;

beforeAll(async () => {
  server = await startServer();
});
afterAll(async () => {
  await server.stop();
});
afterEach(() => client?.close());

async function fresh(): Promise<TestClient> {
  col = `c${++colSeq}`;
  client = await connect(server);
  return client;
}

function rec(doc: string, ts: number, data: string, c = col) {
  return { ts, doc, data, col: c };
}

describe('handshake', () => {
  it('sends the ready frame at once after the upgrade', async () => {
    const c = await fresh();
    expect(c.frames).toEqual(['{"message":"Authentication successful","type":"ready"}']);
  });

  it('answers 401 with the exact bodies and opens no WebSocket', async () => {
    expect(await refusal(`${server.url}/`)).toEqual({ status: 401, body: 'Missing API key parameter' });
    expect(await refusal(`${server.url}/any/path?api-key=`)).toEqual({ status: 401, body: 'Missing API key parameter' });
    expect(await refusal(`${server.url}/x?api-key=nope`)).toEqual({ status: 401, body: 'Unknown API key' });
  });

  it('accepts any path and the name parameter', async () => {
    client = await connect(server, MASTER, 'gw-1');
    const text = await client.call('conn', 'x');
    expect(text.replace(/"since":\d+/g, '"since":0')).toBe(
      '{"id":"r","connections":[{"ip":"0000:0000:0000:0000:0000:ffff:7f00:0001","since":0,"name":"gw-1","self":true}]}',
    );
  });
});

describe('permessage-deflate', () => {
  it('accepts compressed frames from the client', async () => {
    const ws = new WebSocket(`${server.url}/?api-key=${MASTER}`, { perMessageDeflate: { threshold: 0 } });
    client = new TestClient(ws);
    await client.responses(0);
    expect(ws.extensions).toContain('permessage-deflate');
    col = `c${++colSeq}`;
    expect(await client.call('ins', [rec('d', 1, 'x'.repeat(4096))])).toBe('{"id":"r"}');
    expect(server.records(col, 'd')).toEqual([{ ts: 1, data: 'x'.repeat(4096) }]);
  });

  it('never compresses its own frames, even when deflate was negotiated', async () => {
    const raw = await rawConnect(server, MASTER, 'Sec-WebSocket-Extensions: permessage-deflate\r\n');
    expect(raw.handshake).toMatch(/sec-websocket-extensions: permessage-deflate/i);
    raw.socket.write(frame(0x1, Buffer.from(envelope('1', 'gvals', { col: 'none' }))));
    await waitFor(() => serverFrames(raw.received()).length === 2, { what: 'the answer' });
    const frames = serverFrames(raw.received());
    expect(frames.map((f) => f.rsv1)).toEqual([false, false]);
    expect(frames[1]!.payload.toString()).toBe('{"id":"1","values":{}}');
    raw.socket.destroy();
  });
});

describe('ins and qdoc', () => {
  it('acks ins with the bare id and keeps records sorted by ts', async () => {
    const c = await fresh();
    expect(await c.call('ins', [rec('d1', 30, 'c'), rec('d1', 10, 'a'), rec('d1', 20, 'b')], 'ins-1')).toBe('{"id":"ins-1"}');
    expect(await c.call('qdoc', { col, doc: 'd1', from: 0, to: 100 })).toBe(
      '{"id":"r","records":[{"ts":10,"data":"a"},{"ts":20,"data":"b"},{"ts":30,"data":"c"}]}',
    );
  });

  it('overwrites the same (col, doc, ts), inside one batch too (last wins)', async () => {
    const c = await fresh();
    await c.call('ins', [rec('d1', 10, 'a'), rec('d1', 20, 'b'), rec('d1', 10, 'a2'), rec('d1', 20, 'b2'), rec('d1', 20, 'b3')]);
    await c.call('ins', [rec('d1', 10, 'a3')]);
    expect(server.records(col, 'd1')).toEqual([{ ts: 10, data: 'a3' }, { ts: 20, data: 'b3' }]);
  });

  it('stores unchecked ins records (ts 0, empty doc); data that is not a string is stored as ""', async () => {
    const c = await fresh();
    expect(await c.call('ins', [{ ts: 0, doc: '', data: { v: 1 }, col }, { ts: -5, doc: 'd', data: 7, col }])).toBe('{"id":"r"}');
    expect(server.records(col, '')).toEqual([{ ts: 0, data: '' }]);
    expect(server.records(col, 'd')).toEqual([{ ts: -5, data: '' }]);
  });

  it('qdoc: inclusive bounds, limit from the start, reverse from the end, limit <= 0 unlimited', async () => {
    const c = await fresh();
    await c.call('ins', [1, 2, 3, 4, 5].map((t) => rec('d', t * 10, `v${t}`)));
    expect(await c.call('qdoc', { col, doc: 'd', from: 20, to: 40 })).toBe(
      '{"id":"r","records":[{"ts":20,"data":"v2"},{"ts":30,"data":"v3"},{"ts":40,"data":"v4"}]}',
    );
    expect(await c.call('qdoc', { col, doc: 'd', from: 10, to: 50, limit: 2 })).toBe(
      '{"id":"r","records":[{"ts":10,"data":"v1"},{"ts":20,"data":"v2"}]}',
    );
    expect(await c.call('qdoc', { col, doc: 'd', from: 10, to: 50, limit: 2, reverse: true })).toBe(
      '{"id":"r","records":[{"ts":50,"data":"v5"},{"ts":40,"data":"v4"}]}',
    );
    expect(await c.call('qdoc', { col, doc: 'd', from: 10, to: 30, limit: 0, reverse: 1 })).toBe(
      '{"id":"r","records":[{"ts":30,"data":"v3"},{"ts":20,"data":"v2"},{"ts":10,"data":"v1"}]}',
    );
    expect(await c.call('qdoc', { col, doc: 'd', from: 10, to: 20, limit: -3 })).toBe(
      '{"id":"r","records":[{"ts":10,"data":"v1"},{"ts":20,"data":"v2"}]}',
    );
  });

  it('qdoc: reverse is only JSON true or a non-zero integer', async () => {
    const c = await fresh();
    await c.call('ins', [rec('d', 1, 'a'), rec('d', 2, 'b')]);
    const asc = '{"id":"r","records":[{"ts":1,"data":"a"},{"ts":2,"data":"b"}]}';
    const desc = '{"id":"r","records":[{"ts":2,"data":"b"},{"ts":1,"data":"a"}]}';
    expect(await c.call('qdoc', { col, doc: 'd', from: 0, to: 9, reverse: -2 })).toBe(desc);
    expect(await c.call('qdoc', { col, doc: 'd', from: 0, to: 9, reverse: 'true' })).toBe(asc);
    expect(await c.call('qdoc', { col, doc: 'd', from: 0, to: 9, reverse: 0.5 })).toBe(asc);
    expect(await c.call('qdoc', { col, doc: 'd', from: 0, to: 9, reverse: false })).toBe(asc);
  });

  it('qdoc: where keeps, filter drops, both combine; limit counts matching records', async () => {
    const c = await fresh();
    await c.call('ins', [rec('d', 1, '{"s":"ok"}'), rec('d', 2, '{"s":"bad"}'), rec('d', 3, '{"s":"OK!"}'), rec('d', 4, '{"s":"ok!"}')]);
    expect(await c.call('qdoc', { col, doc: 'd', from: 0, to: 9, where: '"ok' })).toBe(
      '{"id":"r","records":[{"ts":1,"data":"{\\"s\\":\\"ok\\"}"},{"ts":4,"data":"{\\"s\\":\\"ok!\\"}"}]}',
    );
    expect(await c.call('qdoc', { col, doc: 'd', from: 0, to: 9, where: '/ok/i', filter: '!' })).toBe(
      '{"id":"r","records":[{"ts":1,"data":"{\\"s\\":\\"ok\\"}"}]}',
    );
    expect(await c.call('qdoc', { col, doc: 'd', from: 0, to: 9, filter: '/o/i', limit: 1, reverse: true })).toBe(
      '{"id":"r","records":[{"ts":2,"data":"{\\"s\\":\\"bad\\"}"}]}',
    );
  });

  it('qdoc of a missing document or collection answers an empty array', async () => {
    const c = await fresh();
    expect(await c.call('qdoc', { col: 'no-such', doc: 'd', from: 0, to: 9 })).toBe('{"id":"r","records":[]}');
  });
});

describe('qry', () => {
  async function seed(c: TestClient): Promise<void> {
    await c.call('ins', [
      rec('d1', 10, 'a10'), rec('d1', 20, 'a20'), rec('d1', 40, 'a40'),
      rec('d10', 15, 'b15'),
      rec('D1x', 5, 'c5'),
      rec('/d1/g', 12, 'lit'),
      rec('/d(/', 12, 'bad'),
    ]);
  }
  const parse = (t: string): unknown => JSON.parse(t);

  it('answers the latest record at ts per document; empty or absent doc means all', async () => {
    const c = await fresh();
    await seed(c);
    const all = { id: 'r', records: { d1: { ts: 20, data: 'a20' }, d10: { ts: 15, data: 'b15' }, D1x: { ts: 5, data: 'c5' }, '/d1/g': { ts: 12, data: 'lit' }, '/d(/': { ts: 12, data: 'bad' } } };
    expect(parse(await c.call('qry', { col, ts: 30 }))).toEqual(all);
    expect(parse(await c.call('qry', { col, ts: 30, doc: '' }))).toEqual(all);
    expect(await c.call('qry', { col, ts: 9, doc: 'D1x' })).toBe('{"id":"r","records":{"D1x":{"ts":5,"data":"c5"}}}');
  });

  it('takes a plain doc as an exact name', async () => {
    const c = await fresh();
    await seed(c);
    expect(await c.call('qry', { col, ts: 100, doc: 'd1' })).toBe('{"id":"r","records":{"d1":{"ts":40,"data":"a40"}}}');
    expect(await c.call('qry', { col, ts: 100, doc: 'd' })).toBe('{"id":"r","records":{}}');
  });

  it('searches /pattern/flags unanchored; i folds case; m and s are ignored', async () => {
    const c = await fresh();
    await seed(c);
    expect(parse(await c.call('qry', { col, ts: 100, doc: '/d1/' }))).toEqual({
      id: 'r', records: { d1: { ts: 40, data: 'a40' }, d10: { ts: 15, data: 'b15' }, '/d1/g': { ts: 12, data: 'lit' } },
    });
    expect(parse(await c.call('qry', { col, ts: 100, doc: '/^d1x$/ims' }))).toEqual({ id: 'r', records: { D1x: { ts: 5, data: 'c5' } } });
    expect(await c.call('qry', { col, ts: 100, doc: '/^d1x$/' })).toBe('{"id":"r","records":{}}');
  });

  it('takes a regex with another flag, or one that does not compile, as a literal name', async () => {
    const c = await fresh();
    await seed(c);
    expect(await c.call('qry', { col, ts: 100, doc: '/d1/g' })).toBe('{"id":"r","records":{"/d1/g":{"ts":12,"data":"lit"}}}');
    expect(await c.call('qry', { col, ts: 100, doc: '/d(/' })).toBe('{"id":"r","records":{"/d(/":{"ts":12,"data":"bad"}}}');
  });

  it('from drops a document whose latest-at-ts record is older, without looking further back', async () => {
    const c = await fresh();
    await seed(c);
    expect(await c.call('qry', { col, ts: 30, doc: '/^d1/', from: 16 })).toBe('{"id":"r","records":{"d1":{"ts":20,"data":"a20"}}}');
    expect(await c.call('qry', { col, ts: 30, doc: 'd1', from: 21 })).toBe('{"id":"r","records":{}}');
  });

  it('where and filter test the latest-at-ts record only', async () => {
    const c = await fresh();
    await seed(c);
    expect(await c.call('qry', { col, ts: 30, where: 'a2' })).toBe('{"id":"r","records":{"d1":{"ts":20,"data":"a20"}}}');
    expect(await c.call('qry', { col, ts: 30, doc: 'd1', where: 'a10' })).toBe('{"id":"r","records":{}}');
    expect(parse(await c.call('qry', { col, ts: 30, where: '/^[ab]\\d/', filter: '/2/' }))).toEqual({ id: 'r', records: { d10: { ts: 15, data: 'b15' } } });
  });

  it('answers {} for a missing collection', async () => {
    const c = await fresh();
    expect(await c.call('qry', { col: 'never-made', ts: 5 })).toBe('{"id":"r","records":{}}');
  });
});

describe('number coercion', () => {
  it('truncates floats, reads leading digits of strings, and takes anything else as 0', async () => {
    const c = await fresh();
    await c.call('ins', [rec('d', 5.9, 'f'), { ...rec('d', 0, 's'), ts: '17abc' }, { ...rec('d', 0, 'z'), ts: 'abc' }, { ...rec('d', 0, 'n'), ts: -3.7 }, { ...rec('d', 0, 'b'), ts: true }]);
    expect(server.records(col, 'd')).toEqual([{ ts: -3, data: 'n' }, { ts: 0, data: 'b' }, { ts: 5, data: 'f' }, { ts: 17, data: 's' }]);
    expect(await c.call('qdoc', { col, doc: 'd', from: '1x', to: '17.9', limit: '1', reverse: 1 })).toBe('{"id":"r","records":[{"ts":17,"data":"s"}]}');
    expect(await c.call('qry', { col, ts: 16.99, doc: 'd' })).toBe('{"id":"r","records":{"d":{"ts":5,"data":"f"}}}');
  });
});

describe('key/values', () => {
  it('sval, gval, gvalues, gvals, gkeys and rval answer with their exact shapes', async () => {
    const c = await fresh();
    expect(await c.call('sval', { col, key: 'model', value: 'TH-200' })).toBe('{"id":"r"}');
    await c.call('sval', { col, key: 'site', value: 'plant "3"' });
    expect(await c.call('gval', { col, key: 'site' })).toBe('{"id":"r","value":"plant \\"3\\""}');
    expect(await c.call('gvalues', { col, key: 'model' })).toBe('{"id":"r","values":{"model":"TH-200"}}');
    expect(await c.call('gvalues', { col, key: '/^S/i' })).toBe('{"id":"r","values":{"site":"plant \\"3\\""}}');
    expect(JSON.parse(await c.call('gvals', { col }))).toEqual({ id: 'r', values: { model: 'TH-200', site: 'plant "3"' } });
    expect(JSON.parse(await c.call('gkeys', { col })).keys.sort()).toEqual(['model', 'site']);
    expect(await c.call('rval', { col, key: 'model' })).toBe('{"id":"r"}');
    expect(await c.call('gkeys', { col })).toBe('{"id":"r","keys":["site"]}');
  });

  it('answers missing keys and collections as upstream does', async () => {
    const c = await fresh();
    await c.call('sval', { col, key: 'k', value: 'v' });
    expect(await c.call('gval', { col, key: 'nope' })).toBe('{"id":"r","value":""}');
    expect(await c.call('gval', { col: 'no-col', key: 'k' })).toBe('{"id":"r","value":""}');
    expect(await c.call('gvalues', { col, key: 'thatkey' })).toBe('{"id":"r","values":{"thatkey":""}}');
    expect(await c.call('gvalues', { col: 'no-col', key: 'k' })).toBe('{"id":"r","values":{}}');
    expect(await c.call('gvals', { col: 'no-col' })).toBe('{"id":"r","values":{}}');
    expect(await c.call('gkeys', { col: 'no-col' })).toBe('{"id":"r","keys":[]}');
    expect(await c.call('rval', { col: 'no-col', key: 'k' })).toBe('{"id":"r"}');
  });
});

describe('deletes and collection lifetime', () => {
  it('cols lists collections with records or key/values', async () => {
    const c = await fresh();
    await c.call('ins', [rec('d', 1, 'x')]);
    await c.call('sval', { col: `${col}-kv`, key: 'k', value: 'v' });
    const cols = JSON.parse(await c.call('cols', 'ignored')).collections as string[];
    expect(cols.filter((n) => n.startsWith(col)).sort()).toEqual([col, `${col}-kv`]);
  });

  it('drec, dmrec and drrng delete records (bounds inclusive) and never the collection', async () => {
    const c = await fresh();
    await c.call('ins', [1, 2, 3, 4, 5, 6].map((t) => rec('d', t, `v${t}`)));
    await c.call('sval', { col, key: 'k', value: 'v' });
    expect(await c.call('drec', { col, doc: 'd', ts: 1 })).toBe('{"id":"r"}');
    expect(await c.call('dmrec', [{ col, doc: 'd', ts: 2 }, { col, doc: 'd', ts: 99 }])).toBe('{"id":"r"}');
    expect(await c.call('drrng', { col, doc: 'd', fromTs: 3, toTs: 5 })).toBe('{"id":"r"}');
    expect(server.records(col, 'd')).toEqual([{ ts: 6, data: 'v6' }]);
    await c.call('drec', { col, doc: 'd', ts: 6 });
    expect(server.documents(col)).toEqual([]);
    expect(server.collections()).toContain(col);
    expect(await c.call('gval', { col, key: 'k' })).toBe('{"id":"r","value":"v"}');
    expect(await c.call('drrng', { col: 'no-col', doc: 'x', fromTs: 1, toTs: 2 })).toBe('{"id":"r"}');
  });

  it('ddoc that leaves no records deletes the collection and its key/values', async () => {
    const c = await fresh();
    await c.call('ins', [rec('d1', 1, 'x'), rec('d2', 1, 'y')]);
    await c.call('sval', { col, key: 'k', value: 'v' });
    expect(await c.call('ddoc', { col, doc: 'd1' })).toBe('{"id":"r"}');
    expect(await c.call('gval', { col, key: 'k' })).toBe('{"id":"r","value":"v"}');
    await c.call('ddoc', { col, doc: 'd2' });
    expect(server.collections()).not.toContain(col);
    expect(await c.call('gval', { col, key: 'k' })).toBe('{"id":"r","value":""}');
  });

  it('ddoc naming a key/value-only collection deletes it even if the document does not exist', async () => {
    const c = await fresh();
    await c.call('sval', { col, key: 'k', value: 'v' });
    await c.call('ddoc', { col, doc: 'never-there' });
    expect(server.collections()).not.toContain(col);
    expect(server.values(col)).toEqual({});
  });

  it('ddoc without col clears the document everywhere and every collection left without records', async () => {
    const c = await fresh();
    const [a, b, kv, keep] = [`${col}a`, `${col}b`, `${col}kv`, `${col}keep`];
    await c.call('ins', [rec('dev', 1, 'x', a), rec('dev', 1, 'x', b), rec('other', 1, 'y', b), rec('z', 1, 'z', keep)]);
    await c.call('sval', { col: kv, key: 'k', value: 'v' });
    await c.call('sval', { col: b, key: 'k', value: 'v' });
    expect(await c.call('ddoc', { doc: 'dev' })).toBe('{"id":"r"}');
    const names = server.collections();
    expect(names).not.toContain(a);
    expect(names).not.toContain(kv);
    expect(names).toContain(b);
    expect(names).toContain(keep);
    expect(server.values(b)).toEqual({ k: 'v' });
    expect(server.documents(b)).toEqual(['other']);
  });

  it('dcol deletes a collection with its key/values; a missing one is a plain ack', async () => {
    const c = await fresh();
    await c.call('ins', [rec('d', 1, 'x')]);
    await c.call('sval', { col, key: 'k', value: 'v' });
    expect(await c.call('dcol', { col })).toBe('{"id":"r"}');
    expect(server.collections()).not.toContain(col);
    expect(await c.call('dcol', { col })).toBe('{"id":"r"}');
  });
});

describe('conn', () => {
  it('lists every socket with ip, since, name (null when none) and self', async () => {
    const c = await fresh();
    // Sockets of earlier tests may still be closing on the server side.
    await waitFor(async () => (JSON.parse(await c.call('conn', 'x')) as { connections: unknown[] }).connections.length === 1, { what: 'a lone socket' });
    const other = await connect(server, MASTER);
    await new Promise((r) => setTimeout(r, 30));
    const answer = JSON.parse(await c.call('conn', '{}')) as { id: string; connections: Array<{ ip: string; since: number; name: string | null; self: boolean }> };
    expect(answer.id).toBe('r');
    expect(answer.connections).toHaveLength(2);
    const mine = answer.connections.find((x) => x.self)!;
    const theirs = answer.connections.find((x) => !x.self)!;
    expect(mine).toMatchObject({ ip: '0000:0000:0000:0000:0000:ffff:7f00:0001', name: null, self: true });
    expect(theirs).toMatchObject({ ip: '0000:0000:0000:0000:0000:ffff:7f00:0001', name: null, self: false });
    expect(mine.since).toBeGreaterThanOrEqual(30);
    expect(mine.since).toBeLessThan(5000);
    other.close();
  });
});
