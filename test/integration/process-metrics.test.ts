/** /metrics carries the process's metrics (prom-client's default collectors) after the agent's own. */
import { afterEach, describe, expect, it } from 'vitest';
import { RttHistogram } from '../../src/sender/rtt-histogram.js';
import { HealthServer } from '../../src/service/http-server.js';
import { agentStatus } from '../unit/service/status-fixture.js';

describe('/metrics process metrics', () => {
  const servers: HealthServer[] = [];
  afterEach(async () => {
    for (const s of servers.splice(0)) await s.stop();
  });

  async function scrape(): Promise<string> {
    const rtt = new RttHistogram();
    const health = new HealthServer({ port: 0, health: { staleAfterMs: 1000 } }, { source: { status: () => agentStatus(), sender: { rtt, status: () => ({ sentRecords: 0 }) } } });
    servers.push(health);
    await health.start();
    const res = await fetch(`${health.url}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    return res.text();
  }

  it('has RSS, heap, event-loop lag and handles after the agent metrics, each metric once', async () => {
    const text = await scrape();
    for (const name of ['process_resident_memory_bytes', 'nodejs_heap_size_used_bytes', 'nodejs_eventloop_lag_seconds', 'nodejs_active_handles']) {
      expect(text).toMatch(new RegExp(`^${name}(\\{[^}]*\\})? \\d`, 'm'));
    }
    const types = text.split('\n').filter((l) => l.startsWith('# TYPE ')).map((l) => l.split(' ')[2]);
    expect(new Set(types).size).toBe(types.length);
    expect(types.indexOf('fluxion_edge_readings_received_total')).toBeLessThan(types.indexOf('process_resident_memory_bytes'));
  });

  it('a second server in the same process serves them too (a registry per server, not a global one)', async () => {
    await scrape();
    expect(await scrape()).toMatch(/^process_resident_memory_bytes \d/m);
  });
});
