import { afterEach, describe, expect, it } from 'vitest';
import { Agent } from '../../src/agent.js';
import { DevServer } from '../../src/devserver/index.js';
import { agentSettings, makeRecords, memoryLogger, missingOn, TEST_KEY, ingest } from '../helpers/agent.js';
import { freePort } from '../helpers/ports.js';
import { tempDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';

/**
 * live_first with a backlog draining: readings that arrive go out in the next insert, which
 * is topped up from the backlog (one batch, not a small one and a full one). Queue + sender
 * in this process against a real dev server over a real socket.
 */
describe('sender: live readings topped up from the backlog', () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  async function setup(faults: ConstructorParameters<typeof DevServer>[0]['faults'] = {}) {
    const dir = tempDir();
    const port = await freePort();
    const server = new DevServer({ port, masterKey: TEST_KEY, faults: { ackDelayMs: 20, ...faults } });
    const { logger } = memoryLogger();
    // One batch in flight: batches are counted exactly, and a close points at the batch that was out.
    const agent = new Agent(agentSettings(dir.path, `ws://127.0.0.1:${port}`, { sender: { window: 1, batchMaxRecords: 500 } }), logger);
    cleanups.push(() => dir.cleanup(), () => server.stop(), () => agent.stop());
    return { server, agent };
  }

  const fresh = (n: number, data = (i: number) => `{"fresh":${i}}`) =>
    Array.from({ length: n }, (_, i) => ({ col: 'telemetry', doc: `fresh-${i}`, ts: 1_800_000_000_000 + i, data: data(i) }));

  it('live readings ride first in a full batch with backlog rows: every row once, no extra batch', async () => {
    const { server, agent } = await setup();
    // 4,990 backlog + 10 live = 5,000 rows: 10 full batches of 500 when the live ones fill up
    // a batch with backlog rows (a batch of their own would make 11).
    const backlog = makeRecords(4_990);
    await agent.start(); // the server is down: everything queues
    ingest(agent, backlog);
    await server.start();
    await waitFor(() => server.recordCount() >= 1_000, { timeoutMs: 20_000, what: 'backlog started draining' });
    const live = fresh(10);
    ingest(agent, live);
    await waitFor(() => server.records('telemetry', 'fresh-9').length === 1, { timeoutMs: 10_000, what: 'the live readings' });
    expect(server.recordCount()).toBeLessThan(5_000); // they did not wait for the backlog
    await waitFor(() => agent.status().queue.depth === 0, { timeoutMs: 60_000, what: 'drain' });

    expect(missingOn(server, [...backlog, ...live])).toEqual([]);
    expect(server.recordCount()).toBe(5_000);
    const s = agent.status();
    expect(s.sender).toMatchObject({ sentRecords: 5_000, sentBatches: 10, resentRecords: 0, connections: 1, deadLettered: 0 });
    expect(s.queue).toMatchObject({ sent: 5_000, leased: 0, deadLettered: 0 });
  });

  it('a connection dropped by a live reading inside a topped-up batch: the batch is isolated, the reading dead-lettered, every other row delivered once', async () => {
    const { server, agent } = await setup({ poisonText: 'POISON' });
    const backlog = makeRecords(3_000);
    await agent.start(); // the server is down: everything queues
    ingest(agent, backlog);
    await server.start();
    await waitFor(() => server.recordCount() >= 500, { timeoutMs: 20_000, what: 'backlog started draining' });
    const live = fresh(5, (i) => (i === 3 ? '{"fresh":3,"x":"POISON"}' : `{"fresh":${i}}`));
    ingest(agent, live);
    await waitFor(() => agent.status().queue.depth === 0, { timeoutMs: 60_000, what: 'queue settled' });

    const good = [...backlog, ...live.filter((_, i) => i !== 3)];
    expect(missingOn(server, good)).toEqual([]);
    expect(server.recordCount()).toBe(good.length);
    const dead = agent.queue.listDeadLetters({ limit: 10 });
    expect(dead.map((d) => d.record)).toEqual([live[3]]);
    expect(dead[0]!.reason).toContain('connection closed each time this record was sent alone');
    const s = agent.status();
    // Acked in the queue exactly once each (the server would absorb a repeat; the counter would not).
    expect(s.queue).toMatchObject({ sent: good.length, deadLettered: 1, leased: 0 });
    expect(s.sender.sentRecords).toBe(good.length);
    expect(s.sender.deadLettered).toBe(1);
  });
});
