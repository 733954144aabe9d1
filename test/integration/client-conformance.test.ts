/**
 * The client against the dev server over a real socket: one test per operation (exact
 * return values) and one per row of the protocol page's error table.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DevServer } from '../../src/devserver/index.js';
import {
  FluxionClient,
  FluxionErrorCodes,
  type FluxionRecord,
} from '../../src/client/index.js';
import { clientPool } from '../helpers/client-pool.js';
import { rejection } from '../helpers/rejection.js';

const MASTER = 'master-key-conformance';
let server: DevServer;
const { client, closeAll } = clientPool(() => server, MASTER);


function count(type: string): number {
  return server.frameCounts.get(type) ?? 0;
}

/** Counts of every type, to prove a refused call sent nothing. */
function allCounts(): Record<string, number> {
  return Object.fromEntries(server.frameCounts);
}

const rec = (doc: string, ts: number, data: string, col = 'telemetry'): FluxionRecord => ({ col, doc, ts, data });

beforeAll(async () => {
  server = new DevServer({ port: 0, masterKey: MASTER });
  await server.start();
});

afterEach(async () => {
  await closeAll();
});

afterAll(async () => {
  await server.stop();
});

describe('operations', () => {
  it('insertMultipleRecords and insertSingleRecord send ins and store exactly what was given', async () => {
    const c = client();
    const before = count('ins');
    await expect(c.insertMultipleRecords([rec('ins-a', 2, '{"v":2}'), rec('ins-a', 1, '{"v":1}'), rec('ins-b', 5, 'x')])).resolves.toBeUndefined();
    await expect(c.insertSingleRecord(rec('ins-a', 3, '{"v":3}'))).resolves.toBeUndefined();
    expect(count('ins') - before).toBe(2);
    expect(server.records('telemetry', 'ins-a')).toEqual([
      { ts: 1, data: '{"v":1}' },
      { ts: 2, data: '{"v":2}' },
      { ts: 3, data: '{"v":3}' },
    ]);
    expect(server.records('telemetry', 'ins-b')).toEqual([{ ts: 5, data: 'x' }]);
  });

  it('insertEncodedRecords sends a pre-encoded array as the ins payload; a non-array is refused before any frame', async () => {
    const c = client();
    const before = count('ins');
    const records = [rec('enc-a', 7, '{"v":"7 \\"quoted\\""}', 'encoded'), rec('enc-b', 8, 'ünï', 'encoded')];
    await expect(c.insertEncodedRecords(JSON.stringify(records))).resolves.toBeUndefined();
    expect(server.records('encoded', 'enc-a')).toEqual([{ ts: 7, data: '{"v":"7 \\"quoted\\""}' }]);
    expect(server.records('encoded', 'enc-b')).toEqual([{ ts: 8, data: 'ünï' }]);
    expect((await rejection(c.insertEncodedRecords('{"ts":1}'))).code).toBe(FluxionErrorCodes.VALIDATION);
    expect(count('ins') - before).toBe(1);
  });

  it('insertEscapedRecords sends an escaped array in parts as the ins payload, a text frame the server stores as insertEncodedRecords would', async () => {
    const c = client();
    const before = count('ins');
    const records = [rec('esc-a', 7, '{"v":"7 \\"quoted\\" \\\\"}', 'escaped'), rec('esc-b', 8, 'ünï ✓\ttab', 'escaped')];
    const escaped = JSON.stringify(JSON.stringify(records)).slice(1, -1);
    // Cut anywhere between rows and inside them: the parts are only concatenated.
    const cut = escaped.indexOf('esc-b');
    const parts = [Buffer.from(escaped.slice(0, 5)), Buffer.from(escaped.slice(5, cut)), Buffer.from(escaped.slice(cut))];
    await expect(c.insertEscapedRecords(parts)).resolves.toBeUndefined();
    expect(server.records('escaped', 'esc-a')).toEqual([{ ts: 7, data: records[0]!.data }]);
    expect(server.records('escaped', 'esc-b')).toEqual([{ ts: 8, data: 'ünï ✓\ttab' }]);
    expect((await rejection(c.insertEscapedRecords([]))).code).toBe(FluxionErrorCodes.VALIDATION);
    expect((await rejection(c.insertEscapedRecords(['[]' as unknown as Buffer]))).code).toBe(FluxionErrorCodes.VALIDATION);
    expect(count('ins') - before).toBe(1);
  });

  it('insertMultipleRecords pipelines 20 batches of 1,000 records and every one is stored', async () => {
    const c = client();
    const batches = Array.from({ length: 20 }, (_, b) =>
      Array.from({ length: 1000 }, (_, i) => rec(`bulk-${i % 10}`, 1_700_000_000_000 + b * 1000 + i, `{"i":${i}}`, 'bulk')),
    );
    await c.connect();
    const sent = batches.map((batch) => c.insertMultipleRecords(batch));
    // Every batch is on the wire before the first answer: nothing waits for an ack.
    expect(c.inFlight).toBe(20);
    await Promise.all(sent);
    expect(c.inFlight).toBe(0);
    let total = 0;
    for (let d = 0; d < 10; d++) total += server.records('bulk', `bulk-${d}`).length;
    expect(total).toBe(20_000);
  });

  it('fetchLatestRecords (qry): latest at ts per document, with doc, regex, from, where and filter', async () => {
    const c = client();
    await c.insertMultipleRecords([
      rec('dev-1', 100, '{"t":1}', 'q'),
      rec('dev-1', 200, '{"t":2}', 'q'),
      rec('dev-2', 150, '{"t":3,"alarm":true}', 'q'),
      rec('other', 50, '{"t":4}', 'q'),
    ]);
    const before = count('qry');
    expect(await c.fetchLatestRecords({ col: 'q', ts: 1000 })).toEqual({
      'dev-1': { ts: 200, data: '{"t":2}' },
      'dev-2': { ts: 150, data: '{"t":3,"alarm":true}' },
      other: { ts: 50, data: '{"t":4}' },
    });
    expect(await c.fetchLatestRecords({ col: 'q', ts: 199 })).toEqual({
      'dev-1': { ts: 100, data: '{"t":1}' },
      'dev-2': { ts: 150, data: '{"t":3,"alarm":true}' },
      other: { ts: 50, data: '{"t":4}' },
    });
    expect(await c.fetchLatestRecords({ col: 'q', ts: 1000, doc: 'dev-1' })).toEqual({ 'dev-1': { ts: 200, data: '{"t":2}' } });
    expect(Object.keys(await c.fetchLatestRecords({ col: 'q', ts: 1000, doc: '/^DEV-/i' })).sort()).toEqual(['dev-1', 'dev-2']);
    expect(Object.keys(await c.fetchLatestRecords({ col: 'q', ts: 1000, from: 100 })).sort()).toEqual(['dev-1', 'dev-2']);
    expect(await c.fetchLatestRecords({ col: 'q', ts: 1000, where: 'alarm' })).toEqual({
      'dev-2': { ts: 150, data: '{"t":3,"alarm":true}' },
    });
    expect(Object.keys(await c.fetchLatestRecords({ col: 'q', ts: 1000, filter: 'alarm' })).sort()).toEqual(['dev-1', 'other']);
    expect(await c.fetchLatestRecords({ col: 'missing-col', ts: 1000 })).toEqual({});
    expect(count('qry') - before).toBe(8);
  });

  it('fetchDocument (qdoc): inclusive bounds, ascending, reverse, limit', async () => {
    const c = client();
    await c.insertMultipleRecords([1, 2, 3, 4, 5].map((ts) => rec('doc', ts, `v${ts}`, 'qd')));
    const before = count('qdoc');
    expect(await c.fetchDocument({ col: 'qd', doc: 'doc', from: 2, to: 4 })).toEqual([
      { ts: 2, data: 'v2' },
      { ts: 3, data: 'v3' },
      { ts: 4, data: 'v4' },
    ]);
    expect(await c.fetchDocument({ col: 'qd', doc: 'doc', from: 0, to: 10, reverse: true, limit: 2 })).toEqual([
      { ts: 5, data: 'v5' },
      { ts: 4, data: 'v4' },
    ]);
    expect(await c.fetchDocument({ col: 'qd', doc: 'doc', from: 0, to: 10, limit: 2 })).toEqual([
      { ts: 1, data: 'v1' },
      { ts: 2, data: 'v2' },
    ]);
    expect(await c.fetchDocument({ col: 'qd', doc: 'doc', from: 0, to: 10, where: 'v3' })).toEqual([{ ts: 3, data: 'v3' }]);
    expect(await c.fetchDocument({ col: 'qd', doc: 'nope', from: 0, to: 10 })).toEqual([]);
    expect(count('qdoc') - before).toBe(5);
  });

  it('fetchCollections (cols) lists collections with records or key/values', async () => {
    const c = client();
    await c.insertSingleRecord(rec('d', 1, 'x', 'cols-a'));
    await c.setValue({ col: 'cols-b', key: 'k', value: 'v' });
    const cols = await c.fetchCollections();
    expect(cols).toContain('cols-a');
    expect(cols).toContain('cols-b');
    expect([...cols].sort()).toEqual(server.collections().sort());
  });

  it('getConnections (conn) reports this socket with its name and self: true', async () => {
    const c = client({ connectionName: 'conformance gw' });
    const other = client();
    await other.connect();
    const list = await c.getConnections();
    const mine = list.filter((x) => x.self);
    expect(mine).toHaveLength(1);
    expect(mine[0]).toEqual({ ip: '0000:0000:0000:0000:0000:ffff:7f00:0001', since: mine[0]!.since, name: 'conformance gw', self: true });
    expect(typeof mine[0]!.since).toBe('number');
    expect(list.filter((x) => !x.self && x.name === null).length).toBeGreaterThanOrEqual(1);
  });

  it('deleteCollection (dcol) removes the collection', async () => {
    const c = client();
    await c.insertSingleRecord(rec('d', 1, 'x', 'dcol'));
    await expect(c.deleteCollection({ col: 'dcol' })).resolves.toBeUndefined();
    expect(server.collections()).not.toContain('dcol');
  });

  it('deleteDocument (ddoc) with and without col', async () => {
    const c = client();
    await c.insertMultipleRecords([rec('gone', 1, 'x', 'ddoc1'), rec('kept', 1, 'y', 'ddoc1'), rec('gone', 1, 'z', 'ddoc2'), rec('kept', 2, 'w', 'ddoc2')]);
    await c.deleteDocument({ doc: 'gone', col: 'ddoc1' });
    expect(server.records('ddoc1', 'gone')).toEqual([]);
    expect(server.records('ddoc2', 'gone')).toEqual([{ ts: 1, data: 'z' }]);
    await c.deleteDocument({ doc: 'gone' });
    expect(server.records('ddoc2', 'gone')).toEqual([]);
    expect(server.records('ddoc2', 'kept')).toEqual([{ ts: 2, data: 'w' }]);
  });

  it('deleteRecord (drec), deleteMultipleRecords (dmrec), deleteRecordsRange (drrng)', async () => {
    const c = client();
    await c.insertMultipleRecords([1, 2, 3, 4, 5, 6, 7, 8].map((ts) => rec('d', ts, `v${ts}`, 'del')));
    await c.deleteRecord({ col: 'del', doc: 'd', ts: 1 });
    await c.deleteMultipleRecords([
      { col: 'del', doc: 'd', ts: 2 },
      { col: 'del', doc: 'd', ts: 8 },
    ]);
    await c.deleteRecordsRange({ col: 'del', doc: 'd', fromTs: 4, toTs: 6 });
    expect(server.records('del', 'd')).toEqual([
      { ts: 3, data: 'v3' },
      { ts: 7, data: 'v7' },
    ]);
    await expect(c.deleteRecord({ col: 'del', doc: 'nothing', ts: 1 })).resolves.toBeUndefined();
  });

  it('setValue, getValue, getValues (gvals and gvalues), getKeys, deleteValue', async () => {
    const c = client();
    await c.setValue({ col: 'kv', key: 'site', value: 'plant-3' });
    await c.setValue({ col: 'kv', key: 'model', value: 'TH-200' });
    expect(server.values('kv')).toEqual({ site: 'plant-3', model: 'TH-200' });
    expect(await c.getValue({ col: 'kv', key: 'site' })).toBe('plant-3');
    expect(await c.getValue({ col: 'kv', key: 'missing' })).toBe('');
    expect(await c.getValue({ col: 'no-such-col', key: 'x' })).toBe('');
    const gvals = count('gvals');
    const gvalues = count('gvalues');
    expect(await c.getValues({ col: 'kv' })).toEqual({ site: 'plant-3', model: 'TH-200' });
    expect(await c.getValues({ col: 'kv', key: 'site' })).toEqual({ site: 'plant-3' });
    expect(await c.getValues({ col: 'kv', key: 'absent' })).toEqual({ absent: '' });
    expect(await c.getValues({ col: 'kv', key: '/^mo/' })).toEqual({ model: 'TH-200' });
    expect(count('gvals') - gvals).toBe(1);
    expect(count('gvalues') - gvalues).toBe(3);
    expect((await c.getKeys({ col: 'kv' })).sort()).toEqual(['model', 'site']);
    expect(await c.getKeys({ col: 'no-such-col' })).toEqual([]);
    await c.deleteValue({ col: 'kv', key: 'site' });
    expect(server.values('kv')).toEqual({ model: 'TH-200' });
  });

  it('addApiKey, listApiKeys, removeApiKey (keys) and their server errors', async () => {
    const c = client();
    expect(await c.addApiKey('reader-1', 'readonly')).toBe('readonly');
    expect(await c.addApiKey('reader-1', 'read_write')).toBe('read_write');
    const keys = await c.listApiKeys();
    expect(keys.find((k) => k.key === 'reader-1')).toEqual({ deletable: true, key: 'reader-1', scope: 'read_write' });
    await expect(c.removeApiKey('reader-1')).resolves.toBeUndefined();
    expect((await c.listApiKeys()).find((k) => k.key === 'reader-1')).toBeUndefined();
    const notFound = await rejection(c.removeApiKey('never-added'));
    expect([notFound.code, notFound.serverMessage, notFound.requestType]).toEqual([FluxionErrorCodes.SERVER, 'api key not found', 'keys']);
    const master = await rejection(c.removeApiKey(MASTER));
    expect([master.code, master.serverMessage]).toEqual([FluxionErrorCodes.SERVER, 'api key cannot be removed']);
    expect(c.connected).toBe(true);
  });

  it('only the master key may manage keys: any other key is denied', async () => {
    await client().addApiKey('writer-keys', 'read_write_delete');
    const w = client({ apiKey: 'writer-keys' });
    const err = await rejection(w.listApiKeys());
    expect([err.code, err.serverMessage]).toEqual([FluxionErrorCodes.PERMISSION_DENIED, 'permission denied']);
  });
});

