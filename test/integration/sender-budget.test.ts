/**
 * sender.max_bytes_per_second against the dev server, with compression on: the bytes that
 * really crossed the socket (counted by a TCP proxy in between, not by the agent) stay within
 * 10 % of the cap over a one-minute window (as the issue asks) of a backlog drain, a fresh reading still goes
 * ahead of that backlog, and status reports the bytes per hour, day and reading.
 */
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { Agent } from '../../src/agent.js';
import { DevServer } from '../../src/devserver/index.js';
import { agentSettings, ingest, makeRecords, memoryLogger, TEST_KEY } from '../helpers/agent.js';
import { freePort } from '../helpers/ports.js';
import { tempDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';

const CAP = 40_000; // bytes/s
const WINDOW_MS = 60_000;

/** A TCP proxy that counts the bytes going from the agent to the server. */
async function countingProxy(targetPort: number): Promise<{ port: number; bytes: () => number; close: () => Promise<void> }> {
  let upstream = 0;
  const sockets = new Set<Socket>();
  const srv: Server = createServer((client) => {
    const server = createConnection({ port: targetPort, host: '127.0.0.1' });
    for (const s of [client, server]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => undefined);
    }
    client.on('data', (d: Buffer) => {
      upstream += d.length;
    });
    client.pipe(server);
    server.pipe(client);
    client.on('close', () => server.destroy());
    server.on('close', () => client.destroy());
  });
  const port = await freePort();
  await new Promise<void>((r) => srv.listen(port, '127.0.0.1', r));
  return {
    port,
    bytes: () => upstream,
    close: () =>
      new Promise((r) => {
        for (const s of sockets) s.destroy();
        srv.close(() => r());
      }),
  };
}

describe('bandwidth budget', () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  it('holds the measured rate within 10 % of max_bytes_per_second over a minute, live readings first', { timeout: 150_000 }, async () => {
    const dir = tempDir();
    const port = await freePort();
    const server = new DevServer({ port, masterKey: TEST_KEY });
    await server.start();
    const proxy = await countingProxy(port);
    const { logger } = memoryLogger('warn');
    const agent = new Agent(
      agentSettings(dir.path, `ws://127.0.0.1:${proxy.port}`, {
        fluxiondb: { compression: true },
        sender: { maxBytesPerSecond: CAP, batchMaxRecords: 200 },
      }),
      logger,
    );
    cleanups.push(() => dir.cleanup(), () => server.stop(), () => proxy.close(), () => agent.stop());
    // A backlog far larger than the window can carry at the cap.
    const backlog = makeRecords(600_000, { docs: 50 });
    await agent.start();
    for (let i = 0; i < backlog.length; i += 5000) ingest(agent, backlog.slice(i, i + 5000));

    // Past the first second's burst, measure bytes over the window (not latency).
    await waitFor(() => proxy.bytes() > 2 * CAP, { timeoutMs: 30_000, what: 'the drain under way' });
    const b0 = proxy.bytes();
    const t0 = performance.now();
    await new Promise((r) => setTimeout(r, WINDOW_MS));
    const rate = (proxy.bytes() - b0) / ((performance.now() - t0) / 1000);
    expect(agent.status().queue.depth).toBeGreaterThan(0); // the cap, not the backlog, set the pace
    expect(rate).toBeGreaterThan(CAP * 0.9);
    expect(rate).toBeLessThan(CAP * 1.1);

    // A fresh reading goes before the backlog, within the same budget.
    ingest(agent, [{ col: 'telemetry', doc: 'fresh-device', ts: Date.now(), data: '{"live":true}' }]);
    await waitFor(() => server.records('telemetry', 'fresh-device').length === 1, { timeoutMs: 20_000, what: 'the fresh reading' });
    expect(agent.status().queue.depth).toBeGreaterThan(0);

    const wire = agent.status().sender.wire!;
    expect(wire.maxBytesPerSecond).toBe(CAP);
    expect(wire.bytesLastHour).toBe(wire.bytesSent);
    expect(wire.bytesLastDay).toBe(wire.bytesSent);
    // The agent's own count (the socket's) agrees with the proxy's within the bytes still in transit.
    expect(Math.abs(wire.bytesSent - proxy.bytes())).toBeLessThan(CAP);
    expect(wire.bytesPerReading).toBeGreaterThan(0);
    expect(wire.bytesPerReading).toBeLessThan(20); // compressed batches of small readings
  });
});
