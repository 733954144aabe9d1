import { afterEach, describe, expect, it } from 'vitest';
import { FluxionClient } from '../../src/client/index.js';
import type { FluxionRecord } from '../../src/client/types.js';
import { DevServer } from '../../src/devserver/index.js';
import { Agent } from '../../src/agent.js';
import { SqliteQueue } from '../../src/queue/index.js';
import { agentSettings, makeRecords, memoryLogger, missingOn, TEST_KEY } from '../helpers/agent.js';
import { startAgentProcess, type AgentProcess } from '../helpers/agent-process.js';
import { startCli } from '../helpers/cli.js';
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
    const startServer = async (): Promise<ReturnType<typeof startCli>> => {
      const s = startCli(['dev-server', '--port', String(port), '--secret-key', TEST_KEY]);
      killOnCleanup(s);
      await waitFor(() => s.output().includes('listening on'), { what: 'dev server listening' });
      return s;
    };
    let server = await startServer();
    const { logger } = memoryLogger();
    const agent = new Agent(agentSettings(dir.path, url), logger);
    await agent.start();
    cleanups.push(() => agent.stop());

    // A live stream: 20 readings every 10 ms from 20 devices.
    const sent: FluxionRecord[] = [];
    let n = 0;
    const feed = setInterval(() => {
      const batch = makeRecords(20, { start: n, docs: 20, baseTs: 1_750_000_000_000 });
      n += 20;
      sent.push(...batch);
      agent.ingest(batch);
    }, 10);
    cleanups.push(() => clearInterval(feed));

    await waitFor(() => agent.status().queue.sent >= 2_000, { timeoutMs: 20_000, what: 'acks before the crash' });
    server.child.kill('SIGKILL');
    await server.exited;
    const ackedBeforeCrash = agent.status().queue.sent;
    await new Promise((r) => setTimeout(r, 500));
    server = await startServer();
    await new Promise((r) => setTimeout(r, 1_000));
    clearInterval(feed);
    await waitFor(() => agent.status().queue.depth === 0, { timeoutMs: 30_000, what: 'queue drained' });

    // Read back through a real client: the server runs in another process.
    const reader = new FluxionClient({ url, apiKey: TEST_KEY });
    cleanups.push(() => reader.close());
    const held = new Set<string>();
    for (let d = 0; d < 20; d++) {
      const points = await reader.fetchDocument({ col: 'telemetry', doc: `device-${d}`, from: 1, to: 2_000_000_000_000 });
      for (const p of points) held.add(`device-${d}/${p.ts}/${p.data}`);
    }
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
    agent.ingest(records);
    await waitFor(() => agent.status().queue.depth === 0, { what: 'drain' });
    expect(missingOn(server, records)).toEqual([]);
  });
});
