/**
 * The client against a misbehaving dev server: restarts, slow acks, refused connections,
 * 401s, denied inserts, and close() in every state. The API key never shows in an error.
 */
import { createServer, type Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { inspect } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { DevServer } from '../../src/devserver/index.js';
import {
  FluxionClient,
  type FluxionError,
  FluxionErrorCodes,
  type FluxionClientOptions,
} from '../../src/client/index.js';
import { freePort } from '../helpers/ports.js';
import { rejection } from '../helpers/rejection.js';

const MASTER = 'Sup3r-Secret-Master-Key-4711';
const servers: DevServer[] = [];
const clients: FluxionClient[] = [];
const httpServers: Server[] = [];

async function devServer(faults: ConstructorParameters<typeof DevServer>[0]['faults'] = {}): Promise<DevServer> {
  const s = new DevServer({ port: 0, masterKey: MASTER, faults });
  servers.push(s);
  await s.start();
  return s;
}

function client(url: string, options: Partial<FluxionClientOptions> = {}): FluxionClient {
  const c = new FluxionClient({ url, apiKey: MASTER, requestTimeoutMs: 5000, reconnect: false, ...options });
  clients.push(c);
  return c;
}


/** Every text an error exposes: message, toString, inspect, and the same for its causes. */
function exposedText(err: unknown): string {
  const parts: string[] = [];
  let e: unknown = err;
  for (let depth = 0; e !== undefined && e !== null && depth < 5; depth++) {
    parts.push(String(e), inspect(e), e instanceof Error ? e.message : '');
    e = e instanceof Error ? e.cause : undefined;
  }
  return parts.join('\n');
}

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await Promise.all(servers.splice(0).map((s) => s.stop()));
  await Promise.all(httpServers.splice(0).map((h) => new Promise((r) => h.close(r))));
});

describe('server restarted mid-request', () => {
  it('fails the request in flight with CONNECTION_CLOSED and the next operation reconnects', async () => {
    const server = await devServer({ ackDelayMs: 5000 });
    const c = client(server.url);
    const opened: number[] = [];
    const closed: number[] = [];
    c.on('open', (e) => opened.push(e.connection));
    c.on('close', (e) => closed.push(e.code));
    await c.connect();
    const pending = rejection(c.setValue({ col: 'kv', key: 'k', value: 'v' }));
    expect(c.inFlight).toBe(1);
    await server.stop();
    const err = await pending;
    expect([err.code, err.closeCode, err.requestType]).toEqual([FluxionErrorCodes.CONNECTION_CLOSED, 1006, 'sval']);
    expect(c.connected).toBe(false);
    // No background reconnect: nothing happens until the next operation.
    await new Promise((r) => setTimeout(r, 200));
    expect(opened).toEqual([1]);
    await server.start();
    server.setFaults({ ackDelayMs: 0 });
    // Re-sending after a close is the caller's choice (inserts and sval are idempotent).
    await c.setValue({ col: 'kv', key: 'k', value: 'v' });
    expect(await c.getValue({ col: 'kv', key: 'k' })).toBe('v');
    expect(opened).toEqual([1, 2]);
    expect(closed).toEqual([1006]);
  });

  it('closeAfterFrames: the last frame is lost and every request pipelined with it fails at once', async () => {
    const server = await devServer({ closeAfterFrames: 2 });
    const c = client(server.url);
    await c.connect();
    const first = c.getValue({ col: 'kv', key: 'a' });
    const second = rejection(c.getValue({ col: 'kv', key: 'b' }));
    const third = rejection(c.getValue({ col: 'kv', key: 'c' }));
    expect(await first).toBe('');
    const [e2, e3] = await Promise.all([second, third]);
    expect([e2.code, e2.closeCode]).toEqual([FluxionErrorCodes.CONNECTION_CLOSED, 1011]);
    expect([e3.code, e3.closeCode]).toEqual([FluxionErrorCodes.CONNECTION_CLOSED, 1011]);
  });
});

