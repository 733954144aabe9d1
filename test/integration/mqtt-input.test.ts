import type { MqttClient } from 'mqtt';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MqttInput } from '../../src/inputs/mqtt/index.js';
import { memoryLogger } from '../helpers/agent.js';
import { startMosquitto, type MosquittoHandle } from '../helpers/mosquitto.js';
import { QueueSink, connectPublisher, mqttInputOptions, publishRange } from '../helpers/mqtt-harness.js';
import { tempDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';

const range = (from: number, to: number): number[] => Array.from({ length: to - from }, (_, i) => from + i);

/** Every seq of `seqsByDoc` flattened and sorted. */
function allSeqs(byDoc: Map<string, number[]>): number[] {
  return [...byDoc.values()].flat().sort((a, b) => a - b);
}

describe('MqttInput against Mosquitto', () => {
  let broker: MosquittoHandle;
  let dir: { path: string; cleanup: () => void };
  let pub: MqttClient;
  const inputs: MqttInput[] = [];
  const sinks: QueueSink[] = [];
  const logs = new Map<MqttInput, () => Array<Record<string, unknown>>>();

  function sink(sub = 'a'): QueueSink {
    const s = new QueueSink(`${dir.path}/${sub}`);
    sinks.push(s);
    return s;
  }
  function input(options: ReturnType<typeof mqttInputOptions>, s: QueueSink): MqttInput {
    const log = memoryLogger('debug');
    const i = new MqttInput(options, { sink: s, logger: log.logger });
    inputs.push(i);
    logs.set(i, log.lines);
    return i;
  }
  /** Waits until the input's SUBACK came back: messages published from now on reach it. */
  async function subscribed(i: MqttInput): Promise<void> {
    await waitFor(() => logs.get(i)!().some((l) => l.msg === 'mqtt input subscribed'), { what: 'subscribed' });
  }

  beforeEach(async () => {
    dir = tempDir();
    broker = await startMosquitto();
    pub = await connectPublisher(broker.url);
  });

  afterEach(async () => {
    for (const i of inputs.splice(0)) await i.stop();
    await pub.endAsync(true);
    for (const s of sinks.splice(0)) s.close();
    await broker.stop();
    dir.cleanup();
  });

  it('commits every QoS 1 message exactly once, in publish order per topic', async () => {
    const s = sink();
    const mi = input(mqttInputOptions(broker.url), s);
    await mi.start();
    await subscribed(mi);
    const acked = await publishRange(pub, 0, 500);
    expect(acked).toEqual(range(0, 500));
    await waitFor(() => mi.status().committed === 500, { what: '500 committed' });
    const records = s.records();
    expect(records).toHaveLength(500);
    expect(new Set(records.map((r) => `${r.col}/${r.doc}/${r.ts}`)).size).toBe(500);
    const byDoc = s.seqsByDoc();
    for (let d = 0; d < 5; d++) expect(byDoc.get(`d${d}`)).toEqual(range(0, 500).filter((n) => n % 5 === d));
    expect(s.rejected).toBe(0);
    const st = mi.status();
    expect(st).toMatchObject({ name: 'mqtt', state: 'connected', received: 500, committed: 500, lastError: null });
    expect(st.lastMessageAt).toBeGreaterThan(0);
  });

  it('groups commits: 2,000 messages in far fewer commits, order kept per topic', async () => {
    const s = sink();
    const mi = input(mqttInputOptions(broker.url), s);
    await mi.start();
    await subscribed(mi);
    await publishRange(pub, 0, 2000, { devices: 4 });
    await waitFor(() => mi.status().committed === 2000, { what: '2000 committed' });
    expect(s.commits).toBeLessThanOrEqual(500);
    const byDoc = s.seqsByDoc();
    for (let d = 0; d < 4; d++) expect(byDoc.get(`d${d}`)).toEqual(range(0, 2000).filter((n) => n % 4 === d));
  });

  it('sends no PUBACK before the commit: a blocked queue holds the broker at its in-flight window', async () => {
    const s = sink();
    s.block();
    const mi = input(mqttInputOptions(broker.url), s);
    await mi.start();
    await subscribed(mi);
    await publishRange(pub, 0, 50);
    // Mosquitto sends 20 (max_inflight_messages) and waits: had any PUBACK gone out, it
    // would have sent more.
    await waitFor(() => mi.status().received === 20 && s.refused > 0, { what: '20 received, commit refused' });
    await new Promise((r) => setTimeout(r, 300));
    expect(mi.status()).toMatchObject({ state: 'waiting', received: 20, committed: 0 });
    expect(mi.status().lastError?.message).toContain('queue full');

    s.unblock();
    await waitFor(() => mi.status().committed === 50, { what: '50 committed after release' });
    expect(allSeqs(s.seqsByDoc())).toEqual(range(0, 50));
    expect(mi.status()).toMatchObject({ state: 'connected', received: 50 });
  });

  it('after an abrupt end with nothing committed, the broker delivers everything again', async () => {
    const opts = mqttInputOptions(broker.url);
    const blocked = sink('blocked');
    blocked.block();
    const first = input(opts, blocked);
    await first.start();
    await subscribed(first);
    await publishRange(pub, 0, 50);
    await waitFor(() => first.status().received === 20 && blocked.refused > 0);
    first.destroy();
    expect(blocked.records()).toEqual([]);

    const s = sink('second');
    const second = input(opts, s);
    await second.start();
    await waitFor(() => second.status().committed === 50, { what: '50 committed by the second input' });
    await new Promise((r) => setTimeout(r, 200));
    expect(second.status().received).toBe(50);
    expect(allSeqs(s.seqsByDoc())).toEqual(range(0, 50));
  });

  it('keeps the session across a stop: messages published meanwhile arrive after restart, none twice (MQTT 5)', async () => {
    const opts = mqttInputOptions(broker.url, { protocolVersion: 5 });
    const s = sink();
    const first = input(opts, s);
    await first.start();
    await subscribed(first);
    await publishRange(pub, 0, 100);
    await waitFor(() => first.status().committed === 100);
    await first.stop();
    await first.stop();
    expect(first.status().state).toBe('stopped');

    expect(await publishRange(pub, 100, 300)).toEqual(range(100, 300));
    const second = input(opts, s);
    await second.start();
    await waitFor(() => second.status().committed === 200, { what: '200 committed after restart' });
    await new Promise((r) => setTimeout(r, 200));
    expect(second.status().received).toBe(200);
    expect(allSeqs(s.seqsByDoc())).toEqual(range(0, 300));
  });

  it('works with a shared subscription; topics arrive without the $share prefix', async () => {
    const s = sink();
    const mi = input(mqttInputOptions(broker.url, { subscriptions: [{ filter: '$share/g1/sensors/#', qos: 1 }] }), s);
    await mi.start();
    await subscribed(mi);
    await publishRange(pub, 0, 100);
    await waitFor(() => mi.status().committed === 100);
    expect(s.rejected).toBe(0);
    expect([...s.seqsByDoc().keys()].sort()).toEqual(['d0', 'd1', 'd2', 'd3', 'd4']);
    expect(allSeqs(s.seqsByDoc())).toEqual(range(0, 100));
  });

  it('turns Nagle off on the MQTT socket', async () => {
    const mi = input(mqttInputOptions(broker.url), sink());
    await mi.start();
    await waitFor(() => mi.status().state === 'connected');
    const socket = mi.transport() as object;
    const sym = Object.getOwnPropertySymbols(socket).find((x) => x.description === 'kSetNoDelay');
    expect(sym).toBeDefined();
    expect((socket as Record<symbol, unknown>)[sym!]).toBe(true);
  });

  it('commits QoS 0 messages in the same groups', async () => {
    const s = sink();
    const mi = input(mqttInputOptions(broker.url, { subscriptions: [{ filter: 'sensors/+/telemetry', qos: 0 }] }), s);
    await mi.start();
    await subscribed(mi);
    await publishRange(pub, 0, 300, { qos: 0 });
    await waitFor(() => mi.status().committed === 300, { what: '300 QoS 0 committed' });
    expect(s.commits).toBeLessThan(300);
    expect(allSeqs(s.seqsByDoc())).toEqual(range(0, 300));
  });
});
