/**
 * Compression against the dev server over a real socket: frames go deflated, every record
 * arrives, the bytes on the wire are counted by the socket, and the frame limit bounds the
 * inflated size (what the server's 16 MiB limit applies to), not the compressed one.
 */
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import { FluxionClient, FluxionErrorCodes, type FluxionRecord } from '../../src/client/index.js';
import type { DevServer } from '../../src/devserver/index.js';
import { MASTER, startServer } from '../helpers/devserver-harness.js';
import { rejection } from '../helpers/rejection.js';

let server: DevServer;
beforeAll(async () => {
  server = await startServer();
});
afterAll(async () => {
  await server.stop();
});

function readings(n: number, doc: string): FluxionRecord[] {
  return Array.from({ length: n }, (_, i) => ({
    col: 'compress', doc, ts: 1_780_000_000_000 + i * 1000,
    data: JSON.stringify({ temperature: 20 + (i % 37) / 10, humidity: 40 + (i % 11), site: 'plant-3', status: 'ok' }),
  }));
}

async function sendBatch(compression: boolean, doc: string, n: number): Promise<number> {
  const c = new FluxionClient({ url: server.url, apiKey: MASTER, reconnect: false, compression });
  await c.connect();
  const before = c.bytesSent;
  await c.insertMultipleRecords(readings(n, doc));
  const bytes = c.bytesSent - before;
  const stored = await c.fetchDocument({ col: 'compress', doc, from: 1, to: Number.MAX_SAFE_INTEGER });
  expect(stored.map((r) => r.data)).toEqual(readings(n, doc).map((r) => r.data));
  await c.close();
  expect(c.bytesSent).toBeGreaterThan(0); // still readable once closed
  return bytes;
}

describe('client compression', () => {
  it('a batch of 1,000 readings is stored whole and costs at most a quarter of the bytes on the wire', async () => {
    const plain = await sendBatch(false, 'plain', 1000);
    const deflated = await sendBatch(true, 'deflated', 1000);
    expect(plain).toBeGreaterThan(100_000);
    expect(deflated / plain).toBeLessThan(0.25);
  });

  it('offers permessage-deflate with client_no_context_takeover', async () => {
    let offered: string | undefined;
    const wss = new WebSocketServer({ port: 0, perMessageDeflate: { clientNoContextTakeover: true, serverNoContextTakeover: true } });
    wss.on('connection', (ws, req) => {
      offered = req.headers['sec-websocket-extensions'];
      ws.send('{"message":"Authentication successful","type":"ready"}');
    });
    await new Promise((r) => wss.once('listening', r));
    const c = new FluxionClient({ url: `ws://127.0.0.1:${(wss.address() as AddressInfo).port}`, apiKey: 'k', reconnect: false, compression: true });
    await c.connect();
    await c.close();
    await new Promise((r) => wss.close(r));
    expect(offered).toMatch(/permessage-deflate/);
    expect(offered).toMatch(/client_no_context_takeover/);
  });

  it('the frame limit applies to the uncompressed frame: a batch that would deflate to almost nothing is refused before sending', async () => {
    const c = new FluxionClient({ url: server.url, apiKey: MASTER, reconnect: false, compression: true, maxFrameBytes: 64 * 1024 });
    const big = [{ col: 'compress', doc: 'big', ts: 1_780_000_000_000, data: 'x'.repeat(100_000) }];
    const err = await rejection(c.insertMultipleRecords(big));
    expect(err).toMatchObject({ code: FluxionErrorCodes.VALIDATION, field: 'frame' });
    expect(c.bytesSent).toBe(0);
    await c.close();
  });
});
