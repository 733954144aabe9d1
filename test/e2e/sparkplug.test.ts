/**
 * Sparkplug B end to end: Eclipse Tahu's edge node client (its own encoder, its own mqtt.js)
 * publishing to a real Mosquitto, the agent decoding into the dev server (records and
 * key/value metadata).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { Agent } from '../../src/agent.js';
import { loadConfig } from '../../src/config/index.js';
import { DevServer } from '../../src/devserver/index.js';
import { SqliteQueue } from '../../src/queue/index.js';
import { memoryLogger, TEST_KEY } from '../helpers/agent.js';
import { startCli } from '../helpers/cli.js';
import { startMosquitto, type MosquittoHandle } from '../helpers/mosquitto.js';
import { aliasOnly, ArrayTypes, encodeTahu, Long, packArray, scalarBirthData, scalarBirthMetrics, startEdgeNode, type TahuEdgeNode } from '../helpers/sparkplug.js';
import { tempDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';

const T0 = 1_760_000_000_000;

function configYaml(o: { dir: string; brokerUrl: string; serverUrl: string; clientId: string; sparkplug?: string }): string {
  return `
gateway: { id: gw-sparkplug }
log: { level: info }
fluxiondb:
  url: ${o.serverUrl}
  api_key: \${FLUXION_API_KEY}
queue:
  path: ${join(o.dir, 'queue.db')}
sender:
  backoff: { base: 50ms, cap: 500ms }
  linger: 5ms
metadata:
  heartbeat: { enabled: false }
mqtt:
  url: ${o.brokerUrl}
  client_id: ${o.clientId}
  sparkplug: ${o.sparkplug ?? '{}'}
  subscriptions:
    - topic: spBv1.0/{group}/+/{node}/#
      format: sparkplug_b
      collection: plant
`;
}

/** The birth of every data type a Tahu node can send (arrays appended raw). */
function birthMetrics(): unknown[] {
  return [
    ...scalarBirthMetrics(T0),
    { name: 'ds', alias: 16, type: 'DataSet', value: { numOfColumns: 1, columns: ['c'], types: ['Int16'], rows: [[-2]] } },
    { name: 'raw', alias: 17, type: 'Bytes', value: Buffer.from([9]) },
    { name: 'tpl', alias: 18, type: 'Template', value: { templateRef: 'T', metrics: [{ name: 'm', type: 'Int8', value: -1 }] } },
    { name: 'nul', alias: 19, type: 'Int32', value: null },
  ];
}

/** Data for every type, by alias only (no names), a step `k` apart. */
function dataMetrics(k: number): unknown[] {
  return [
    { alias: 1, type: 'Int8', value: -k }, { alias: 2, type: 'Int16', value: -1000 - k }, { alias: 3, type: 'Int32', value: -100000 - k },
    { alias: 4, type: 'Int64', value: Long.fromString(`-922337203685477580${k}`) }, { alias: 5, type: 'UInt8', value: 200 + k },
    { alias: 6, type: 'UInt16', value: 60000 + k }, { alias: 7, type: 'UInt32', value: 4_000_000_000 + k },
    { alias: 8, type: 'UInt64', value: Long.fromString(`1844674407370955161${k % 6}`, true) }, { alias: 9, type: 'Float', value: 1.5 * k },
    { alias: 10, type: 'Double', value: 0.25 * k }, { alias: 11, type: 'Boolean', value: k % 2 === 0 }, { alias: 12, type: 'String', value: `s${k}` },
    { alias: 13, type: 'DateTime', value: T0 + k }, { alias: 14, type: 'Text', value: `t${k}` }, { alias: 15, type: 'UUID', value: `u-${k}` },
    { alias: 16, type: 'DataSet', value: { numOfColumns: 1, columns: ['c'], types: ['Int16'], rows: [[-k]] } },
    { alias: 17, type: 'Bytes', value: Buffer.from([k]) },
    { alias: 18, type: 'Template', value: { templateRef: 'T', metrics: [{ name: 'm', type: 'Int8', value: -k }] } },
    { alias: 19, type: 'Int32', value: k },
  ];
}

function expectedData(k: number): Record<string, unknown> {
  return {
    i8: -k, i16: -1000 - k, i32: -100000 - k, i64: `-922337203685477580${k}`, u8: 200 + k, u16: 60000 + k, u32: 4_000_000_000 + k,
    u64: `1844674407370955161${k % 6}`, f: 1.5 * k, d: 0.25 * k, b: k % 2 === 0, s: `s${k}`, dt: T0 + k, txt: `t${k}`, id: `u-${k}`,
    ds: [{ c: -k }], raw: Buffer.from([k]).toString('base64'), 'tpl/m': -k, nul: k,
    a_i16: [-k, 300], a_u64: ['18446744073709551615', k], a_b: [true, k % 2 === 1],
  };
}