describe('error table', () => {
  it('a scope it lacks: PERMISSION_DENIED and the socket stays open', async () => {
    await client().addApiKey('ro-key', 'readonly');
    const ro = client({ apiKey: 'ro-key' });
    const opened: number[] = [];
    ro.on('open', (e) => opened.push(e.connection));
    const err = await rejection(ro.insertSingleRecord(rec('d', 1, 'x', 'perm')));
    expect([err.code, err.serverMessage, err.requestType]).toEqual([FluxionErrorCodes.PERMISSION_DENIED, 'permission denied', 'ins']);
    const err2 = await rejection(ro.deleteCollection({ col: 'perm' }));
    expect(err2.code).toBe(FluxionErrorCodes.PERMISSION_DENIED);
    expect(await ro.getValue({ col: 'perm', key: 'k' })).toBe('');
    expect(ro.connected).toBe(true);
    expect(opened).toEqual([1]);
  });

  it('unknown type: the id-less error answers the oldest request, the close fails the rest at once', async () => {
    const c = client();
    const closes: Array<{ code: number; reason: string }> = [];
    c.on('close', (e) => closes.push(e));
    await c.connect();
    const bad = rejection(c.request('nope', {}));
    const behind = rejection(c.getValue({ col: 'kv', key: 'x' }));
    const behind2 = rejection(c.fetchCollections());
    expect(c.inFlight).toBe(3);
    const [e1, e2, e3] = await Promise.all([bad, behind, behind2]);
    expect([e1.code, e1.serverMessage, e1.requestType]).toEqual([FluxionErrorCodes.SERVER, 'Unknown message type', 'nope']);
    expect([e2.code, e2.closeCode, e2.requestType]).toEqual([FluxionErrorCodes.CONNECTION_CLOSED, 1008, 'gval']);
    expect([e3.code, e3.closeCode]).toEqual([FluxionErrorCodes.CONNECTION_CLOSED, 1008]);
    expect(closes).toEqual([{ code: 1008, reason: 'policy violation' }]);
    expect(c.connected).toBe(false);
    expect(c.inFlight).toBe(0);
    // The next operation reconnects by itself.
    expect(await c.getValue({ col: 'kv', key: 'x' })).toBe('');
    expect(c.connected).toBe(true);
  });

  it('a type is case-sensitive: INS is unknown', async () => {
    const c = client();
    const err = await rejection(c.request('INS', []));
    expect(err.serverMessage).toBe('Unknown message type');
  });

  it('an empty type never reaches the wire (a bad envelope would close 1008)', async () => {
    const c = client();
    const before = allCounts();
    const err = await rejection(c.request('', {}));
    expect([err.code, err.field]).toEqual([FluxionErrorCodes.VALIDATION, 'type']);
    expect(c.connected).toBe(false);
    expect(allCounts()).toEqual(before);
  });

  // Each row: the call the client refuses, the field it names, and the raw payload that,
  // sent through the escape hatch, shows what the validation saves us from.
  const payloadRows: Array<[string, (c: FluxionClient) => Promise<unknown>, string, string, unknown]> = [
    ['qry ts<=0', (c) => c.fetchLatestRecords({ col: 'c', ts: 0 }), 'ts', 'qry', { col: 'c', ts: 0 }],
    ['qry no col', (c) => c.fetchLatestRecords({ ts: 5 } as never), 'col', 'qry', { ts: 5 }],
    ['qdoc to<=0', (c) => c.fetchDocument({ col: 'c', doc: 'd', from: 0, to: 0 }), 'to', 'qdoc', { col: 'c', doc: 'd', from: 0, to: 0 }],
    ['qdoc from>to', (c) => c.fetchDocument({ col: 'c', doc: 'd', from: 9, to: 5 }), 'from', 'qdoc', { col: 'c', doc: 'd', from: 9, to: 5 }],
    ['qdoc no doc', (c) => c.fetchDocument({ col: 'c', from: 0, to: 5 } as never), 'doc', 'qdoc', { col: 'c', from: 0, to: 5 }],
    ['qdoc no col', (c) => c.fetchDocument({ doc: 'd', from: 0, to: 5 } as never), 'col', 'qdoc', { doc: 'd', from: 0, to: 5 }],
    ['drec doc empty', (c) => c.deleteRecord({ col: 'c', doc: '', ts: 1 }), 'doc', 'drec', { col: 'c', doc: '', ts: 1 }],
    ['drec ts<=0', (c) => c.deleteRecord({ col: 'c', doc: 'd', ts: -1 }), 'ts', 'drec', { col: 'c', doc: 'd', ts: -1 }],
    ['dmrec col empty', (c) => c.deleteMultipleRecords([{ col: 'c', doc: 'd', ts: 1 }, { col: '', doc: 'd', ts: 1 }]), 'records[1].col', 'dmrec', [{ col: '', doc: 'd', ts: 1 }]],
    ['drrng bounds', (c) => c.deleteRecordsRange({ col: 'c', doc: 'd', fromTs: 10, toTs: 1 }), 'fromTs', 'drrng', { col: 'c', doc: 'd', fromTs: 10, toTs: 1 }],
    ['sval empty value', (c) => c.setValue({ col: 'c', key: 'k', value: '' }), 'value', 'sval', { col: 'c', key: 'k', value: '' }],
    ['gval no key', (c) => c.getValue({ col: 'c', key: '' }), 'key', 'gval', { col: 'c' }],
    ['gvalues no key', (c) => c.getValues({ col: 'c', key: '' }), 'key', 'gvalues', { col: 'c', key: '' }],
    ['rval no key', (c) => c.deleteValue({ col: 'c' } as never), 'key', 'rval', { col: 'c' }],
    ['gvals no col', (c) => c.getValues({ col: '' }), 'col', 'gvals', {}],
    ['gkeys no col', (c) => c.getKeys({} as never), 'col', 'gkeys', {}],
    ['ins not an array', (c) => c.insertMultipleRecords({} as never), 'records', 'ins', {}],
    ['ins holding a non-object', (c) => c.insertMultipleRecords([rec('d', 1, 'x'), 7 as never]), 'records[1]', 'ins', [7]],
  ];

  it.each(payloadRows)('payload failing its checks (%s): VALIDATION naming the field, no socket', async (_row, call, fieldName, type, raw) => {
    const c = client();
    const before = allCounts();
    const err = await rejection(call(c));
    expect([err.code, err.field]).toEqual([FluxionErrorCodes.VALIDATION, fieldName]);
    expect(c.connected).toBe(false);
    expect(allCounts()).toEqual(before);
    // What the server does with the same payload sent raw: close 1008, nothing answered.
    const raw1 = await rejection(c.request(type, raw));
    expect([raw1.code, raw1.closeCode]).toEqual([FluxionErrorCodes.CONNECTION_CLOSED, 1008]);
  });

  it('ins records the server would store as garbage are refused, naming the record', async () => {
    const c = client();
    const before = allCounts();
    const bad = [rec('d', 1, 'x'), rec('d', 2, 'x'), rec('d', 3, 'x'), rec('d', 0, 'x')];
    const err = await rejection(c.insertMultipleRecords(bad));
    expect([err.code, err.field, err.message]).toEqual([FluxionErrorCodes.VALIDATION, 'records[3].ts', 'records[3].ts must be an integer > 0 (got 0)']);
    expect((await rejection(c.insertSingleRecord({ ...rec('d', 1, 'x'), doc: '' }))).field).toBe('record.doc');
    expect((await rejection(c.insertSingleRecord({ ...rec('d', 1, 'x'), data: { v: 1 } as never }))).field).toBe('record.data');
    expect((await rejection(c.addApiKey('k', 'admin' as never))).field).toBe('scope');
    expect((await rejection(c.removeApiKey(''))).field).toBe('key');
    expect(c.connected).toBe(false);
    expect(allCounts()).toEqual(before);
  });

  it('a frame over maxFrameBytes is refused before connecting', async () => {
    const c = client({ maxFrameBytes: 1024 });
    const before = allCounts();
    const err = await rejection(c.insertSingleRecord(rec('d', 1, 'x'.repeat(2000))));
    expect([err.code, err.field, err.requestType]).toEqual([FluxionErrorCodes.VALIDATION, 'frame', 'ins']);
    expect(c.connected).toBe(false);
    expect(allCounts()).toEqual(before);
  });

  it('a frame over 16 MiB (maxFrameBytes raised): TCP cut (1006), requests in flight fail at once', async () => {
    const c = client({ maxFrameBytes: 64 * 1024 * 1024 });
    await c.connect();
    const big = rejection(c.insertSingleRecord(rec('huge', 1, 'x'.repeat(16 * 1024 * 1024)), { timeoutMs: 30_000 }));
    const behind = rejection(c.getValue({ col: 'kv', key: 'x' }, { timeoutMs: 30_000 }));
    const [e1, e2] = await Promise.all([big, behind]);
    expect([e1.code, e1.closeCode]).toEqual([FluxionErrorCodes.CONNECTION_CLOSED, 1006]);
    expect([e2.code, e2.closeCode]).toEqual([FluxionErrorCodes.CONNECTION_CLOSED, 1006]);
    expect(server.records('telemetry', 'huge')).toEqual([]);
  });

  it('the auth type is answered with an error and the socket stays open', async () => {
    const c = client();
    const err = await rejection(c.request('auth', { key: 'whatever' }));
    expect([err.code, err.serverMessage]).toEqual([
      FluxionErrorCodes.SERVER,
      'auth messages are not supported; use the api-key query parameter',
    ]);
    expect(c.connected).toBe(true);
    expect(await c.getValue({ col: 'kv', key: 'x' })).toBe('');
  });
});