describe('timeouts', () => {
  it('an ack slower than the timeout fails with TIMEOUT, the late answer is ignored and the socket stays usable', async () => {
    const server = await devServer();
    const c = client(server.url, { requestTimeoutMs: 150 });
    const opened: number[] = [];
    c.on('open', (e) => opened.push(e.connection));
    await c.setValue({ col: 'kv', key: 'k', value: 'old' });
    server.setFaults({ ackDelayMs: 400 });
    const err = await rejection(c.getValue({ col: 'kv', key: 'k' }));
    expect([err.code, err.requestType]).toEqual([FluxionErrorCodes.TIMEOUT, 'gval']);
    expect(c.inFlight).toBe(0);
    server.setFaults({ ackDelayMs: 0 });
    // The late answer to the timed-out gval arrives first; it must not be taken for this one.
    expect(await c.getValues({ col: 'kv' }, { timeoutMs: 2000 })).toEqual({ k: 'old' });
    expect(c.connected).toBe(true);
    expect(opened).toEqual([1]);
  });

  it('a per-call timeoutMs overrides requestTimeoutMs', async () => {
    const server = await devServer({ ackDelayMs: 300 });
    const c = client(server.url, { requestTimeoutMs: 5000 });
    await c.connect();
    // The answer would come after 300 ms; only the per-call 50 ms can make this a TIMEOUT.
    const err = await rejection(c.fetchCollections({ timeoutMs: 50 }));
    expect([err.code, err.message]).toEqual([FluxionErrorCodes.TIMEOUT, 'no answer to cols within 50 ms']);
  });

  it('an AbortSignal cancels before sending (nothing sent) and while waiting (answer ignored)', async () => {
    const server = await devServer({ ackDelayMs: 300 });
    const c = client(server.url);
    await c.connect();
    const ac = new AbortController();
    ac.abort(new Error('not needed'));
    const before = server.frameCounts.get('gval') ?? 0;
    const early = await rejection(c.getValue({ col: 'kv', key: 'k' }, { signal: ac.signal }));
    expect(early.code).toBe(FluxionErrorCodes.ABORTED);
    expect((early.cause as Error).message).toBe('not needed');
    expect(server.frameCounts.get('gval') ?? 0).toBe(before);
    const late = new AbortController();
    const pending = rejection(c.getValue({ col: 'kv', key: 'k' }, { signal: late.signal }));
    expect(c.inFlight).toBe(1);
    late.abort();
    expect((await pending).code).toBe(FluxionErrorCodes.ABORTED);
    expect(c.inFlight).toBe(0);
    server.setFaults({ ackDelayMs: 0 });
    expect(await c.fetchCollections()).toEqual([]);
  });
});

describe('authentication', () => {
  it('an unknown key rejects at once with AUTH, status 401 and the server text', async () => {
    const server = await devServer();
    const c = client(server.url, { apiKey: 'not-a-key', reconnect: { baseMs: 10, capMs: 20, maxAttempts: Infinity } });
    const retries: number[] = [];
    c.on('reconnecting', (e) => retries.push(e.attempt));
    const err = await rejection(c.connect());
    expect([err.code, err.status, err.serverMessage]).toEqual([FluxionErrorCodes.AUTH, 401, 'Unknown API key']);
    expect(retries).toEqual([]);
  });

  it('an empty key gets 401 Missing API key parameter, and operations reject the same way', async () => {
    const server = await devServer();
    const c = client(server.url, { apiKey: '' });
    const err = await rejection(c.getKeys({ col: 'kv' }));
    expect([err.code, err.status, err.serverMessage]).toEqual([FluxionErrorCodes.AUTH, 401, 'Missing API key parameter']);
  });

  it('a 401 is not retried: one HTTP request per connect call, even with unlimited retries', async () => {
    let upgrades = 0;
    const http = createServer();
    httpServers.push(http);
    http.on('upgrade', (_req, socket) => {
      upgrades++;
      socket.end('HTTP/1.1 401 Unauthorized\r\nContent-Type: text/plain\r\nContent-Length: 15\r\nConnection: close\r\n\r\nUnknown API key');
    });
    const port = await freePort();
    await new Promise<void>((r) => http.listen(port, '127.0.0.1', r));
    const c = client(`ws://127.0.0.1:${port}`, { reconnect: { baseMs: 1, capMs: 5 } });
    const [a, b] = await Promise.all([rejection(c.connect()), rejection(c.fetchCollections())]);
    expect(a).toBe(b); // concurrent callers share the attempt
    expect([a.code, a.serverMessage]).toEqual([FluxionErrorCodes.AUTH, 'Unknown API key']);
    await new Promise((r) => setTimeout(r, 100));
    expect(upgrades).toBe(1);
    // A later call tries again (the key may have been added meanwhile), once.
    await rejection(c.connect());
    expect(upgrades).toBe(2);
  });
});

