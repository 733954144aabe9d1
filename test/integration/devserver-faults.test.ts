import { afterEach, describe, expect, it } from 'vitest';
import type { DevServer } from '../../src/devserver/index.js';
import { connect, envelope, refusal, startServer, type TestClient } from '../helpers/devserver-harness.js';

let server: DevServer | undefined;
const clients: TestClient[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await server?.stop();
  server = undefined;
});

async function open(s: DevServer): Promise<TestClient> {
  const c = await connect(s);
  clients.push(c);
  return c;
}

const rec = (ts: number, data = `v${ts}`) => ({ ts, doc: 'd', data, col: 'c' });

describe('fault switches', () => {
  it('ackDelayMs delays every response and keeps their order', async () => {
    server = await startServer({ faults: { ackDelayMs: 150 } });
    const c = await open(server);
    const t0 = Date.now();
    for (let i = 0; i < 30; i++) {
      if (i % 3 === 0) c.send(`${i}`, 'ins', [rec(i + 1)]);
      else if (i % 3 === 1) c.send(`${i}`, 'gval', { col: 'c', key: 'k' });
      else c.send(`${i}`, 'qdoc', { col: 'c', doc: 'd', from: 0, to: 1000, limit: 1, reverse: true });
    }
    const answers = await c.responses(30);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(145);
    expect(answers.map((a) => JSON.parse(a).id)).toEqual(Array.from({ length: 30 }, (_v, i) => `${i}`));
    expect(answers[2]).toBe('{"id":"2","records":[{"ts":1,"data":"v1"}]}');
    server.setFaults({ ackDelayMs: 0 });
    const t1 = Date.now();
    expect(await c.call('gval', { col: 'c', key: 'k' })).toBe('{"id":"r","value":""}');
    expect(Date.now() - t1).toBeLessThan(140);
  });

  it('with an ack delay, a policy close still comes after the earlier answers', async () => {
    server = await startServer({ faults: { ackDelayMs: 100 } });
    const c = await open(server);
    c.send('1', 'cols', 'x');
    c.ws.send('not json');
    c.send('3', 'cols', 'x');
    expect(await c.closed).toEqual({ code: 1008, reason: 'policy violation' });
    expect(c.frames.slice(1)).toEqual(['{"id":"1","collections":[]}']);
  });

  it('closeAfterFrames closes with 1011 after N frames; the last is applied but unanswered', async () => {
    server = await startServer({ faults: { closeAfterFrames: 3 } });
    const c = await open(server);
    c.send('1', 'ins', [rec(1)]);
    c.send('2', 'ins', [rec(2)]);
    c.send('3', 'ins', [rec(3)]);
    c.send('4', 'ins', [rec(4)]);
    expect((await c.closed).code).toBe(1011);
    expect(c.frames.slice(1)).toEqual(['{"id":"1"}', '{"id":"2"}']);
    expect(server.records('c', 'd').map((r) => r.ts)).toEqual([1, 2, 3]);
    server.setFaults({ closeAfterFrames: 0 });
    const again = await open(server);
    for (let i = 0; i < 5; i++) expect(await again.call('cols', 'x')).toBe('{"id":"r","collections":["c"]}');
  });

  it('denyInserts answers permission denied to every ins, live switchable', async () => {
    server = await startServer({ faults: { denyInserts: true } });
    const c = await open(server);
    expect(await c.call('ins', [rec(1)], 'x')).toBe('{"error":"permission denied","id":"x"}');
    expect(await c.call('sval', { col: 'c', key: 'k', value: 'v' })).toBe('{"id":"r"}');
    server.setFaults({ denyInserts: false });
    expect(await c.call('ins', [rec(1)], 'y')).toBe('{"id":"y"}');
    expect(server.recordCount()).toBe(1);
  });

  it('refuseConnectionsMs answers 503 until the time is up', async () => {
    server = await startServer({ faults: { refuseConnectionsMs: 300 } });
    const url = `${server.url}/?api-key=master-key-for-tests`;
    expect((await refusal(url)).status).toBe(503);
    await new Promise((r) => setTimeout(r, 350));
    await open(server);
    server.setFaults({ refuseConnectionsMs: 200 });
    expect((await refusal(url)).status).toBe(503);
  });
});

describe('lifecycle and inspection', () => {
  it('counts request frames per type', async () => {
    server = await startServer();
    const c = await open(server);
    await c.call('sval', { col: 'c', key: 'k', value: 'v' });
    await c.call('sval', { col: 'c', key: 'k', value: 'w' });
    await c.call('gval', { col: 'c', key: 'k' });
    await c.call('auth', 'x');
    expect(Object.fromEntries(server.frameCounts)).toEqual({ sval: 2, gval: 1, auth: 1 });
    expect(server.values('c')).toEqual({ k: 'w' });
  });

  it('start and stop are safe twice; stop cuts open sockets; a restart keeps the port and the data', async () => {
    server = await startServer();
    await server.start();
    const port = server.port;
    expect(server.url).toBe(`ws://127.0.0.1:${port}`);
    const c = await open(server);
    await c.call('ins', [rec(5)]);
    await Promise.all([server.stop(), server.stop()]);
    expect((await c.closed).code).toBe(1006);
    await server.start();
    expect(server.port).toBe(port);
    const again = await open(server);
    expect(await again.call('qdoc', { col: 'c', doc: 'd', from: 0, to: 9 })).toBe('{"id":"r","records":[{"ts":5,"data":"v5"}]}');
    expect(server.collections()).toEqual(['c']);
    expect(server.documents('c')).toEqual(['d']);
  });

  it('takes a 100,000-record pipelined backlog and answers every batch in order', async () => {
    server = await startServer();
    const c = await open(server);
    for (let b = 0; b < 100; b++) {
      const batch = Array.from({ length: 1000 }, (_v, i) => ({ ts: 1_700_000_000_000 + b * 1000 + i, doc: `dev${i % 7}`, data: '{"v":1}', col: 'bulk' }));
      c.ws.send(envelope(`b${b}`, 'ins', batch));
    }
    const answers = await c.responses(100, 30_000);
    expect(answers).toEqual(Array.from({ length: 100 }, (_v, b) => `{"id":"b${b}"}`));
    expect(server.recordCount()).toBe(100_000);
  });
});
