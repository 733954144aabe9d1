import { afterEach, describe, expect, it } from 'vitest';
import { Agent } from '../../src/agent.js';
import { DevServer } from '../../src/devserver/index.js';
import { HealthServer, type LiveStatus } from '../../src/service/http-server.js';
import { agentSettings, makeRecords, memoryLogger, TEST_KEY, ingest } from '../helpers/agent.js';
import { freePort } from '../helpers/ports.js';
import { tempDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';
import { Secrets } from '../../src/shared/secrets.js';

async function get(url: string): Promise<{ status: number; type: string | null; body: string }> {
  const res = await fetch(url);
  return { status: res.status, type: res.headers.get('content-type'), body: await res.text() };
}

/** The value of an unlabelled sample in Prometheus text. */
function sample(text: string, name: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  if (line === undefined) throw new Error(`no sample ${name}`);
  return Number(line.slice(name.length + 1));
}

describe('HealthServer with a real agent and dev server', () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  async function setup() {
    const dir = tempDir();
    const port = await freePort();
    const server = new DevServer({ port, masterKey: TEST_KEY });
    const { logger } = memoryLogger('silent');
    const agent = new Agent(agentSettings(dir.path, `ws://127.0.0.1:${port}`, { sender: { resendAfterReconnectMs: 0 } }), logger);
    const health = new HealthServer({ port: 0, health: { staleAfterMs: 1000 } }, { source: agent, secrets: new Secrets([TEST_KEY]), gatewayId: 'gw-test', version: '9.9.9' });
    cleanups.push(() => dir.cleanup(), () => server.stop(), () => agent.stop(), () => health.stop());
    await server.start();
    await agent.start();
    await health.start();
    return { server, agent, health };
  }

  it('/healthz is 503 while the server is down with a backlog, 200 once it drained; /metrics counts what the server received', async () => {
    const { server, agent, health } = await setup();
    expect(health.url).toBe(`http://127.0.0.1:${health.port}`);
    ingest(agent, makeRecords(300));
    await waitFor(() => server.recordCount() === 300, { what: 'first batch stored' });
    expect(await get(`${health.url}/healthz`)).toEqual({ status: 200, type: 'application/json', body: '{"healthy":true,"reasons":[]}\n' });

    await server.stop();
    ingest(agent, makeRecords(200, { start: 300 }));
    const down = await waitFor(async () => {
      const r = await get(`${health.url}/healthz`);
      return r.status === 503 ? r : null;
    }, { what: '/healthz 503' });
    const body = JSON.parse(down.body) as { healthy: boolean; reasons: string[] };
    expect(body.healthy).toBe(false);
    expect(body.reasons).toHaveLength(1);
    expect(body.reasons[0]).toMatch(/^200 readings queued, last batch acknowledged \d+s ago \(limit 1s\)$/);

    await server.start();
    await waitFor(async () => (await get(`${health.url}/healthz`)).status === 200, { what: '/healthz 200 again' });
    expect(agent.status().queue.depth).toBe(0);
    expect(server.recordCount()).toBe(500);

    const metrics = await get(`${health.url}/metrics`);
    expect(metrics.status).toBe(200);
    expect(metrics.type).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(sample(metrics.body, 'fluxion_edge_readings_sent_total')).toBe(server.recordCount());
    expect(sample(metrics.body, 'fluxion_edge_queue_depth')).toBe(0);
    expect(sample(metrics.body, 'fluxion_edge_queue_oldest_unsent_age_seconds')).toBe(0);
    expect(sample(metrics.body, 'fluxion_edge_sender_reconnects_total')).toBeGreaterThan(0);
    expect(sample(metrics.body, 'fluxion_edge_sender_batches_sent_total')).toBe(agent.status().sender.sentBatches);
    expect(sample(metrics.body, 'fluxion_edge_batch_rtt_seconds_count')).toBe(agent.status().sender.sentBatches);
    expect(metrics.body).toContain('fluxion_edge_sender_state{state="connected"} 1\n');
    expect(metrics.body).not.toContain(TEST_KEY);
  });

  it('/status answers the agent status as JSON with the health and identity; other paths 404, other methods 405', async () => {
    const { server, agent, health } = await setup();
    ingest(agent, makeRecords(50));
    await waitFor(() => server.recordCount() === 50, { what: 'stored' });
    const r = await get(`${health.url}/status`);
    expect(r.status).toBe(200);
    const live = JSON.parse(r.body) as LiveStatus;
    expect(live.gateway).toBe('gw-test');
    expect(live.version).toBe('9.9.9');
    expect(live.pid).toBe(process.pid);
    expect(live.health).toEqual({ healthy: true, reasons: [] });
    expect(live.status.sender.sentRecords).toBe(50);
    expect(live.status.queue.sent).toBe(50);
    expect(live.status.queue.depth).toBe(0);
    expect(r.body).not.toContain(TEST_KEY);

    expect((await get(`${health.url}/`)).status).toBe(404);
    expect((await fetch(`${health.url}/healthz`, { method: 'POST' })).status).toBe(405);
  });

  it('start and stop are safe twice; a taken port is an error with a stable code', async () => {
    const { agent, health } = await setup();
    await health.start();
    const again = new HealthServer({ port: health.port, health: { staleAfterMs: 1000 } }, { source: agent });
    await expect(again.start()).rejects.toMatchObject({ code: 'EDGE_ERR_HEALTH_LISTEN' });
    await health.stop();
    await health.stop();
    await expect(fetch(`${health.url}/healthz`)).rejects.toThrow();
  });
});
