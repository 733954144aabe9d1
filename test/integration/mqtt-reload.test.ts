import { afterEach, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { Agent } from '../../src/agent.js';
import { loadConfig } from '../../src/config/index.js';
import { DevServer } from '../../src/devserver/index.js';
import { memoryLogger, TEST_KEY } from '../helpers/agent.js';
import { startMosquitto } from '../helpers/mosquitto.js';
import { tempDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';

/**
 * A reload that changes the topic filters restarts the MQTT input on the same persistent
 * session: the filters it dropped must leave the session too, or the broker keeps
 * delivering readings that no rule maps (each one a dead letter).
 */
describe('MQTT filters changed by a reload', () => {
  const cleanups: Array<() => Promise<unknown> | void> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  it('subscribes the new filters and unsubscribes the dropped ones from the persistent session', async () => {
    const dir = tempDir();
    const broker = await startMosquitto();
    const server = new DevServer({ port: 0, masterKey: TEST_KEY });
    await server.start();
    cleanups.push(() => dir.cleanup(), () => broker.stop(), () => server.stop());
    const path = join(dir.path, 'config.yaml');
    const config = (topic: string) => `fluxiondb: { url: "${server.url}", api_key: "${TEST_KEY}" }
queue: { path: ${join(dir.path, 'queue.db')} }
mqtt:
  url: ${broker.url}
  client_id: fluxion-edge-reload
  subscriptions:
    - topic: ${topic}
      collection: telemetry
      document: "{device}"
      timestamp: { field: ts, unit: ms }
`;
    writeFileSync(path, config('sensors/{device}/t'));
    const first = loadConfig(path, {}).settings;
    const log = memoryLogger('info');
    const agent = new Agent(first.agent, log.logger, { mapping: first.mapping, mqtt: first.mqtt });
    await agent.start();
    cleanups.push(() => agent.stop());
    await waitFor(() => log.lines().some((l) => l.msg === 'mqtt input subscribed'), { what: 'subscribed' });

    writeFileSync(path, config('plant/{device}/t'));
    const next = loadConfig(path, {}).settings;
    expect(await agent.reloadInputs({ mapping: next.mapping, mqtt: next.mqtt })).toEqual({ resubscribed: true });
    await waitFor(() => log.lines().some((l) => l.msg === 'mqtt input unsubscribed'), { what: 'old filter unsubscribed' });
    expect(log.lines().find((l) => l.msg === 'mqtt input unsubscribed')).toMatchObject({ filters: ['sensors/+/t'] });
    await waitFor(() => log.lines().filter((l) => l.msg === 'mqtt input subscribed').length === 2, { what: 'new filter subscribed' });

    const pub = await mqtt.connectAsync(broker.url, { clientId: 'reload-pub' });
    cleanups.push(() => pub.endAsync());
    await pub.publishAsync('sensors/old/t', JSON.stringify({ ts: 1_790_000_000_000 }), { qos: 1 });
    await pub.publishAsync('plant/new/t', JSON.stringify({ ts: 1_790_000_000_001 }), { qos: 1 });
    await waitFor(() => server.records('telemetry', 'new').length === 1, { what: 'the reading under the new filter' });
    // The broker routes in order on one connection: had the old filter stayed, its message
    // would have arrived before the new one.
    expect(agent.status().ingest).toMatchObject({ received: 1, deadLettered: 0 });
    expect(server.records('telemetry', 'old')).toEqual([]);
  });
});
