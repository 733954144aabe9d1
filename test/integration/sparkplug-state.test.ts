import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { Agent } from '../../src/agent.js';
import { loadConfig } from '../../src/config/index.js';
import { DevServer } from '../../src/devserver/index.js';
import { memoryLogger, TEST_KEY } from '../helpers/agent.js';
import { startMosquitto } from '../helpers/mosquitto.js';
import { freePort } from '../helpers/ports.js';
import { aliasOnly, encodeTahu } from '../helpers/sparkplug.js';
import { tempDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';

const T0 = 1_760_000_000_000;

describe('Sparkplug primary host STATE', () => {
  const cleanups: Array<() => Promise<unknown> | void> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  it('is online only while the queue takes messages (offline when a blocking queue is full, online once it drained), and answers a stale offline', async () => {
    const dir = tempDir();
    const broker = await startMosquitto();
    const port = await freePort();
    cleanups.push(() => dir.cleanup(), () => broker.stop());
    const configPath = join(dir.path, 'config.yaml');
    writeFileSync(configPath, `
fluxiondb:
  url: ws://127.0.0.1:${port}
  api_key: \${FLUXION_API_KEY}
queue: { path: ${join(dir.path, 'q.db')}, max_rows: 10, on_full: block }
sender: { backoff: { base: 50ms, cap: 200ms }, linger: 5ms }
metadata: { heartbeat: { enabled: false } }
mqtt:
  url: ${broker.url}
  client_id: fluxion-edge-state
  sparkplug: { primary_host_id: scada-1 }
  subscriptions:
    - topic: spBv1.0/#
      format: sparkplug_b
      collection: plant
`);
    const watcher = await mqtt.connectAsync(broker.url, { clientId: `w-${process.pid}` });
    cleanups.push(() => watcher.endAsync());
    const states: boolean[] = [];
    watcher.on('message', (_t, m) => states.push((JSON.parse(m.toString()) as { online: boolean }).online));
    await watcher.subscribeAsync('spBv1.0/STATE/scada-1', { qos: 1 });

    const { settings } = loadConfig(configPath, { FLUXION_API_KEY: TEST_KEY });
    const { logger } = memoryLogger('warn');
    const agent = new Agent(settings.agent, logger, { mapping: settings.mapping, mqtt: settings.mqtt }, settings.metadata);
    await agent.start();
    cleanups.push(() => agent.stop());
    await waitFor(() => states.at(-1) === true, { what: 'STATE online at start' });

    // Someone else (a late will of an older connection) reports the host offline: it answers online.
    const pub = await mqtt.connectAsync(broker.url, { clientId: `p-${process.pid}` });
    cleanups.push(() => pub.endAsync());
    await pub.publishAsync('spBv1.0/STATE/scada-1', JSON.stringify({ online: false, timestamp: 1 }), { qos: 1, retain: true });
    await waitFor(() => states.length >= 3 && states.at(-1) === true, { what: 'STATE online again after a stale offline' });
    expect(states.slice(-2)).toEqual([false, true]);
    expect(agent.status().ingest.deadLettered).toBe(0);

    // FluxionDB is down: 30 readings fill the queue (10 rows, on_full: block).
    await pub.publishAsync('spBv1.0/g/NBIRTH/n', encodeTahu({ timestamp: T0, seq: 0, metrics: [{ name: 'v', alias: 1, type: 'Int32', value: 0 }] }), { qos: 1 });
    for (let i = 1; i <= 30; i++) {
      void pub.publishAsync('spBv1.0/g/NDATA/n', aliasOnly(encodeTahu({ timestamp: T0 + i, seq: i, metrics: [{ alias: 1, type: 'Int32', value: i }] })), { qos: 1 });
    }
    await waitFor(() => states.at(-1) === false, { timeoutMs: 20_000, what: 'STATE offline while the queue is full' });
    expect(agent.status().sparkplug!.state).toMatchObject({ hostId: 'scada-1', online: false });

    const server = new DevServer({ port, masterKey: TEST_KEY });
    await server.start();
    cleanups.push(() => server.stop());
    await waitFor(() => server.records('plant', 'g/n').length === 31, { timeoutMs: 30_000, what: 'every reading stored once FluxionDB is back' });
    await waitFor(() => states.at(-1) === true, { what: 'STATE online again' });
  });
});
