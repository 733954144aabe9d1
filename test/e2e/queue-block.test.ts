import { afterEach, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { DevServer } from '../../src/devserver/index.js';
import { startConfiguredAgent, missingOn, TEST_KEY } from '../helpers/agent.js';
import { startMosquitto } from '../helpers/mosquitto.js';
import { freePort } from '../helpers/ports.js';
import { tempDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';

const BASE_TS = 1_780_000_000_000;

/**
 * `on_full: block` end to end: with FluxionDB down and the queue at its cap, the agent stops
 * acknowledging the broker (which holds the rest for the persistent session) instead of
 * dropping anything; when the server returns and the queue drains, ingestion resumes.
 */
describe('a full queue with on_full: block', () => {
  const cleanups: Array<() => Promise<unknown> | void> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  it('holds PUBACKs while full, drops nothing, and takes the rest once FluxionDB drains it', async () => {
    const dir = tempDir();
    const broker = await startMosquitto();
    const port = await freePort();
    const server = new DevServer({ port, masterKey: TEST_KEY });
    cleanups.push(() => dir.cleanup(), () => broker.stop(), () => server.stop());
    const path = join(dir.path, 'config.yaml');
    writeFileSync(
      path,
      `fluxiondb:
  url: ws://127.0.0.1:${port}
  api_key: \${FLUXION_API_KEY}
queue: { path: ${join(dir.path, 'queue.db')}, max_rows: 500, on_full: block, retain_sent: 1s }
sender: { backoff: { base: 50ms, cap: 200ms } }
mqtt:
  url: ${broker.url}
  client_id: fluxion-edge-block
  subscriptions:
    - topic: sensors/{device}/t
      collection: telemetry
      document: "{device}"
      timestamp: { field: ts, unit: ms }
`,
    );
    const { agent } = await startConfiguredAgent(path, { FLUXION_API_KEY: TEST_KEY }, cleanups);

    const records = Array.from({ length: 2_000 }, (_, i) => ({ col: 'telemetry', doc: `d${i % 10}`, ts: BASE_TS + i, data: JSON.stringify({ ts: BASE_TS + i }) }));
    const pub = await mqtt.connectAsync(broker.url, { clientId: 'block-pub' });
    cleanups.push(() => pub.endAsync());
    // Published without waiting: the broker takes them all, the agent only what fits.
    const published = Promise.all(records.map((r) => pub.publishAsync(`sensors/${r.doc}/t`, r.data, { qos: 1 })));

    await waitFor(() => agent.status().inputs[0]!.state === 'waiting', { what: 'the input holding its acknowledgements' });
    await new Promise((r) => setTimeout(r, 500));
    const full = agent.status();
    // Full up to less than one commit group (group_commit.max_messages, 20): a group is taken whole or not at all.
    expect(full.queue.depth).toBeGreaterThan(500 - 20);
    expect(full.queue.depth).toBeLessThanOrEqual(500);
    expect(full.queue.dropped).toBe(0);
    expect(full.ingest.received).toBeLessThan(records.length);

    await server.start();
    await published;
    await waitFor(() => missingOn(server, records).length === 0, { timeoutMs: 60_000, intervalMs: 200, what: 'every reading in FluxionDB' });
    expect(agent.status().queue.dropped).toBe(0);
    expect(server.recordCount()).toBe(records.length);
  });
});
