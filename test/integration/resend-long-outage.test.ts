import { afterEach, describe, expect, it } from 'vitest';
import { FluxionClient } from '../../src/client/index.js';
import { DevServer } from '../../src/devserver/index.js';
import { SqliteQueue } from '../../src/queue/index.js';
import { Sender } from '../../src/sender/sender.js';
import { agentSettings, makeRecords, memoryLogger, missingOn, TEST_KEY } from '../helpers/agent.js';
import { freePort } from '../helpers/ports.js';
import { tempDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';

/**
 * Issue 11 §0: the server SIGKILLed (here: stopped, and started again with an empty memory,
 * which forgets more than the real server does) and back only after an outage longer than
 * the resend window. The agent's clock is injected, so "45 s" and "3 minutes" of downtime
 * pass in milliseconds while everything else (queue file, sockets, server) is real.
 */
describe('resend after an outage longer than the resend window', () => {
  const cleanups: Array<() => Promise<unknown> | unknown> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  /** The queue and sender of one agent process, on a clock that runs `offset` ms ahead. */
  function agentParts(dirPath: string, url: string, clock: () => number) {
    const settings = agentSettings(dirPath, url);
    const { logger, lines } = memoryLogger();
    const queue = new SqliteQueue(settings.queue, { now: clock });
    const client = new FluxionClient({ ...settings.fluxiondb, reconnect: false });
    const sender = new Sender(settings.sender, { queue, client, logger, now: clock });
    queue.start();
    sender.start();
    let stopped = false;
    const stop = async (): Promise<void> => {
      if (stopped) return;
      stopped = true;
      await sender.stop(2000);
      queue.stop();
    };
    cleanups.push(stop);
    const ingest = (records: ReturnType<typeof makeRecords>): void => {
      queue.append(records);
      sender.notify(records.length);
    };
    return { queue, sender, lines, ingest, stop };
  }

  async function outage(downMs: number, { restartAgent }: { restartAgent: boolean }) {
    const dir = tempDir();
    cleanups.push(() => dir.cleanup());
    const port = await freePort();
    let offset = 0;
    const clock = (): number => Date.now() + offset;
    const server = new DevServer({ port, masterKey: TEST_KEY });
    await server.start();
    cleanups.push(() => server.stop());
    let agent = agentParts(dir.path, server.url, clock);

    // Readings acked in the seconds before the crash: the server holds them in memory only.
    const before = makeRecords(5_000);
    agent.ingest(before);
    await waitFor(() => agent.queue.stats().depth === 0, { what: 'acked before the crash' });
    expect(missingOn(server, before)).toEqual([]);
    await server.stop();
    await waitFor(() => agent.sender.status().state === 'backoff', { what: 'the sender noticed the outage' });

    // Readings keep coming while the server is down; the outage lasts `downMs` on the agent's clock.
    const during = makeRecords(2_000, { start: 5_000 });
    agent.ingest(during);
    offset += downMs / 2;
    if (restartAgent) {
      await agent.stop();
      agent = agentParts(dir.path, server.url, clock);
    }
    offset += downMs / 2;

    const reborn = new DevServer({ port, masterKey: TEST_KEY });
    await reborn.start();
    cleanups.push(() => reborn.stop());
    await waitFor(() => agent.queue.stats().depth === 0 && missingOn(reborn, [...before, ...during]).length === 0, {
      timeoutMs: 30_000,
      what: 'every reading on the restarted server',
    });
    const said = agent.lines().find((l) => /^re-sent \d+ readings/.test(String(l.msg)));
    return { agent, said };
  }

  it('45 s of downtime (window 30 s): everything acked before the crash is sent again and the log says how many and why', async () => {
    const { agent, said } = await outage(45_000, { restartAgent: false });
    expect(agent.sender.status().resentRecords).toBeGreaterThanOrEqual(5_000);
    expect(said).toMatchObject({ reason: 'newest_ack_missing', windowMs: 30_000 });
    expect(said!.resent).toBeGreaterThanOrEqual(5_000);
    expect(said!.sinceLastAckMs).toBeGreaterThanOrEqual(45_000);
  });

  it('3 minutes of downtime with an agent restart in the middle: the window still ends at the last ack on file', async () => {
    const { agent, said } = await outage(180_000, { restartAgent: true });
    expect(agent.sender.status().resentRecords).toBeGreaterThanOrEqual(5_000);
    expect(said).toMatchObject({ reason: 'newest_ack_unknown' });
  });

  it('re-sends nothing when the server still holds the newest ack after a long outage (it flushed before it went down)', async () => {
    const dir = tempDir();
    cleanups.push(() => dir.cleanup());
    let offset = 0;
    const server = new DevServer({ port: await freePort(), masterKey: TEST_KEY });
    await server.start();
    cleanups.push(() => server.stop());
    const agent = agentParts(dir.path, server.url, () => Date.now() + offset);
    agent.ingest(makeRecords(1_000));
    await waitFor(() => agent.queue.stats().depth === 0, { what: 'acked' });
    // The same instance comes back with its memory: a network outage, not a crash.
    await server.stop();
    await waitFor(() => agent.sender.status().state === 'backoff', { what: 'the link lost' });
    offset += 120_000;
    await server.start();
    await waitFor(() => agent.sender.status().resendsSkipped === 1, { what: 'the resend skipped' });
    expect(agent.sender.status().resentRecords).toBe(0);
    expect(agent.lines().some((l) => l.msg === 're-sent nothing: the server still holds the newest acked reading')).toBe(true);
  });
});
