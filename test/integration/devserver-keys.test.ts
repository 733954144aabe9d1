import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { DevServer } from '../../src/devserver/index.js';
import { connect, MASTER, refusal, startServer, type TestClient } from '../helpers/devserver-harness.js';

let server: DevServer;
let admin: TestClient;
const opened: TestClient[] = [];

beforeEach(async () => {
  server = await startServer();
  admin = await connect(server);
});
afterEach(async () => {
  for (const c of opened.splice(0)) c.close();
  admin.close();
  await server.stop();
});

async function as(key: string): Promise<TestClient> {
  const c = await connect(server, key);
  opened.push(c);
  return c;
}

const INS = [{ ts: 1, doc: 'd', data: 'x', col: 'c' }];

describe('keys: add, list, remove', () => {
  it('add answers the normalized scope; action and scope ignore case, spaces, commas, - and _', async () => {
    expect(await admin.call('keys', { action: 'add', key: 'k1', scope: 'readonly' })).toBe('{"id":"r","scope":"readonly","status":"ok"}');
    expect(await admin.call('keys', { action: ' A-d_D, ', key: 'k2', scope: 'Read Write' })).toBe('{"id":"r","scope":"read_write","status":"ok"}');
    expect(await admin.call('keys', { action: 'ADD', key: 'k3', scope: 'read-write,delete' })).toBe('{"id":"r","scope":"read_write_delete","status":"ok"}');
  });

  it('list shows every key with deletable, key, scope; the master key is not deletable', async () => {
    await admin.call('keys', { action: 'add', key: 'k1', scope: 'readonly' });
    expect(await admin.call('keys', { action: 'List' })).toBe(
      `{"id":"r","keys":[{"deletable":false,"key":"${MASTER}","scope":"read_write_delete"},{"deletable":true,"key":"k1","scope":"readonly"}],"status":"ok"}`,
    );
  });

  it('remove answers ok; new connections get 401, open sockets drop to readonly', async () => {
    await admin.call('keys', { action: 'add', key: 'rw', scope: 'read_write' });
    const open = await as('rw');
    expect(await open.call('ins', INS)).toBe('{"id":"r"}');
    expect(await admin.call('keys', { action: 'remove', key: 'rw' })).toBe('{"id":"r","status":"ok"}');
    expect(await refusal(`${server.url}/?api-key=rw`)).toEqual({ status: 401, body: 'Unknown API key' });
    expect(await open.call('ins', INS)).toBe('{"error":"permission denied","id":"r"}');
    expect(await open.call('qdoc', { col: 'c', doc: 'd', from: 0, to: 5 })).toBe('{"id":"r","records":[{"ts":1,"data":"x"}]}');
  });

  it('adding an existing key changes its scope, also for its open sockets', async () => {
    await admin.call('keys', { action: 'add', key: 'k', scope: 'readonly' });
    const open = await as('k');
    expect(await open.call('ins', INS)).toBe('{"error":"permission denied","id":"r"}');
    await admin.call('keys', { action: 'add', key: 'k', scope: 'read_write' });
    expect(await open.call('ins', INS)).toBe('{"id":"r"}');
    expect(await open.call('dcol', { col: 'c' })).toBe('{"error":"permission denied","id":"r"}');
  });

  it('answers the exact error texts and keeps the socket open', async () => {
    await admin.call('keys', { action: 'add', key: 'other', scope: 'read_write_delete' });
    const other = await as('other');
    expect(await other.call('keys', { action: 'list' })).toBe('{"error":"permission denied","id":"r"}');
    expect(await admin.call('keys', { action: 'remove', key: MASTER })).toBe('{"error":"api key cannot be removed","id":"r"}');
    expect(await admin.call('keys', { action: 'add', key: 'x', scope: 'admin' })).toBe('{"error":"invalid scope","id":"r"}');
    expect(await admin.call('keys', { action: 'remove', key: 'ghost' })).toBe('{"error":"api key not found","id":"r"}');
    expect(await admin.call('keys', { action: 'rotate', key: 'x' })).toBe('{"error":"unknown action","id":"r"}');
    expect(await admin.call('keys', { action: 'add', key: '', scope: 'readonly' })).toBe('{"error":"api key cannot be empty","id":"r"}');
    expect(await admin.call('keys', { action: 'remove', key: '' })).toBe('{"error":"api key not found","id":"r"}');
    expect(await admin.call('keys', { action: 'remove' })).toBe('{"error":"api key not found","id":"r"}');
    expect(await admin.call('cols', 'x')).toBe('{"id":"r","collections":[]}');
  });
});

describe('scopes', () => {
  beforeEach(async () => {
    for (const scope of ['readonly', 'read_write', 'read_write_delete']) await admin.call('keys', { action: 'add', key: scope, scope });
    await admin.call('ins', [...INS, { ts: 2, doc: 'e', data: 'y', col: 'c' }]);
    await admin.call('sval', { col: 'c', key: 'k', value: 'v' });
  });

  const reads: Array<[string, unknown]> = [
    ['qry', { col: 'c', ts: 5 }], ['cols', 'x'], ['qdoc', { col: 'c', doc: 'd', from: 0, to: 5 }], ['gval', { col: 'c', key: 'k' }],
    ['gvalues', { col: 'c', key: 'k' }], ['gvals', { col: 'c' }], ['gkeys', { col: 'c' }], ['conn', 'x'],
  ];
  const writes: Array<[string, unknown]> = [['ins', INS], ['sval', { col: 'c', key: 'k2', value: 'v' }]];
  const deletes: Array<[string, unknown]> = [
    ['drec', { col: 'c', doc: 'd', ts: 1 }], ['dmrec', [{ col: 'c', doc: 'd', ts: 1 }]], ['drrng', { col: 'c', doc: 'd', fromTs: 1, toTs: 1 }],
    ['rval', { col: 'c', key: 'k2' }], ['ddoc', { col: 'c', doc: 'e' }], ['dcol', { col: 'none' }],
  ];
  const denied = '{"error":"permission denied","id":"r"}';

  it('readonly may read only', async () => {
    const c = await as('readonly');
    for (const [t, p] of reads) expect(await c.call(t, p)).not.toBe(denied);
    for (const [t, p] of [...writes, ...deletes]) expect(await c.call(t, p)).toBe(denied);
  });

  it('read_write may read and write, not delete', async () => {
    const c = await as('read_write');
    for (const [t, p] of [...reads, ...writes]) expect(await c.call(t, p)).not.toBe(denied);
    for (const [t, p] of deletes) expect(await c.call(t, p)).toBe(denied);
  });

  it('read_write_delete may do everything but manage keys', async () => {
    const c = await as('read_write_delete');
    for (const [t, p] of [...reads, ...writes, ...deletes]) expect(await c.call(t, p)).not.toBe(denied);
    expect(await c.call('keys', { action: 'list' })).toBe(denied);
  });

  it('checks the scope before parsing the payload: a bad payload without the scope is denied, not closed', async () => {
    const c = await as('readonly');
    expect(await c.call('ins', 'not json at all')).toBe(denied);
    expect(await c.call('drec', { col: '', doc: '', ts: 0 })).toBe(denied);
    expect(await c.call('cols', 'x')).toMatch(/^\{"id":"r","collections":\[/);
  });
});
