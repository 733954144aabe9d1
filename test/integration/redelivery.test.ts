import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { DevServer } from '../../src/devserver/index.js';
import { startConfiguredAgent, missingOn, TEST_KEY } from '../helpers/agent.js';
import { startMosquitto, type MosquittoHandle } from '../helpers/mosquitto.js';
import { publishWindowed } from '../helpers/mqtt-harness.js';
import { tempDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';

/**
 * Issue 11 §1 with a real Mosquitto and a real dev server: a reading that comes again (QoS 1
 * redelivery after a broker restart, a device republishing, across an agent restart) is the
 * same record, and a substituted timestamp never displaces a device's own.
 */
const BASE_TS = 1_760_000_000_000;

function configYaml(dir: string, brokerUrl: string, serverUrl: string): string {
  return `
gateway: { id: gw-test }
fluxiondb:
  url: ${serverUrl}
  api_key: ${TEST_KEY}
queue:
  path: ${join(dir, 'queue.db')}
  synchronous: normal
sender:
  backoff: { base: 50ms, cap: 500ms }
  linger: 5ms
mqtt:
  url: ${brokerUrl}
  client_id: edge-redelivery-${process.pid}
  reconnect: { base: 50ms, cap: 400ms }
  subscriptions:
    - topic: sensors/{device}/telemetry
      collection: telemetry
      document: "{device}"
      timestamp: { field: ts, unit: ms }
      fields: { v: v }
`;
}

function reading(i: number, devices = 20): { topic: string; payload: string; record: { col: string; doc: string; ts: number; data: string } } {
  const doc = `dev-${i % devices}`;
  const ts = BASE_TS + i;
  return { topic: `sensors/${doc}/telemetry`, payload: JSON.stringify({ ts, v: i }), record: { col: 'telemetry', doc, ts, data: JSON.stringify({ v: i }) } };
}

describe('a reading that comes again is the same record', () => {
  const cleanups: Array<() => Promise<unknown> | unknown> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  async function setup(brokerOptions: Parameters<typeof startMosquitto>[0] = {}) {
    const dir = tempDir();
    cleanups.push(() => dir.cleanup());
    const broker: MosquittoHandle = await startMosquitto(brokerOptions);
    cleanups.push(() => broker.stop());
    const server = new DevServer({ port: 0, masterKey: TEST_KEY });
    await server.start();
    cleanups.push(() => server.stop());
    const configPath = join(dir.path, 'config.yaml');
    writeFileSync(configPath, configYaml(dir.path, broker.url, server.url));
    const startAgent = async () => {
      const { agent } = await startConfiguredAgent(configPath, {}, cleanups);
      return agent;
    };
    const device = await mqtt.connectAsync(broker.url, { clientId: `device-${process.pid}`, reconnectPeriod: 100 });
    cleanups.push(() => device.endAsync(true));
    return { broker, server, startAgent, device };
  }

  /** Server-side records of `doc`, as `ts:data`. */
  const held = (server: DevServer, doc: string): string[] => server.records('telemetry', doc).map((p) => `${p.ts}:${p.data}`);

  it('Mosquitto restarted in the middle of a QoS 1 stream: redeliveries land on their own record, nothing at ts + 1', async () => {
    const { broker, server, startAgent, device } = await setup({ persistence: true });
    const agent = await startAgent();
    // The device keeps publishing until the broker has redelivered something, so every restart
    // hits a live stream: on a loaded machine a fixed stream can be over before the first restart.
    const readings: Array<ReturnType<typeof reading>> = [];
    let redelivered = false;
    const publishing = (async () => {
      while ((!redelivered || readings.length < 6_000) && readings.length < 60_000) {
        const chunk = Array.from({ length: 500 }, (_, k) => reading(readings.length + k));
        readings.push(...chunk);
        // Like a real QoS 1 device, it publishes again what a broker restart left unacknowledged.
        await publishWindowed(device, chunk, 1, { untilAcked: true });
      }
    })();
    // Restart until the broker has redelivered something (bounded): a restart with nothing in flight proves nothing.
    for (let restarts = 1; ; restarts++) {
      const before = agent.status().ingest.received;
      await waitFor(() => agent.status().ingest.received >= before + 800, { timeoutMs: 30_000, what: 'more of the stream received' });
      await broker.restart();
      await waitFor(() => agent.status().inputs[0]?.state === 'connected', { what: 'the input back' });
      if ((agent.status().mapping?.duplicates ?? 0) > 0 || restarts === 20) break;
    }
    redelivered = true;
    await publishing;
    await waitFor(() => server.recordCount() >= readings.length && agent.status().queue.depth === 0, {
      timeoutMs: 60_000,
      what: 'every reading stored',
    });
    expect(missingOn(server, readings.map((r) => r.record))).toEqual([]);
    expect(server.recordCount()).toBe(readings.length);
    expect(agent.status().mapping!.collisions).toBe(0);
    expect(agent.status().mapping!.duplicates).toBeGreaterThan(0);
  });

  it('a device republishing the same reading: one record, counted as a duplicate', async () => {
    const { server, startAgent, device } = await setup();
    const agent = await startAgent();
    const r = reading(1);
    const second = { ...r, payload: JSON.stringify({ ts: r.record.ts, v: 2 }), record: { ...r.record, data: '{"v":2}' } };
    // The same reading three times (lost PUBACKs), and once a different reading in the same millisecond.
    await publishWindowed(device, [r, r, second, r]);
    await waitFor(() => agent.status().ingest.committed === 4 && agent.status().queue.depth === 0, { what: 'all sent' });
    expect(held(server, 'dev-1')).toEqual([`${r.record.ts}:{"v":1}`, `${r.record.ts + 1}:{"v":2}`]);
    expect(agent.status().mapping).toMatchObject({ duplicates: 2, collisions: 1 });
  });

  it('garbage with "ts": -5 stamped with the exact millisecond of a good reading: the good reading keeps it', async () => {
    const { server, startAgent, device } = await setup();
    const agent = await startAgent();
    await device.publishAsync('sensors/dev-g/telemetry', JSON.stringify({ ts: -5, v: 666 }), { qos: 1 });
    await waitFor(() => server.records('telemetry', 'dev-g').length === 1, { what: 'the garbage stored at its receive time' });
    const T = Number(server.records('telemetry', 'dev-g')[0]!.ts);
    // A good reading of the same device, with its own timestamp in that very millisecond.
    await device.publishAsync('sensors/dev-g/telemetry', JSON.stringify({ ts: T, v: 1 }), { qos: 1 });
    await waitFor(() => agent.status().queue.depth === 0 && server.records('telemetry', 'dev-g').length === 2, { what: 'both stored' });
    expect(held(server, 'dev-g')).toEqual([`${T}:{"v":1}`, `${T + 1}:{"v":666}`]);
    expect(agent.status().mapping).toMatchObject({ badTimestamps: 1, collisions: 1, duplicates: 0 });
  });

  it('an agent restart between a reading and its redelivery: still the same record, a bumped one included', async () => {
    const { server, startAgent, device } = await setup();
    let agent = await startAgent();
    const a = reading(3);
    const b = { ...a, payload: JSON.stringify({ ts: a.record.ts, v: 4 }) };
    await publishWindowed(device, [a, b]);
    await waitFor(() => agent.status().queue.depth === 0 && agent.status().ingest.committed === 2, { what: 'both sent' });
    expect(held(server, 'dev-3')).toEqual([`${a.record.ts}:{"v":3}`, `${a.record.ts + 1}:{"v":4}`]);
    await agent.stop();

    agent = await startAgent();
    await publishWindowed(device, [b, a]);
    await waitFor(() => agent.status().ingest.committed === 2 && agent.status().queue.depth === 0, { what: 'redeliveries sent' });
    expect(held(server, 'dev-3')).toEqual([`${a.record.ts}:{"v":3}`, `${a.record.ts + 1}:{"v":4}`]);
    expect(agent.status().mapping).toMatchObject({ duplicates: 2, collisions: 0 });
  });
});
