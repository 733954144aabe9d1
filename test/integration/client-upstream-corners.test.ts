/**
 * The client against the dev server's copies of upstream's harsh corners (issue 11 §4): it
 * refuses up front what makes the server close the socket, and its per-request timeout is
 * what saves a request whose answer the server silently dropped.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { FluxionErrorCodes, type FluxionClient } from '../../src/client/index.js';
import { DevServer } from '../../src/devserver/index.js';
import { clientPool } from '../helpers/client-pool.js';
import { rejection } from '../helpers/rejection.js';

const MASTER = 'master-key-corners';
let server: DevServer;
const { client, closeAll } = clientPool(() => server, MASTER);

beforeAll(async () => {
  server = new DevServer({ port: 0, masterKey: MASTER });
  await server.start();
});
afterEach(async () => {
  server.setFaults({ ackDelayMs: 0 });
  await closeAll();
});
afterAll(async () => {
  await server.stop();
});

describe('refused before sending, like an invalid record', () => {
  const rows: Array<[string, (c: FluxionClient) => Promise<unknown>, string, string, unknown]> = [
    ['drrng fromTs 0', (c) => c.deleteRecordsRange({ col: 'c', doc: 'd', fromTs: 0, toTs: 5 }), 'fromTs', 'drrng', { col: 'c', doc: 'd', fromTs: 0, toTs: 5 }],
    ['drrng fromTs negative', (c) => c.deleteRecordsRange({ col: 'c', doc: 'd', fromTs: -1, toTs: 5 }), 'fromTs', 'drrng', { col: 'c', doc: 'd', fromTs: -1, toTs: 5 }],
    ['dcol without col', (c) => c.deleteCollection({} as never), 'col', 'dcol', {}],
    ['ddoc without doc', (c) => c.deleteDocument({ col: 'c' } as never), 'doc', 'ddoc', { col: 'c' }],
  ];

  it.each(rows)('%s: VALIDATION naming the field, nothing sent; the same payload raw closes 1008', async (_row, call, field, type, raw) => {
    const c = client();
    const before = Object.fromEntries(server.frameCounts);
    const err = await rejection(call(c));
    expect([err.code, err.field]).toEqual([FluxionErrorCodes.VALIDATION, field]);
    expect(c.connected).toBe(false);
    expect(Object.fromEntries(server.frameCounts)).toEqual(before);
    const sent = await rejection(c.request(type, raw));
    expect([sent.code, sent.closeCode]).toEqual([FluxionErrorCodes.CONNECTION_CLOSED, 1008]);
  });

  it('a range with positive bounds still goes through', async () => {
    const c = client();
    await c.insertMultipleRecords([1, 2, 3].map((ts) => ({ col: 'range', doc: 'd', ts, data: 'x' })));
    await c.deleteRecordsRange({ col: 'range', doc: 'd', fromTs: 1, toTs: 2 });
    expect(server.records('range', 'd')).toEqual([{ ts: 3, data: 'x' }]);
  });
});

describe('answers dropped once more than 16 MiB wait for one socket', () => {
  it('the dropped requests time out, the socket stays open, and later requests are answered', async () => {
    const c = client();
    const value = 'v'.repeat(1024 * 1024);
    await c.setValue({ col: 'trap', key: 'big', value });
    await c.setValue({ col: 'trap', key: 'small', value: 's' });
    // Held answers leave together when the delay ends: 40 MiB written at once, far more than
    // the kernel's socket buffers take, so the server's own queue passes 16 MiB.
    server.setFaults({ ackDelayMs: 100 });
    const n = 40;
    const outcomes = await Promise.all(
      Array.from({ length: n }, () =>
        c.getValue({ col: 'trap', key: 'big' }, { timeoutMs: 5000 }).then(
          (v) => (v === value ? 'answered' : 'wrong'),
          (err: { code?: string }) => err.code,
        ),
      ),
    );
    const answered = outcomes.filter((o) => o === 'answered').length;
    expect(answered).toBeGreaterThan(0);
    expect(answered).toBeLessThan(n);
    expect(outcomes.filter((o) => o !== 'answered').every((o) => o === FluxionErrorCodes.TIMEOUT)).toBe(true);
    expect(c.connected).toBe(true);
    server.setFaults({ ackDelayMs: 0 });
    expect(await c.getValue({ col: 'trap', key: 'small' })).toBe('s');
  });
});
