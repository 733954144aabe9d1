import { afterEach, describe, expect, it } from 'vitest';
import { Agent } from '../../src/agent.js';
import { DevServer } from '../../src/devserver/index.js';
import { AgentError, ErrorCodes } from '../../src/errors.js';
import { agentSettings, ingest, makeRecords, memoryLogger, missingOn, TEST_KEY } from '../helpers/agent.js';
import { tempDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';

/**
 * An ack the queue cannot record (not a full disk: those wait in memory in the queue) makes
 * the sender pause with backoff and send the batch again, logged once with a count rather
 * than a line per attempt; every reading still lands.
 */
describe('the sender when the queue cannot record an ack', () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  it('backs off, re-sends, logs at a bounded rate, and loses nothing', async () => {
    const dir = tempDir();
    const server = new DevServer({ port: 0, masterKey: TEST_KEY });
    await server.start();
    const { logger, lines } = memoryLogger();
    const agent = new Agent(agentSettings(dir.path, server.url, { sender: { backoffBaseMs: 20, backoffCapMs: 100 } }), logger);
    cleanups.push(() => dir.cleanup(), () => server.stop(), () => agent.stop());
    await agent.start();
    let failures = 6;
    const ack = agent.queue.ack.bind(agent.queue);
    agent.queue.ack = (lease, ids) => {
      if (failures > 0) {
        failures--;
        throw new AgentError(ErrorCodes.QUEUE_IO, 'queue ack failed: disk I/O error (test)');
      }
      return ack(lease, ids);
    };
    const records = makeRecords(5_000);
    ingest(agent, records);
    await waitFor(() => agent.status().queue.depth === 0, { timeoutMs: 30_000, what: 'queue drained' });
    expect(failures).toBe(0);
    expect(missingOn(server, records)).toEqual([]);
    expect(agent.status().queue).toMatchObject({ sent: 5_000, dropped: 0 });
    const logged = lines().filter((l) => String(l.msg).startsWith('cannot record an ack'));
    // Not a line per attempt: the first at once, then at most one per 10 s with the count.
    expect(logged.length).toBeGreaterThanOrEqual(1);
    expect(logged.length).toBeLessThan(6);
    expect(logged[0]).toMatchObject({ failures: 1 });
  });
});