const RAW_BIRTH = [
  { name: 'a_i16', alias: 20, datatype: ArrayTypes.Int16Array, bytesValue: packArray(ArrayTypes.Int16Array, [-1, 300]) },
  { name: 'a_u64', alias: 21, datatype: ArrayTypes.UInt64Array, bytesValue: packArray(ArrayTypes.UInt64Array, [18446744073709551615n, 0n]) },
  { name: 'a_b', alias: 22, datatype: ArrayTypes.BooleanArray, bytesValue: packArray(ArrayTypes.BooleanArray, [true, false]) },
];
const rawData = (k: number): unknown[] => [
  { alias: 20, bytesValue: packArray(ArrayTypes.Int16Array, [-k, 300]) },
  { alias: 21, bytesValue: packArray(ArrayTypes.UInt64Array, [18446744073709551615n, BigInt(k)]) },
  { alias: 22, bytesValue: packArray(ArrayTypes.BooleanArray, [true, k % 2 === 1]) },
];

describe('Sparkplug B through a real broker', () => {
  const cleanups: Array<() => Promise<unknown> | void> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  async function setup(sparkplug?: string) {
    const dir = tempDir();
    const broker: MosquittoHandle = await startMosquitto({ persistence: true });
    const server = new DevServer({ port: 0, masterKey: TEST_KEY });
    await server.start();
    cleanups.push(() => dir.cleanup(), () => broker.stop(), () => server.stop());
    const configPath = join(dir.path, 'config.yaml');
    writeFileSync(configPath, configYaml({ dir: dir.path, brokerUrl: broker.url, serverUrl: server.url, clientId: `fluxion-edge-sp-${Math.random().toString(36).slice(2, 8)}`, sparkplug }));
    return { dir, broker, server, configPath };
  }

  async function inProcessAgent(configPath: string) {
    const { settings } = loadConfig(configPath, { FLUXION_API_KEY: TEST_KEY });
    const { logger, lines } = memoryLogger('info');
    const agent = new Agent(settings.agent, logger, { mapping: settings.mapping, mqtt: settings.mqtt }, settings.metadata);
    await agent.start();
    cleanups.push(() => agent.stop());
    await waitFor(() => lines().some((l) => l.msg === 'mqtt input subscribed'), { what: 'agent subscribed' });
    return { agent, lines };
  }

  function edge(url: string, group: string, node: string, publishDeath = false): TahuEdgeNode {
    const n = startEdgeNode({ url, group, node, publishDeath });
    cleanups.push(() => n.stop());
    return n;
  }

  it('births, then alias-only data of every type; a device born, reporting and dying; a stale NDEATH ignored', async () => {
    const { broker, server, configPath } = await setup();
    const { agent } = await inProcessAgent(configPath);
    const node = edge(broker.url, 'plant1', 'edge1', true);
    node.on('birth', () => {
      node.publishNodeBirth({ timestamp: T0, metrics: birthMetrics(), raw: RAW_BIRTH });
      node.publishDeviceBirth('pump', { timestamp: T0 + 1, metrics: [{ name: 'rpm', alias: 1, type: 'UInt16', value: 1500, properties: { engUnit: { type: 'String', value: 'rpm' } } }] });
      for (let k = 1; k <= 5; k++) {
        node.publishNodeData({ timestamp: T0 + 1000 * k, metrics: dataMetrics(k), raw: rawData(k) });
        node.publishDeviceData('pump', { timestamp: T0 + 1000 * k + 1, metrics: [{ alias: 1, type: 'UInt16', value: 1500 + k }] });
      }
      node.publishDeviceDeath('pump', { timestamp: T0 + 9000, metrics: [] });
    });
    await waitFor(() => server.records('plant', 'plant1/edge1').length >= 6 && server.values('metadata')['plant1/edge1/pump:sparkplug.online'] === 'false', {
      timeoutMs: 30_000, what: 'node data and the device death stored',
    });
    const nodeRecords = server.records('plant', 'plant1/edge1');
    expect(nodeRecords.map((r) => r.ts)).toEqual([T0, T0 + 1000, T0 + 2000, T0 + 3000, T0 + 4000, T0 + 5000]);
    for (let k = 1; k <= 5; k++) expect(JSON.parse(nodeRecords[k]!.data)).toEqual(expectedData(k));
    expect(JSON.parse(nodeRecords[0]!.data)).toMatchObject({ ...scalarBirthData(T0), nul: null, 'tpl/m': -1, a_u64: ['18446744073709551615', 0] });
    expect(server.records('plant', 'plant1/edge1/pump').map((r) => JSON.parse(r.data) as unknown)).toEqual([1500, 1501, 1502, 1503, 1504, 1505].map((rpm) => ({ rpm })));

    const kv = server.values('metadata');
    expect(kv['plant1/edge1:sparkplug.online']).toBe('true');
    expect(kv['plant1/edge1:sparkplug.bdseq']).toBe('0');
    expect(kv['plant1/edge1:sparkplug.birth_time']).toBe(new Date(T0).toISOString());
    expect(JSON.parse(kv['plant1/edge1/pump:sparkplug.metrics']!)).toEqual([{ name: 'rpm', datatype: 'UInt16', alias: '1', units: 'rpm', properties: { engUnit: 'rpm' } }]);
    expect(kv['plant1/edge1/pump:sparkplug.death_time']).toBe(new Date(T0 + 9000).toISOString());

    // A will left over from an older session (bdSeq 41) changes nothing; the node's own
    // will (bdSeq 0), published by the broker when its connection drops, does.
    const pub = await mqtt.connectAsync(broker.url, { clientId: `stale-${process.pid}` });
    cleanups.push(() => pub.endAsync());
    await pub.publishAsync('spBv1.0/plant1/NDEATH/edge1', encodeTahu({ metrics: [{ name: 'bdSeq', type: 'UInt64', value: 41 }] }), { qos: 1 });
    await waitFor(() => agent.status().sparkplug?.nodes['plant1/edge1']?.staleDeaths === 1, { what: 'the stale NDEATH counted' });
    expect(server.values('metadata')['plant1/edge1:sparkplug.online']).toBe('true');
    node.client.end(true); // the connection dropped without a DISCONNECT: the broker publishes the will
    await waitFor(() => server.values('metadata')['plant1/edge1:sparkplug.online'] === 'false', { what: 'the node marked offline by its will (NDEATH)' });
    expect(agent.status().sparkplug!.nodes['plant1/edge1']).toMatchObject({ deaths: 1, staleDeaths: 1, online: false });
    expect(server.values('metadata')['plant1/edge1:sparkplug.death_time']).toBeDefined();
  });

  it('an unknown alias and a seq gap: a rebirth request on the broker, the held data lands after the rebirth', async () => {
    const { broker, server, configPath } = await setup('{ primary_host_id: scada-1, rebirth_interval: 1s }');
    const watcher = await mqtt.connectAsync(broker.url, { clientId: `watch-${process.pid}` });
    cleanups.push(() => watcher.endAsync());
    const rebirths: string[] = [];
    watcher.on('message', (topic) => rebirths.push(topic));
    await watcher.subscribeAsync('spBv1.0/+/NCMD/#', { qos: 1 });

    // The node was born before the agent started: the agent never saw its aliases.
    const node = edge(broker.url, 'g', 'n1');
    let births = 0;
    const birth = (): void => {
      births++;
      node.publishNodeBirth({ timestamp: T0 + births, metrics: [{ name: 'temp', alias: 7, type: 'Float', value: 20 }] });
    };
    node.on('birth', birth);
    node.on('ncmd', (p) => {
      if (p.metrics?.some((m) => m.name === 'Node Control/Rebirth' && m.value === true)) birth();
    });
    await waitFor(() => births === 1, { what: 'first birth' });
    const { agent } = await inProcessAgent(configPath);

    node.publishNodeData({ timestamp: T0 + 100, metrics: [{ alias: 7, type: 'Float', value: 21.5 }] });
    await waitFor(() => rebirths.length >= 1 && births >= 2, { what: 'a rebirth request answered' });
    expect(rebirths[0]).toBe('spBv1.0/g/NCMD/n1');
    await waitFor(() => server.records('plant', 'g/n1').some((r) => r.ts === T0 + 100), { what: 'the held reading stored after the rebirth' });
    expect(server.records('plant', 'g/n1').find((r) => r.ts === T0 + 100)!.data).toBe('{"temp":21.5}');

    // Three messages lost on the way (seq jumps): the next is held until the rebirth.
    await new Promise((r) => setTimeout(r, 1100)); // the per-node rebirth interval (1 s)
    node.seq += 3;
    node.publishNodeData({ timestamp: T0 + 200, metrics: [{ alias: 7, type: 'Float', value: 22.5 }] });
    await waitFor(() => rebirths.length >= 2 && births >= 3, { what: 'a second rebirth request answered' });
    await waitFor(() => server.records('plant', 'g/n1').some((r) => r.ts === T0 + 200), { what: 'the reading after the gap stored' });
    const sp = agent.status().sparkplug!;
    expect(sp.nodes['g/n1']).toMatchObject({ unresolved: 2, seqGaps: 1, rebirthRequests: 2 });
    expect(sp.resolved).toBe(2);
  });

  it('reads the retained births a Sparkplug-aware broker keeps under $sparkplug/certificates/ at start', async () => {
    const { broker, server, configPath } = await setup();
    const pub = await mqtt.connectAsync(broker.url, { clientId: `cert-${process.pid}` });
    cleanups.push(() => pub.endAsync());
    // What HiveMQ's Sparkplug extension or Mosquitto 2.1 would have kept of the node's birth.
    const birth = encodeTahu({ timestamp: T0, seq: 0, metrics: [{ name: 'bdSeq', type: 'UInt64', value: 1 }, { name: 'flow', alias: 5, type: 'Double', value: 0 }] });
    await pub.publishAsync('$sparkplug/certificates/spBv1.0/g/NBIRTH/n3', birth, { qos: 1, retain: true });
    const { agent } = await inProcessAgent(configPath);
    await waitFor(() => agent.status().sparkplug?.nodes['g/n3']?.births === 1, { what: 'the retained birth read' });
    await pub.publishAsync('spBv1.0/g/NDATA/n3', aliasOnly(encodeTahu({ timestamp: T0 + 7, seq: 12, metrics: [{ alias: 5, type: 'Double', value: 2.5 }] })), { qos: 1 });
    await waitFor(() => server.records('plant', 'g/n3').length === 1, { what: 'data resolved with the retained birth' });
    // The certificate gives aliases and metadata, not a second record of the birth values.
    expect(server.records('plant', 'g/n3')).toEqual([{ ts: T0 + 7, data: '{"flow":2.5}' }]);
    expect(agent.status().sparkplug!.nodes['g/n3']).toMatchObject({ unresolved: 0, rebirthRequests: 0 });
  });

  it('SIGKILLed while aliased data flows and restarted: every reading lands with its name; STATE online, then its will', async () => {
    const { broker, server, configPath, dir } = await setup('{ primary_host_id: scada-1 }');
    const watcher = await mqtt.connectAsync(broker.url, { clientId: `state-${process.pid}` });
    cleanups.push(() => watcher.endAsync());
    const states: Array<{ online: boolean; timestamp: number }> = [];
    watcher.on('message', (_t, m) => states.push(JSON.parse(m.toString()) as { online: boolean; timestamp: number }));
    await watcher.subscribeAsync('spBv1.0/STATE/scada-1', { qos: 1 });

    const env = { FLUXION_API_KEY: TEST_KEY };
    let agent = startCli(['run', '--config', configPath], { env });
    cleanups.push(() => void (agent.child.exitCode === null && agent.child.kill('SIGKILL')));
    await waitFor(() => states.some((s) => s.online), { timeoutMs: 20_000, what: 'STATE online' });

    const node = edge(broker.url, 'g', 'n2');
    node.on('birth', () => node.publishNodeBirth({ timestamp: T0, metrics: [{ name: 'level', alias: 3, type: 'Int32', value: 0 }] }));
    await waitFor(() => server.records('plant', 'g/n2').length === 1, { what: 'birth stored' });

    const total = 600;
    let sent = 0;
    const feed = setInterval(() => {
      for (let i = 0; i < 10 && sent < total; i++, sent++) node.publishNodeData({ timestamp: T0 + 1 + sent, metrics: [{ alias: 3, type: 'Int32', value: -sent }] });
      if (sent >= total) clearInterval(feed);
    }, 5);
    cleanups.push(() => clearInterval(feed));
    await waitFor(() => server.records('plant', 'g/n2').length > 100, { timeoutMs: 30_000, what: 'part of the stream stored' });
    agent.child.kill('SIGKILL');
    expect((await agent.exited).signal).toBe('SIGKILL');
    const will = await waitFor(() => states.find((s) => !s.online), { what: 'the STATE will published by the broker' });
    expect(will.timestamp).toBe(states.find((s) => s.online)!.timestamp);
    await waitFor(() => sent >= total, { what: 'the node finished publishing' });

    agent = startCli(['run', '--config', configPath], { env });
    await waitFor(() => server.records('plant', 'g/n2').length >= total + 1, { timeoutMs: 60_000, what: 'every reading stored' });
    const got = server.records('plant', 'g/n2');
    expect(got.length).toBe(total + 1);
    for (let i = 0; i < total; i++) expect(got[i + 1]).toEqual({ ts: T0 + 1 + i, data: JSON.stringify({ level: -i }) });
    await waitFor(() => states.filter((s) => s.online).length >= 2, { what: 'STATE online again after the restart' });

    agent.child.kill('SIGTERM');
    expect((await agent.exited).code).toBe(0);
    await waitFor(() => states[states.length - 1]?.online === false, { what: 'STATE offline at a graceful stop' });
    // The alias table is in the queue file.
    const q = new SqliteQueue({ path: join(dir.path, 'queue.db') });
    q.start();
    expect(q.database.prepare('SELECT node, device FROM sparkplug_births').all()).toEqual([{ node: 'g/n2', device: '' }]);
    q.stop();
  });
});