describe('permission denied on inserts', () => {
  it('denyInserts: PERMISSION_DENIED, the socket stays open and reads work', async () => {
    const server = await devServer({ denyInserts: true });
    const c = client(server.url);
    const err = await rejection(c.insertMultipleRecords([{ col: 'c', doc: 'd', ts: 1, data: '{}' }]));
    expect([err.code, err.serverMessage, err.requestType]).toEqual([FluxionErrorCodes.PERMISSION_DENIED, 'permission denied', 'ins']);
    expect(c.connected).toBe(true);
    expect(await c.fetchCollections()).toEqual([]);
  });
});

describe('connecting', () => {
  it('retries refused connections with backoff and succeeds; concurrent callers share the attempt', async () => {
    const server = await devServer();
    server.setFaults({ refuseConnectionsMs: 400 });
    const c = client(server.url, { reconnect: { baseMs: 40, capMs: 80 } });
    const events: Array<{ attempt: number; delayMs: number; code: string | undefined; status: number | undefined }> = [];
    c.on('reconnecting', (e) => events.push({ attempt: e.attempt, delayMs: e.delayMs, code: (e.error as FluxionError).code, status: (e.error as FluxionError).status }));
    const opened: number[] = [];
    c.on('open', (e) => opened.push(e.connection));
    const started = Date.now();
    const [, cols, keys] = await Promise.all([c.connect(), c.fetchCollections(), c.getKeys({ col: 'x' })]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(350);
    expect(cols).toEqual([]);
    expect(keys).toEqual([]);
    expect(opened).toEqual([1]);
    expect(events.length).toBeGreaterThanOrEqual(2);
    events.forEach((e, i) => {
      expect(e.attempt).toBe(i + 1);
      expect(e.code).toBe(FluxionErrorCodes.CONNECT);
      expect(e.status).toBe(503);
      expect(e.delayMs).toBeGreaterThanOrEqual(0);
      expect(e.delayMs).toBeLessThan(i === 0 ? 40 : 80);
    });
  });

  it('gives up after maxAttempts with CONNECT', async () => {
    const port = await freePort(); // nothing listens there
    const c = client(`ws://127.0.0.1:${port}`, { reconnect: { baseMs: 5, capMs: 10, maxAttempts: 3 } });
    const retries: number[] = [];
    c.on('reconnecting', (e) => retries.push(e.attempt));
    const err = await rejection(c.connect());
    expect(err.code).toBe(FluxionErrorCodes.CONNECT);
    expect(err.message).toMatch(new RegExp(`^gave up connecting to ws://127\\.0\\.0\\.1:${port} after 3 attempt\\(s\\): cannot connect to`));
    expect(retries).toEqual([1, 2]);
  });

  it('times out an upgrade that never answers (connectTimeoutMs)', async () => {
    const http = createServer();
    httpServers.push(http);
    const held: Duplex[] = [];
    http.on('upgrade', (_req, socket) => void held.push(socket)); // never answers
    const port = await freePort();
    await new Promise<void>((r) => http.listen(port, '127.0.0.1', r));
    const c = client(`ws://127.0.0.1:${port}`, { connectTimeoutMs: 100 });
    const err = await rejection(c.connect());
    expect(err.code).toBe(FluxionErrorCodes.CONNECT);
    expect(err.message).toContain('no ready frame within connectTimeoutMs (100 ms)');
    expect(held).toHaveLength(1);
    for (const socket of held) socket.destroy();
  });
});

describe('close()', () => {
  it('is harmless twice, and operations after it reject with CLIENT_CLOSED', async () => {
    const server = await devServer();
    const c = client(server.url);
    const closes: Array<{ code: number; reason: string }> = [];
    c.on('close', (e) => closes.push(e));
    await c.connect();
    const first = c.close();
    const second = c.close();
    expect(second).toBe(first);
    await first;
    await c.close();
    expect(c.connected).toBe(false);
    expect(closes).toEqual([{ code: 1000, reason: 'client closed' }]);
    expect((await rejection(c.fetchCollections())).code).toBe(FluxionErrorCodes.CLIENT_CLOSED);
    expect((await rejection(c.connect())).code).toBe(FluxionErrorCodes.CLIENT_CLOSED);
  });

  it('fails pending requests with CLIENT_CLOSED at once', async () => {
    const server = await devServer({ ackDelayMs: 5000 });
    const c = client(server.url);
    await c.connect();
    const p1 = rejection(c.getValue({ col: 'kv', key: 'a' }));
    const p2 = rejection(c.insertSingleRecord({ col: 'c', doc: 'd', ts: 1, data: '{}' }));
    expect(c.inFlight).toBe(2);
    const started = Date.now();
    void c.close();
    const [e1, e2] = await Promise.all([p1, p2]);
    expect(Date.now() - started).toBeLessThan(2000); // the acks would take 5 s
    expect([e1.code, e1.requestType]).toEqual([FluxionErrorCodes.CLIENT_CLOSED, 'gval']);
    expect([e2.code, e2.requestType]).toEqual([FluxionErrorCodes.CLIENT_CLOSED, 'ins']);
    expect(c.inFlight).toBe(0);
  });

  it('stops a connect that is retrying', async () => {
    const server = await devServer();
    server.setFaults({ refuseConnectionsMs: 60_000 });
    const c = client(server.url, { reconnect: { baseMs: 20, capMs: 40 } });
    const retried = new Promise((r) => c.once('reconnecting', r));
    const pending = rejection(c.connect());
    await retried;
    await c.close();
    expect((await pending).code).toBe(FluxionErrorCodes.CLIENT_CLOSED);
  });
});

describe('the API key never leaks', () => {
  it('appears in no error message, cause, toString or inspect', async () => {
    const server = await devServer();
    const errors: unknown[] = [];
    const refusedPort = await freePort();
    const down = client(`ws://127.0.0.1:${refusedPort}/?x=1`, { connectionName: 'gw' });
    errors.push(await rejection(down.connect()));
    server.setFaults({ refuseConnectionsMs: 60_000 });
    const refused = client(server.url);
    errors.push(await rejection(refused.connect()));
    server.setFaults({ refuseConnectionsMs: 0 });
    const wrong = client(server.url, { apiKey: `${MASTER}-wrong` });
    errors.push(await rejection(wrong.connect()));
    const c = client(server.url, { requestTimeoutMs: 50 });
    await c.addApiKey(`${MASTER}-child`, 'readonly');
    errors.push(await rejection(c.addApiKey(`${MASTER}-child`, 'root' as never)));
    errors.push(await rejection(c.removeApiKey(MASTER)));
    server.setFaults({ ackDelayMs: 200 });
    errors.push(await rejection(c.fetchCollections()));
    const sliced = rejection(c.getValue({ col: 'kv', key: 'k' }, { timeoutMs: 5000 }));
    await server.stop();
    errors.push(await sliced);
    try {
      new FluxionClient({ url: `ws://h/?api-key=${MASTER}`, apiKey: MASTER });
    } catch (err) {
      errors.push(err);
    }
    expect(errors.map((e) => (e as FluxionError).code)).toEqual([
      FluxionErrorCodes.CONNECT,
      FluxionErrorCodes.CONNECT,
      FluxionErrorCodes.AUTH,
      FluxionErrorCodes.VALIDATION,
      FluxionErrorCodes.SERVER,
      FluxionErrorCodes.TIMEOUT,
      FluxionErrorCodes.CONNECTION_CLOSED,
      FluxionErrorCodes.VALIDATION,
    ]);
    for (const err of errors) expect(exposedText(err)).not.toContain(MASTER);
    for (const cl of [down, refused, wrong, c]) {
      expect(String(cl)).not.toContain(MASTER);
      expect(inspect(cl, { depth: 5 })).not.toContain(MASTER);
      expect(JSON.stringify(cl)).not.toContain(MASTER);
    }
    expect(String(c)).toBe(`FluxionClient(${server.url})`);
  });
});
