import { afterEach, describe, expect, it } from 'vitest';
import { Agent } from '../../src/agent.js';
import { DevServer } from '../../src/devserver/index.js';
import { agentSettings, makeRecords, memoryLogger, missingOn, TEST_KEY, ingest } from '../helpers/agent.js';
import { tempDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';

describe('poison isolation', () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  async function setup(poisonText: string) {
    const dir = tempDir();
    const server = new DevServer({ port: 0, masterKey: TEST_KEY, faults: { poisonText } });
    await server.start();
    const { logger, lines } = memoryLogger();
    const agent = new Agent(agentSettings(dir.path, server.url), logger);
    cleanups.push(() => dir.cleanup(), () => server.stop(), () => agent.stop());
    return { server, agent, lines };
  }

  it('dead-letters the one record inside a batch of 1,000 that makes the server close the socket; the 999 others arrive', async () => {
    const { server, agent } = await setup('POISON');
    const records = makeRecords(1_000);
    records[637] = { ...records[637]!, data: '{"n":637,"x":"POISON"}' };
    await agent.start();
    ingest(agent, records);
    await waitFor(() => agent.status().queue.depth === 0, { timeoutMs: 60_000, what: 'queue settled' });

    const good = records.filter((_, i) => i !== 637);
    expect(missingOn(server, good)).toEqual([]);
    expect(server.recordCount()).toBe(999);
    const dead = agent.queue.listDeadLetters({ limit: 10 });
    expect(dead).toHaveLength(1);
    expect(dead[0]!.record).toEqual(records[637]);
    expect(dead[0]!.source).toBe('sender');
    expect(dead[0]!.reason).toContain('connection closed each time this record was sent alone');
    expect(agent.status().queue.deadLettered).toBe(1);
    expect(agent.status().sender.deadLettered).toBe(1);
  });

  it('never sends records that would be stored as garbage: the queue dead-letters them, the rest arrive', async () => {
    const { server, agent } = await setup('');
    await agent.start();
    const bad = [
      { col: 'telemetry', doc: '', ts: 1_700_000_000_001, data: '{}' },
      { col: 'telemetry', doc: 'd', ts: 0, data: '{}' },
    ];
    const good = makeRecords(50);
    ingest(agent, [...good.slice(0, 25), ...bad, ...good.slice(25)]);
    await waitFor(() => agent.status().queue.depth === 0, { what: 'queue settled' });
    expect(missingOn(server, good)).toEqual([]);
    expect(server.recordCount()).toBe(50);
    const reasons = agent.queue.listDeadLetters({ limit: 10 }).map((d) => d.reason);
    expect(reasons).toHaveLength(2);
    for (const r of reasons) expect(r).toMatch(/^invalid record: /);
    expect(agent.status().queue.deadLettered).toBe(2);
  });

  it('dead-letters a record larger than the frame limit alone', async () => {
    const { server, agent } = await setup('');
    await agent.start();
    const huge = { col: 'telemetry', doc: 'camera', ts: 1_700_000_000_000, data: JSON.stringify({ blob: 'x'.repeat(9 * 1024 * 1024) }) };
    const records = makeRecords(10);
    ingest(agent, [...records.slice(0, 5), huge, ...records.slice(5)]);
    await waitFor(() => agent.status().queue.depth === 0, { timeoutMs: 20_000, what: 'queue settled' });
    expect(missingOn(server, records)).toEqual([]);
    const dead = agent.queue.listDeadLetters({ limit: 10 });
    expect(dead.map((d) => d.record?.doc)).toEqual(['camera']);
    expect(dead[0]!.reason).toMatch(/^refused: .*frame/);
  });
});
