import { afterEach, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { Agent } from '../../src/agent.js';
import { FluxionClient } from '../../src/client/index.js';
import { parseConfig, type EdgeSettings } from '../../src/config/index.js';
import { DevServer } from '../../src/devserver/index.js';
import { readKvOutbox } from '../../src/queue/index.js';
import { version } from '../../src/version.js';
import { memoryLogger, TEST_KEY } from '../helpers/agent.js';
import { tempDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';

interface Yaml {
  dir: string;
  serverUrl: string;
  metadata: string;
  mqtt?: boolean;
}

function settingsOf(o: Yaml): EdgeSettings {
  const text = `
gateway: { id: gw-meta }
fluxiondb: { url: "${o.serverUrl}", api_key: "${TEST_KEY}" }
queue: { path: "${join(o.dir, 'queue.db')}", synchronous: normal }
sender: { backoff: { base: 20ms, cap: 200ms }, auth_retry: 300ms, linger: 5ms }
${o.mqtt === true ? `mqtt:
  embedded_broker: { port: 0 }
  client_id: meta-test
  subscriptions:
    - { topic: "devices/{device}/meta", kind: metadata, document: "{device}" }
` : ''}metadata:
${o.metadata}`;
  return parseConfig(text, { env: {}, hostname: 'h' }).settings;
}

describe('metadata sync against the dev server', () => {
  const cleanups: Array<() => Promise<unknown> | void> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  async function setup() {
    const dir = tempDir();
    const server = new DevServer({ port: 0, masterKey: TEST_KEY });
    await server.start();
    cleanups.push(() => dir.cleanup(), () => server.stop());
    return { dir: dir.path, server, svals: () => server.frameCounts.get('sval') ?? 0, rvals: () => server.frameCounts.get('rval') ?? 0 };
  }

  async function startAgent(settings: EdgeSettings): Promise<Agent> {
    const agent = new Agent(settings.agent, memoryLogger('warn').logger, { mapping: settings.mapping, mqtt: settings.mqtt }, settings.metadata);
    await agent.start();
    cleanups.push(() => agent.stop());
    return agent;
  }

  /** Waits for a resync after `resyncs` ones with nothing left to send. */
  const settled = (agent: Agent, resyncs = 0) =>
    waitFor(() => {
      const m = agent.status().metadata!;
      return m.resyncs > resyncs && m.pending === 0 && m.state === 'connected';
    }, { what: 'metadata in sync' });

  const STATIC = `  heartbeat: { enabled: false }
  devices:
    device-1: { location: warehouse-1, model: TH-200, floor: 3, calibrated: true, tags: [a, b], note: "" }
`;

  it('writes static metadata with exact keys and values, then only what changed across restarts; prunes only when asked', async () => {
    const { dir, server, svals, rvals } = await setup();
    let agent = await startAgent(settingsOf({ dir, serverUrl: server.url, metadata: STATIC }));
    await settled(agent);
    expect(server.values('metadata')).toEqual({
      'device-1:location': 'warehouse-1', 'device-1:model': 'TH-200', 'device-1:floor': '3', 'device-1:calibrated': 'true', 'device-1:tags': '["a","b"]',
    });
    expect(svals()).toBe(5);
    expect(agent.status().metadata).toMatchObject({ inSync: 5, pending: 0, failed: 0, written: 5, skipped: 1 });
    await agent.stop();

    agent = await startAgent(settingsOf({ dir, serverUrl: server.url, metadata: STATIC }));
    await settled(agent);
    expect(svals()).toBe(5);
    await agent.stop();

    const changed = STATIC.replace('TH-200', 'TH-300');
    agent = await startAgent(settingsOf({ dir, serverUrl: server.url, metadata: changed }));
    await settled(agent);
    expect(server.values('metadata')['device-1:model']).toBe('TH-300');
    expect(svals()).toBe(6);
    await agent.stop();

    const removed = changed.replace(' floor: 3,', '');
    agent = await startAgent(settingsOf({ dir, serverUrl: server.url, metadata: removed }));
    await settled(agent);
    expect(server.values('metadata')['device-1:floor']).toBe('3');
    expect([svals(), rvals()]).toEqual([6, 0]);
    expect(readKvOutbox(join(dir, 'queue.db')).find((e) => e.key === 'device-1:floor')).toMatchObject({ retired: true, state: 'acked' });

    // Prune, applied live by a reload.
    const before = agent.status().metadata!.resyncs;
    agent.reloadMetadata(settingsOf({ dir, serverUrl: server.url, metadata: `  prune: true\n${removed}` }).metadata);
    await settled(agent, before);
    expect(server.values('metadata')).toEqual({
      'device-1:location': 'warehouse-1', 'device-1:model': 'TH-300', 'device-1:calibrated': 'true', 'device-1:tags': '["a","b"]',
    });
    expect([svals(), rvals()]).toEqual([6, 1]);
    expect(agent.status().metadata).toMatchObject({ inSync: 4, deleted: 1 });
  });

  it('queues metadata changes and dynamic metadata while the server is down, across a restart, and converges to the newest values', async () => {
    const { dir, server, svals } = await setup();
    const yaml = { dir, serverUrl: server.url, metadata: STATIC, mqtt: true };
    let agent = await startAgent(settingsOf(yaml));
    await settled(agent);
    const sent = svals();
    expect(sent).toBe(5);

    await server.stop();
    await waitFor(() => agent.status().metadata!.state !== 'connected', { what: 'metadata connection lost' });
    agent.reloadMetadata(settingsOf({ ...yaml, metadata: STATIC.replace('warehouse-1', 'warehouse-2') }).metadata);
    const pub = await mqtt.connectAsync(agent.embeddedBrokerUrl!, { clientId: 'meta-pub', clean: true });
    await pub.publishAsync('devices/sensor-9/meta', JSON.stringify({ firmware: '1.2.0', model: 'SX-1' }), { qos: 1, retain: true });
    await pub.publishAsync('devices/sensor-9/meta', JSON.stringify({ firmware: '1.3.0', model: 'SX-1' }), { qos: 1, retain: true });
    await pub.endAsync();
    await waitFor(() => agent.status().metadata!.pending === 3, { what: 'three keys queued' });
    await agent.stop();
    expect(readKvOutbox(join(dir, 'queue.db')).filter((e) => e.state === 'pending').map((e) => [e.key, e.value, e.source])).toEqual([
      ['device-1:location', 'warehouse-2', 'static'],
      ['sensor-9:firmware', '1.3.0', 'dynamic'],
      ['sensor-9:model', 'SX-1', 'dynamic'],
    ]);

    agent = await startAgent(settingsOf({ ...yaml, metadata: STATIC.replace('warehouse-1', 'warehouse-2') }));
    await server.start();
    await settled(agent);
    expect(server.values('metadata')).toEqual({
      'device-1:location': 'warehouse-2', 'device-1:model': 'TH-200', 'device-1:floor': '3', 'device-1:calibrated': 'true', 'device-1:tags': '["a","b"]',
      'sensor-9:firmware': '1.3.0', 'sensor-9:model': 'SX-1',
    });
    // Only the newest value of each key went out.
    expect(svals()).toBe(sent + 3);
  });

  it('puts back a value edited or deleted by hand at the scheduled resync', async () => {
    const { dir, server } = await setup();
    const agent = await startAgent(settingsOf({ dir, serverUrl: server.url, metadata: `  resync: "*/1 * * * * *"\n${STATIC}` }));
    await settled(agent);
    const client = new FluxionClient({ url: server.url, apiKey: TEST_KEY });
    cleanups.push(() => client.close());
    await client.setValue({ col: 'metadata', key: 'device-1:location', value: 'moved by hand' });
    await client.deleteValue({ col: 'metadata', key: 'device-1:model' });
    expect(server.values('metadata')['device-1:location']).toBe('moved by hand');
    await waitFor(() => server.values('metadata')['device-1:location'] === 'warehouse-1' && server.values('metadata')['device-1:model'] === 'TH-200', {
      what: 'the resync to restore both keys',
    });
  });

  it('writes the gateway heartbeat keys, and they advance', async () => {
    const { dir, server } = await setup();
    const agent = await startAgent(settingsOf({ dir, serverUrl: server.url, metadata: '  heartbeat: { schedule: "*/1 * * * * *" }\n' }));
    const first = await waitFor(() => server.values('metadata')['gw-meta:last_seen'], { what: 'a heartbeat' });
    expect(server.values('metadata')).toEqual({
      'gw-meta:last_seen': first,
      'gw-meta:version': version,
      'gw-meta:queue_depth': '0',
      'gw-meta:oldest_unsent_age_s': '0',
    });
    expect(first).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
    const next = await waitFor(() => {
      const v = server.values('metadata')['gw-meta:last_seen']!;
      return v > first ? v : null;
    }, { what: 'the heartbeat to advance' });
    expect(Date.parse(next)).toBeGreaterThan(Date.parse(first));
    expect(agent.status().metadata!.heartbeats).toBeGreaterThanOrEqual(2);
  });
  it('keeps the config\'s value of a key a device rule reports too: no flipping between the two', async () => {
    const { dir, server } = await setup();
    const agent = await startAgent(settingsOf({ dir, serverUrl: server.url, metadata: STATIC, mqtt: true }));
    await settled(agent);
    const pub = await mqtt.connectAsync(agent.embeddedBrokerUrl!, { clientId: 'meta-overlap', clean: true });
    cleanups.push(() => pub.endAsync());
    await pub.publishAsync('devices/device-1/meta', JSON.stringify({ model: 'TH-300', firmware: '2.1.0' }), { qos: 1, retain: true });
    await waitFor(() => server.values('metadata')['device-1:firmware'] === '2.1.0', { what: 'the reported firmware stored' });
    const skipped = agent.status().metadata!.skipped;
    await pub.publishAsync('devices/device-1/meta', JSON.stringify({ model: 'TH-400', firmware: '2.2.0' }), { qos: 1, retain: true });
    await waitFor(() => server.values('metadata')['device-1:firmware'] === '2.2.0', { what: 'the second report stored' });
    expect(server.values('metadata')['device-1:model']).toBe('TH-200');
    expect(agent.status().metadata!.skipped).toBe(skipped + 1);
    expect(readKvOutbox(join(dir, 'queue.db')).find((e) => e.key === 'device-1:model')).toMatchObject({ value: 'TH-200', source: 'static' });
  });
});
