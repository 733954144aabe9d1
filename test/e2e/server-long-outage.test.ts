import { afterEach, describe, expect, it } from 'vitest';
import { Agent } from '../../src/agent.js';
import type { FluxionRecord } from '../../src/client/types.js';
import { agentSettings, ingest, memoryLogger } from '../helpers/agent.js';
import { heldByServer, liveFeed, startDevServerProcess } from '../helpers/devserver-process.js';
import { freePort } from '../helpers/ports.js';
import { tempDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';

/**
 * Issue 11 §0 with real time and a real process: the dev server SIGKILLed mid-stream and
 * restarted empty 5 s later, with a 1 s resend window, so the outage is five windows long.
 * (Longer outages run on an injected clock: test/integration/resend-long-outage.test.ts.)
 */
describe('the server killed and back after an outage five times the resend window', () => {
  const cleanups: Array<() => Promise<unknown> | void> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  it('every reading acked in the window before the kill is back, and every later one lands', async () => {
    const dir = tempDir();
    cleanups.push(() => dir.cleanup());
    const port = await freePort();
    const url = `ws://127.0.0.1:${port}`;
    let server = await startDevServerProcess(port, cleanups);
    const windowMs = 1_000;
    const { logger, lines } = memoryLogger();
    const agent = new Agent(agentSettings(dir.path, url, { sender: { resendAfterReconnectMs: windowMs } }), logger);
    // When each reading was acked, by this process's clock (the queue stamps the same tick).
    const ackedAt = new Map<FluxionRecord, number>();
    const byKey = new Map<string, FluxionRecord>();
    agent.sender.on('acked', (rows: FluxionRecord[]) => {
      const t = Date.now();
      for (const r of rows) ackedAt.set(byKey.get(`${r.doc}/${r.ts}`)!, t);
    });
    await agent.start();
    cleanups.push(() => agent.stop());

    const feed = liveFeed((batch) => {
      for (const r of batch) byKey.set(`${r.doc}/${r.ts}`, r);
      ingest(agent, batch);
    });
    const sent = feed.sent;
    cleanups.push(() => feed.stop());

    // A few windows' worth of acks, then the crash.
    await waitFor(() => agent.status().queue.sent >= 3_000, { timeoutMs: 30_000, what: 'acks before the crash' });
    server.child.kill('SIGKILL');
    await server.exited;
    const lastAckBeforeKill = Math.max(...ackedAt.values());
    await new Promise((r) => setTimeout(r, 5_000));
    server = await startDevServerProcess(port, cleanups);
    await new Promise((r) => setTimeout(r, 500));
    feed.stop();
    await waitFor(() => agent.status().queue.depth === 0 && lines().some((l) => /^re-sent \d+ readings/.test(String(l.msg))), {
      timeoutMs: 30_000,
      what: 'queue drained and the resend done',
    });

    const held = await heldByServer(url);
    // The restarted server remembers nothing: what was acked long before the kill is gone
    // (the real server would have written it to disk); the window before the last ack and
    // everything not acked before the kill must be there. Half a window of margin covers the
    // few ms between the queue's ack stamp and this test's.
    const mustHave = sent.filter((r) => {
      const t = ackedAt.get(r);
      return t === undefined || t >= lastAckBeforeKill - windowMs / 2;
    });
    const inWindow = mustHave.filter((r) => (ackedAt.get(r) ?? Infinity) <= lastAckBeforeKill);
    expect(inWindow.length).toBeGreaterThan(0);
    expect(mustHave.filter((r) => !held.has(`${r.doc}/${r.ts}/${r.data}`))).toEqual([]);
    const said = lines().find((l) => /^re-sent \d+ readings/.test(String(l.msg)))!;
    expect(said.reason).toBe('newest_ack_missing');
    expect(said.resent).toBeGreaterThanOrEqual(inWindow.length);
  });
});
