import { afterEach, describe, expect, it } from 'vitest';
import { DevServer } from '../../src/devserver/index.js';
import { Agent } from '../../src/agent.js';
import { SqliteQueue } from '../../src/queue/index.js';
import { agentSettings, makeRecords, memoryLogger, missingOn, TEST_KEY, ingest } from '../helpers/agent.js';
import { startAgentProcess, type AgentProcess } from '../helpers/agent-process.js';
import { heldByServer, liveFeed, startDevServerProcess } from '../helpers/devserver-process.js';
import { freePort } from '../helpers/ports.js';
import { tempDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';

/** Crashes of real processes: the sending agent and the server, each killed with SIGKILL. */
describe('crashes', () => {
  const cleanups: Array<() => Promise<unknown> | void> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  function killOnCleanup(p: { child: { kill(sig: NodeJS.Signals): boolean; exitCode: number | null } }): void {
    cleanups.push(() => void (p.child.exitCode === null && p.child.kill('SIGKILL')));
  }

  // Also with compression: a deflated frame cut by the kill must cost nothing either.
  it.each([false, true])('loses nothing when the sending process is killed with SIGKILL in the middle of a drain (compression: %s)', async (compression) => {
    const dir = tempDir();
    cleanups.push(() => dir.cleanup());
    const server = new DevServer({ port: 0, masterKey: TEST_KEY, faults: { ackDelayMs: 3 } });
    await server.start();
    cleanups.push(() => server.stop());
    const settings = agentSettings(dir.path, server.url, { queue: { synchronous: 'full' }, fluxiondb: { compression } });

    // The backlog is committed before the agent process exists.
    const records = makeRecords(60_000);
    const queue = new SqliteQueue(settings.queue);
    queue.start();
    for (let i = 0; i < records.length; i += 1000) queue.append(records.slice(i, i + 1000));
    queue.stop();

    let proc: AgentProcess = startAgentProcess(settings);
    killOnCleanup(proc);
    await waitFor(() => server.recordCount() >= 15_000, { timeoutMs: 30_000, what: 'the drain under way' });
    proc.child.kill('SIGKILL');
    expect((await proc.exited).signal).toBe('SIGKILL');
    expect(server.recordCount()).toBeLessThan(records.length);

    proc = startAgentProcess(settings);
    killOnCleanup(proc);
    await waitFor(() => proc.last()?.depth === 0, { timeoutMs: 60_000, what: 'the drain finished after restart' });
    expect(missingOn(server, records)).toEqual([]);
    proc.child.kill('SIGTERM');
    expect((await proc.exited).code).toBe(0);
  });

  it('the server killed with SIGKILL and restarted empty mid-stream: everything acked before the crash is back, and everything after', async () => {
    const dir = tempDir();
    cleanups.push(() => dir.cleanup());
    const port = await freePort();
    const url = `ws://127.0.0.1:${port}`;
    let server = await startDevServerProcess(port, cleanups);
    const { logger } = memoryLogger();
    const agent = new Agent(agentSettings(dir.path, url), logger);
    await agent.start();
    cleanups.push(() => agent.stop());

    // A live stream: 20 readings every 10 ms from 20 devices.
    const feed = liveFeed((batch) => ingest(agent, batch));
    const sent = feed.sent;
    cleanups.push(() => feed.stop());

    await waitFor(() => agent.status().queue.sent >= 2_000, { timeoutMs: 20_000, what: 'acks before the crash' });
    server.child.kill('SIGKILL');
    await server.exited;
    const ackedBeforeCrash = agent.status().queue.sent;
    await new Promise((r) => setTimeout(r, 500));
    server = await startDevServerProcess(port, cleanups);
    await new Promise((r) => setTimeout(r, 1_000));
    feed.stop();
    await waitFor(() => agent.status().queue.depth === 0, { timeoutMs: 30_000, what: 'queue drained' });

    // Read back through a real client: the server runs in another process.
    const held = await heldByServer(url);
    const missing = sent.filter((r) => !held.has(`${r.doc}/${r.ts}/${r.data}`));
    expect(ackedBeforeCrash).toBeGreaterThanOrEqual(2_000);
    expect(missing).toEqual([]);
    expect(agent.status().sender.resentRecords).toBeGreaterThanOrEqual(ackedBeforeCrash);
  });

  it('moves a corrupt queue file aside, logs it loudly, and starts with a fresh queue', async () => {
    const dir = tempDir();
    cleanups.push(() => dir.cleanup());
    const server = new DevServer({ port: 0, masterKey: TEST_KEY });
    await server.start();
    cleanups.push(() => server.stop());
    const settings = agentSettings(dir.path, server.url);
    const { writeFileSync, readdirSync } = await import('node:fs');
    writeFileSync(settings.queue.path, Buffer.concat([Buffer.from('SQLite format 3\u0000'), Buffer.alloc(8192, 0x5a)]));

    const { logger, lines } = memoryLogger();
    const agent = new Agent(settings, logger);
    await agent.start();
    cleanups.push(() => agent.stop());
    expect(readdirSync(dir.path).some((f) => f.startsWith('queue.db.corrupt-'))).toBe(true);
    expect(lines().some((l) => l.level === 50 && String(l.msg).includes('CORRUPT'))).toBe(true);
    expect(agent.status().queue.corruptFilesMovedAside).toBe(1);

    const records = makeRecords(100);
    ingest(agent, records);
    await waitFor(() => agent.status().queue.depth === 0, { what: 'drain' });
    expect(missingOn(server, records)).toEqual([]);
  });
});
