import mqtt from 'mqtt';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AgentError, ErrorCodes } from '../../src/errors.js';
import { EmbeddedBroker, MqttInput } from '../../src/inputs/mqtt/index.js';
import { memoryLogger } from '../helpers/agent.js';
import { startMosquitto } from '../helpers/mosquitto.js';
import { QueueSink, connectPublisher, mqttInputOptions, publishRange, telemetry } from '../helpers/mqtt-harness.js';
import { tempDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';

const range = (from: number, to: number): number[] => Array.from({ length: to - from }, (_, i) => from + i);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('MqttInput when things go wrong', () => {
  let dir: { path: string; cleanup: () => void };
  const cleanups: Array<() => Promise<void> | void> = [];

  beforeEach(() => {
    dir = tempDir();
  });
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
    dir.cleanup();
  });

  it('loses nothing the broker acknowledged when Mosquitto restarts (with persistence) mid-stream', async () => {
    const broker = await startMosquitto({ persistence: true });
    cleanups.push(() => broker.stop());
    const sink = new QueueSink(dir.path);
    cleanups.push(() => sink.close());
    const log = memoryLogger('info');
    const mi = new MqttInput(mqttInputOptions(broker.url), { sink, logger: log.logger });
    cleanups.push(() => mi.stop());
    await mi.start();
    await waitFor(() => log.lines().some((l) => l.msg === 'mqtt input subscribed'));
    const pub = await connectPublisher(broker.url);
    cleanups.push(() => pub.endAsync(true));

    // 1,500 messages in bursts of 50; Mosquitto restarts after the 10th burst.
    const acked: number[] = [];
    const publishing = (async () => {
      for (let b = 0; b < 30; b++) {
        const burst = publishRange(pub, b * 50, (b + 1) * 50).then((seqs) => void acked.push(...seqs));
        if (b === 10) await broker.restart();
        await Promise.race([burst, sleep(20)]);
      }
    })();
    await publishing;
    await waitFor(() => acked.length === 1500, { timeoutMs: 20_000, what: 'every publish acknowledged' });
    await waitFor(() => {
      const have = new Set([...sink.seqsByDoc().values()].flat());
      return acked.every((s) => have.has(s));
    }, { timeoutMs: 20_000, what: 'every acknowledged message in the queue' });
    const have = new Set([...sink.seqsByDoc().values()].flat());
    expect(range(0, 1500).filter((s) => !have.has(s))).toEqual([]);
    expect(log.lines().some((l) => l.msg === 'mqtt connection closed; reconnecting')).toBe(true);
  });

  it('keeps a group whose commit failed (disk full, unexpected error) and commits it once later', async () => {
    const broker = await startMosquitto();
    cleanups.push(() => broker.stop());
    const sink = new QueueSink(dir.path);
    cleanups.push(() => sink.close());
    sink.failures.push(new AgentError(ErrorCodes.QUEUE_DISK_FULL, 'disk full'), new Error('boom: a bug'));
    const log = memoryLogger('info');
    const mi = new MqttInput(mqttInputOptions(broker.url), { sink, logger: log.logger });
    cleanups.push(() => mi.stop());
    await mi.start();
    await waitFor(() => log.lines().some((l) => l.msg === 'mqtt input subscribed'));
    const pub = await connectPublisher(broker.url);
    cleanups.push(() => pub.endAsync(true));
    await publishRange(pub, 0, 60);
    await waitFor(() => mi.status().committed === 60, { what: '60 committed' });
    expect(sink.refused).toBe(2);
    expect(mi.status().received).toBe(60);
    expect([...sink.seqsByDoc().values()].flat().sort((a, b) => a - b)).toEqual(range(0, 60));
    const lines = log.lines();
    expect(lines.filter((l) => l.msg === 'disk full: holding messages unacknowledged, retrying')).toHaveLength(1);
    const bug = lines.filter((l) => typeof l.msg === 'string' && l.msg.startsWith('COMMIT FAILED UNEXPECTEDLY'));
    expect(bug).toHaveLength(1);
    expect(bug[0]!.level).toBe(50);
    expect(bug[0]!.err).toBe('boom: a bug');
  });

  it('reports a refused password without ever showing it', async () => {
    const broker = await startMosquitto({ users: { edge: 'right-pass-7731' } });
    cleanups.push(() => broker.stop());
    const sink = new QueueSink(dir.path);
    cleanups.push(() => sink.close());
    const log = memoryLogger('debug');
    const wrong = new MqttInput(mqttInputOptions(broker.url, { username: 'edge', password: 'wrong-secret-9912' }), { sink, logger: log.logger });
    cleanups.push(() => wrong.stop());
    await wrong.start();
    const err = await waitFor(() => wrong.status().lastError, { what: 'connection error' });
    expect(err.message).toMatch(/Not authorized|Bad username or password/);
    expect(wrong.status().state).toBe('disconnected');
    await sleep(300);
    await wrong.stop();

    const right = new MqttInput(mqttInputOptions(`mqtt://edge:right-pass-7731@127.0.0.1:${broker.port}`), { sink, logger: log.logger });
    cleanups.push(() => right.stop());
    await right.start();
    await waitFor(() => right.status().state === 'connected');
    await right.stop();
    const text = JSON.stringify(log.lines()) + JSON.stringify(wrong.status()) + JSON.stringify(right.status());
    expect(text).not.toContain('wrong-secret-9912');
    expect(text).not.toContain('right-pass-7731');
    expect(text).toContain('mqtt input error');
  });

  it('commits what a device publishes to the embedded broker', async () => {
    const broker = new EmbeddedBroker({ host: '127.0.0.1', port: 0 }, { logger: pino({ level: 'silent' }) });
    cleanups.push(() => broker.stop());
    await broker.start();
    await broker.start();
    expect(broker.port).toBeGreaterThan(0);
    const sink = new QueueSink(dir.path);
    cleanups.push(() => sink.close());
    const log = memoryLogger('info');
    const mi = new MqttInput(mqttInputOptions(broker.url), { sink, logger: log.logger });
    cleanups.push(() => mi.stop());
    await mi.start();
    await waitFor(() => log.lines().some((l) => l.msg === 'mqtt input subscribed'));
    const device = await mqtt.connectAsync(broker.url, { clientId: 'device-1', clean: false });
    cleanups.push(() => device.endAsync(true));
    for (let seq = 0; seq < 30; seq++) await device.publishAsync(`sensors/dev${seq % 3}/telemetry`, telemetry(seq), { qos: 1 });
    await waitFor(() => mi.status().committed === 30);
    const byDoc = sink.seqsByDoc();
    expect(byDoc.get('dev0')).toEqual(range(0, 30).filter((n) => n % 3 === 0));
    expect([...byDoc.values()].flat().sort((a, b) => a - b)).toEqual(range(0, 30));
    await mi.stop();
    await broker.stop();
    await broker.stop();
  });
});
