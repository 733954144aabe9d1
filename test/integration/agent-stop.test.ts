/**
 * Agent.stop isolates its steps: a step that throws is logged, the others still run, and
 * the queue is closed last whatever happened (issue 12).
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { join } from 'node:path';
import { Agent } from '../../src/agent.js';
import { parseConfig } from '../../src/config/index.js';
import { DevServer } from '../../src/devserver/index.js';
import { isAgentError } from '../../src/errors.js';
import { ingest, makeRecords, memoryLogger, TEST_KEY } from '../helpers/agent.js';
import { tempDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';

describe('Agent.stop with a failing step', () => {
  const cleanups: Array<() => Promise<unknown> | unknown> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  async function startAgent() {
    const dir = tempDir();
    cleanups.push(() => dir.cleanup());
    const server = new DevServer({ port: 0, masterKey: TEST_KEY });
    await server.start();
    cleanups.push(() => server.stop());
    const { settings } = parseConfig(
      `gateway: { id: gw-stop }
fluxiondb: { url: "${server.url}", api_key: "${TEST_KEY}" }
queue: { path: "${join(dir.path, 'queue.db')}", synchronous: normal }
sender: { linger: 5ms }
metadata:
  devices: { d1: { location: here } }
`,
      { env: {}, hostname: 'h' },
    );
    const log = memoryLogger('info');
    const agent = new Agent(settings.agent, log.logger, { mapping: settings.mapping }, settings.metadata, settings.secrets);
    cleanups.push(() => agent.stop());
    await agent.start();
    ingest(agent, makeRecords(20));
    await waitFor(() => agent.status().queue.sent === 20, { what: 'records sent' });
    return { agent, log };
  }

  function queueClosed(agent: Agent): boolean {
    try {
      agent.queue.stats();
      return false;
    } catch (err) {
      return isAgentError(err, 'EDGE_ERR_QUEUE_CLOSED');
    }
  }

  it('an early step that throws: the rest still stop, the queue is closed last, the failure is logged', async () => {
    const { agent, log } = await startAgent();
    vi.spyOn(agent.metadata!, 'stop').mockRejectedValueOnce(new Error('metadata stop failed (injected)'));
    await agent.stop();
    expect(agent.sender.status().state).toBe('stopped');
    expect(queueClosed(agent)).toBe(true);
    const lines = log.lines();
    expect(lines.find((l) => l.msg === 'a stop step failed; stopping the rest')).toMatchObject({ step: 'metadata', err: 'metadata stop failed (injected)' });
    expect(lines.find((l) => l.msg === 'agent stopped; some steps failed')).toMatchObject({ failed: ['metadata'] });
  });

  it('the sender step throws: the queue is still closed, last', async () => {
    const { agent, log } = await startAgent();
    // It stops, then throws (e.g. a close that failed): no loop is left running on a closed queue.
    const stopSender = agent.sender.stop.bind(agent.sender);
    vi.spyOn(agent.sender, 'stop').mockImplementationOnce(async (deadlineMs) => {
      await stopSender(deadlineMs);
      throw new Error('sender stop failed (injected)');
    });
    await agent.stop();
    expect(queueClosed(agent)).toBe(true);
    expect(agent.metadata!.status().state).toBe('stopped');
    expect(log.lines().find((l) => l.msg === 'agent stopped; some steps failed')).toMatchObject({ failed: ['sender'] });
  });
});
