import { afterEach, describe, expect, it } from 'vitest';
import { Agent } from '../../src/agent.js';
import { DevServer } from '../../src/devserver/index.js';
import { agentSettings, makeRecords, memoryLogger, missingOn, TEST_KEY, ingest } from '../helpers/agent.js';
import { freePort } from '../helpers/ports.js';
import { tempDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';

/** Queue + sender in this process against a real dev server over a real socket. */
describe('sender through outages', () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  async function setup(overrides: Parameters<typeof agentSettings>[2] = {}, faults: ConstructorParameters<typeof DevServer>[0]['faults'] = {}) {
    const dir = tempDir();
    const port = await freePort();
    const server = new DevServer({ port, masterKey: TEST_KEY, faults });
    const { logger, lines } = memoryLogger();
    const agent = new Agent(agentSettings(dir.path, `ws://127.0.0.1:${port}`, overrides), logger);
    cleanups.push(() => dir.cleanup());
    cleanups.push(() => server.stop());
    cleanups.push(() => agent.stop());
    return { dir, port, server, agent, lines };
  }

  function ingestAll(agent: Agent, records: ReturnType<typeof makeRecords>, chunk = 1000): void {
    for (let i = 0; i < records.length; i += chunk) ingest(agent, records.slice(i, i + chunk));
  }

  it.each([false, true])('delivers 100,000 records queued while the server was down, every one by identity (compression: %s)', async (compression) => {
    const { server, agent } = await setup({ fluxiondb: { compression } });
    await agent.start();
    const records = makeRecords(100_000);
    ingestAll(agent, records);
    await new Promise((r) => setTimeout(r, 300));
    expect(agent.status().queue.depth).toBe(100_000);
    expect(agent.status().sender.reconnects).toBeGreaterThan(0);

    await server.start();
    await waitFor(() => agent.status().queue.depth === 0, { timeoutMs: 60_000, what: 'queue drained' });
    expect(server.recordCount()).toBe(100_000);
    expect(missingOn(server, records)).toEqual([]);
    const stats = agent.status().queue;
    expect(stats.sent).toBe(100_000);
    expect(stats.dropped).toBe(0);
    expect(stats.deadLettered).toBe(0);
  });

  it.each([false, true])('survives a server restart in the middle of a drain: what the dead server held is sent again (compression: %s)', async (compression) => {
    const { server, agent, port } = await setup({ fluxiondb: { compression } }, { ackDelayMs: 2 });
    const records = makeRecords(40_000);
    await server.start();
    await agent.start();
    ingestAll(agent, records);
    await waitFor(() => server.recordCount() >= 10_000, { timeoutMs: 30_000, what: 'part of the drain' });
    await server.stop();
    // The same port, an empty memory: everything the old server acked is gone with it.
    const reborn = new DevServer({ port, masterKey: TEST_KEY });
    cleanups.push(() => reborn.stop());
    await reborn.start();
    await waitFor(() => agent.status().queue.depth === 0 && missingOn(reborn, records).length === 0, {
      timeoutMs: 60_000,
      what: 'every record on the new server',
    });
    expect(agent.status().sender.resentRecords).toBeGreaterThan(0);
  });

  it('keeps going when acks come after the request timeout, then drains when they are quick again', async () => {
    const { server, agent } = await setup({ fluxiondb: { requestTimeoutMs: 300 }, sender: { requestTimeoutMs: 300 } }, { ackDelayMs: 800 });
    await server.start();
    await agent.start();
    const records = makeRecords(5_000);
    ingestAll(agent, records);
    await waitFor(() => agent.status().sender.lastError?.code === 'FLUXION_ERR_TIMEOUT', { what: 'a timeout' });
    expect(agent.status().queue.sent).toBe(0);
    server.setFaults({ ackDelayMs: 0 });
    await waitFor(() => agent.status().queue.depth === 0, { timeoutMs: 30_000, what: 'drain' });
    expect(missingOn(server, records)).toEqual([]);
    expect(agent.status().queue.deadLettered).toBe(0);
  });

  it('delivers everything when the server closes the socket after every few frames, and condemns nothing', async () => {
    const { server, agent } = await setup({}, { closeAfterFrames: 7 });
    await server.start();
    await agent.start();
    const records = makeRecords(30_000);
    ingestAll(agent, records);
    await waitFor(() => agent.status().queue.depth === 0, { timeoutMs: 60_000, what: 'drain' });
    expect(missingOn(server, records)).toEqual([]);
    expect(agent.status().queue.deadLettered).toBe(0);
    expect(agent.status().sender.connections).toBeGreaterThan(3);
  });

  it('stops sending on a refused key, says so loudly, keeps the data, and drains once the key is valid', async () => {
    const { server, agent, lines } = await setup({ fluxiondb: { apiKey: 'reader-key-xyz' } });
    await server.start();
    await agent.start();
    const records = makeRecords(2_000);
    ingestAll(agent, records);
    await waitFor(() => agent.status().sender.state === 'auth_failed', { what: 'auth_failed state' });
    expect(agent.status().sender.lastError?.code).toBe('FLUXION_ERR_AUTH');
    expect(lines().some((l) => l.level === 50 && String(l.msg).includes('refused the API key'))).toBe(true);
    expect(agent.status().queue.depth).toBe(2_000);

    // A readonly key connects but may not insert: permission denied, same treatment.
    const admin = new (await import('../../src/client/index.js')).FluxionClient({ url: server.url, apiKey: TEST_KEY });
    cleanups.push(() => admin.close());
    await admin.addApiKey('reader-key-xyz', 'readonly');
    await waitFor(() => agent.status().sender.lastError?.code === 'FLUXION_ERR_PERMISSION_DENIED', { what: 'permission denied' });
    expect(agent.status().queue.depth).toBe(2_000);

    await admin.addApiKey('reader-key-xyz', 'read_write');
    await waitFor(() => agent.status().queue.depth === 0, { timeoutMs: 20_000, what: 'drain after the key was fixed' });
    expect(missingOn(server, records)).toEqual([]);
    // The key never reaches a log line.
    expect(JSON.stringify(lines())).not.toContain('reader-key-xyz');
  });

  it('live_first: a fresh reading reaches the server while a backlog is still draining', async () => {
    const { server, agent } = await setup({ sender: { window: 1, batchMaxRecords: 500 } }, { ackDelayMs: 20 });
    await agent.start();
    const backlog = makeRecords(40_000);
    ingestAll(agent, backlog);
    await server.start();
    await waitFor(() => server.recordCount() >= 1_000, { timeoutMs: 20_000, what: 'backlog started draining' });
    const fresh = { col: 'telemetry', doc: 'fresh-device', ts: Date.now(), data: '{"fresh":true}' };
    ingest(agent, [fresh]);
    await waitFor(() => server.records('telemetry', 'fresh-device').length === 1, { timeoutMs: 10_000, what: 'the fresh reading' });
    expect(server.recordCount()).toBeLessThan(backlog.length);
    await waitFor(() => agent.status().queue.depth === 0, { timeoutMs: 60_000, what: 'drain' });
    expect(missingOn(server, backlog)).toEqual([]);
  });

  it('oldest_first: the backlog goes out strictly before newer readings', async () => {
    const { server, agent } = await setup({ sender: { window: 1, batchMaxRecords: 500, order: 'oldest_first' } }, { ackDelayMs: 5 });
    await agent.start();
    ingestAll(agent, makeRecords(5_000));
    await server.start();
    await waitFor(() => server.recordCount() >= 500, { timeoutMs: 20_000, what: 'drain started' });
    ingest(agent, [{ col: 'telemetry', doc: 'fresh-device', ts: Date.now(), data: '{}' }]);
    await waitFor(() => server.records('telemetry', 'fresh-device').length === 1, { timeoutMs: 20_000, what: 'the fresh reading' });
    expect(server.recordCount()).toBe(5_001);
  });

  it('paces a replay to the configured records/s cap', async () => {
    const { server, agent } = await setup({ sender: { maxRecordsPerSecond: 5_000, batchMaxRecords: 500 } });
    await agent.start();
    ingestAll(agent, makeRecords(15_000));
    await server.start();
    const t0 = Date.now();
    await waitFor(() => agent.status().queue.depth === 0, { timeoutMs: 30_000, what: 'drain' });
    // One second of burst, then 5,000/s: 15,000 records need at least about two seconds.
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1_800);
  });
});
