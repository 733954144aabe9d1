import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { Agent } from '../../src/agent.js';
import { loadConfig } from '../../src/config/index.js';
import { compileRules } from '../../src/mapping/index.js';
import { SqliteQueue } from '../../src/queue/index.js';
import { replayContext } from '../../src/sparkplug/replay-context.js';
import { memoryLogger, TEST_KEY } from '../helpers/agent.js';
import { startMosquitto } from '../helpers/mosquitto.js';
import { aliasOnly, encodeTahu } from '../helpers/sparkplug.js';
import { tempDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';

const T0 = 1_760_000_000_000;

describe('Sparkplug unresolved messages', () => {
  const cleanups: Array<() => Promise<unknown> | void> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  async function setup(sparkplug: string) {
    const dir = tempDir();
    const broker = await startMosquitto();
    cleanups.push(() => dir.cleanup(), () => broker.stop());
    const configPath = join(dir.path, 'config.yaml');
    writeFileSync(configPath, `
fluxiondb:
  url: ws://127.0.0.1:9
  api_key: \${FLUXION_API_KEY}
queue: { path: ${join(dir.path, 'q.db')} }
metadata: { heartbeat: { enabled: false } }
mqtt:
  url: ${broker.url}
  client_id: fluxion-edge-dl
  sparkplug: ${sparkplug}
  subscriptions:
    - topic: spBv1.0/#
      format: sparkplug_b
      collection: plant
`);
    const { settings } = loadConfig(configPath, { FLUXION_API_KEY: TEST_KEY });
    const pub = await mqtt.connectAsync(broker.url, { clientId: `p-${process.pid}` });
    cleanups.push(() => pub.endAsync());
    return { settings, pub };
  }

  async function startAgent(settings: ReturnType<typeof loadConfig>['settings']): Promise<Agent> {
    const { logger, lines } = memoryLogger('info');
    const agent = new Agent(settings.agent, logger, { mapping: settings.mapping, mqtt: settings.mqtt });
    await agent.start();
    await waitFor(() => lines().some((l) => l.msg === 'mqtt input subscribed' || l.msg === 'mqtt input connected'), { what: 'connected' });
    return agent;
  }

  it('held (on_unresolved: hold) across a restart of the agent: resolved by the first birth after it', async () => {
    const { settings, pub } = await setup('{}');
    let agent = await startAgent(settings);
    await pub.publishAsync('spBv1.0/g/NDATA/n', aliasOnly(encodeTahu({ timestamp: T0 + 5, seq: 3, metrics: [{ alias: 4, type: 'UInt8', value: 200 }] })), { qos: 1 });
    await waitFor(() => agent.queue.countDeadLetters() === 1, { what: 'the message held' });
    await agent.stop();

    agent = await startAgent(settings);
    cleanups.push(() => agent.stop());
    await pub.publishAsync('spBv1.0/g/NBIRTH/n', encodeTahu({ timestamp: T0 + 9, seq: 0, metrics: [{ name: 'level', alias: 4, type: 'UInt8', value: 1 }] }), { qos: 1 });
    await waitFor(() => agent.queue.countDeadLetters() === 0, { what: 'the held message resolved' });
    expect(agent.status().sparkplug!.resolved).toBe(1);
    expect(agent.queue.stats().depth).toBe(2); // the birth's values and the held reading
  });

  it('keeps unresolved messages as dead letters with their raw payload; re-mapped after the rebirth (as dead-letter retry --config does), they resolve', async () => {
    const { settings, pub } = await setup('{ on_unresolved: dead_letter }');
    const agent = await startAgent(settings);
    const data = aliasOnly(encodeTahu({ timestamp: T0 + 5, seq: 3, metrics: [{ alias: 4, type: 'UInt8', value: 200 }] }));
    await pub.publishAsync('spBv1.0/g/NDATA/n', data, { qos: 1 });
    await waitFor(() => agent.queue.countDeadLetters() === 1, { what: 'the unresolved message dead-lettered' });
    const [dl] = agent.queue.listDeadLetters();
    expect(dl).toMatchObject({ reason: 'unresolved: g/n: unknown alias 4 (no NBIRTH defines it)', source: 'mqtt', origin: 'spBv1.0/g/NDATA/n' });
    expect(Buffer.compare(dl!.payload as Buffer, data)).toBe(0);

    // The rebirth arrives; with this policy the dead letter waits for the operator.
    await pub.publishAsync('spBv1.0/g/NBIRTH/n', encodeTahu({ timestamp: T0 + 9, seq: 0, metrics: [{ name: 'level', alias: 4, type: 'UInt8', value: 1 }] }), { qos: 1 });
    await waitFor(() => agent.status().sparkplug?.nodes['g/n']?.births === 1, { what: 'the birth' });
    expect(agent.queue.countDeadLetters()).toBe(1);
    const depth = agent.queue.stats().depth;
    await agent.stop();

    const queue = new SqliteQueue(settings.agent.queue);
    queue.start();
    cleanups.push(() => queue.stop());
    const rules = compileRules(settings.mqtt!.rules, settings.mapping, replayContext(queue));
    const r = queue.retryDeadLetters({
      remap: (d) => {
        const m = rules.map({ source: 'mqtt', topic: d.origin!, payload: d.payload as Buffer, receivedAt: d.at, replayed: true });
        return m.ok ? m.records : null;
      },
    });
    expect(r).toEqual({ retried: 1, records: 1, skipped: 0 });
    expect(queue.countDeadLetters()).toBe(0);
    expect(queue.stats().depth).toBe(depth + 1);
  });
});
