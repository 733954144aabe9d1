import { afterEach, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Agent } from '../../src/agent.js';
import { loadConfig } from '../../src/config/index.js';
import { DevServer } from '../../src/devserver/index.js';
import { memoryLogger, missingOn, TEST_KEY } from '../helpers/agent.js';
import { runCli, startCli } from '../helpers/cli.js';
import { startMosquitto, type MosquittoHandle } from '../helpers/mosquitto.js';
import { publishAll } from '../helpers/mqtt-harness.js';
import { pipelineConfigYaml, pipelineReading as reading } from '../helpers/pipeline-config.js';
import { tempDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';

const BASE_TS = 1_760_000_000_000;

describe('MQTT to FluxionDB, end to end', () => {
  const cleanups: Array<() => Promise<unknown> | void> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  async function setup() {
    const dir = tempDir();
    const broker: MosquittoHandle = await startMosquitto({ persistence: true });
    const server = new DevServer({ port: 0, masterKey: TEST_KEY });
    await server.start();
    cleanups.push(() => dir.cleanup(), () => broker.stop(), () => server.stop());
    const configPath = join(dir.path, 'config.yaml');
    writeFileSync(configPath, pipelineConfigYaml({ dir: dir.path, brokerUrl: broker.url, serverUrl: server.url, clientId: 'fluxion-edge-e2e' }));
    return { dir, broker, server, configPath };
  }

  it('50,000 QoS 1 messages, the agent killed with SIGKILL in the middle and restarted: every reading is in FluxionDB', async () => {
    const { broker, server, configPath } = await setup();
    const env = { FLUXION_API_KEY: TEST_KEY };
    let agent = startCli(['run', '--config', configPath], { env });
    cleanups.push(() => void (agent.child.exitCode === null && agent.child.kill('SIGKILL')));
    await waitFor(() => agent.output().includes('mqtt input subscribed'), { timeoutMs: 20_000, what: 'agent up and subscribed' });

    const readings = Array.from({ length: 50_000 }, (_, i) => reading(i));
    const publishing = publishAll(broker.url, readings);
    await waitFor(() => server.recordCount() >= 10_000, { timeoutMs: 60_000, what: 'a good part of the stream stored' });
    agent.child.kill('SIGKILL');
    expect((await agent.exited).signal).toBe('SIGKILL');
    await publishing; // the broker holds what arrives meanwhile for the persistent session

    agent = startCli(['run', '--config', configPath], { env });
    await waitFor(() => server.recordCount() >= readings.length, { timeoutMs: 120_000, intervalMs: 200, what: 'every reading stored' });
    expect(missingOn(server, readings.map((r) => r.record))).toEqual([]);
    expect(server.recordCount()).toBe(readings.length);

    agent.child.kill('SIGTERM');
    expect((await agent.exited).code).toBe(0);
  });

  it('10,000 malformed payloads mixed into a valid stream: every valid reading lands, every bad one is a counted dead letter', async () => {
    const { dir, broker, server, configPath } = await setup();
    const { settings } = loadConfig(configPath, { FLUXION_API_KEY: TEST_KEY });
    const { logger, lines } = memoryLogger('info');
    const agent = new Agent(settings.agent, logger, { mapping: settings.mapping, mqtt: settings.mqtt });
    await agent.start();
    cleanups.push(() => agent.stop());
    await waitFor(() => lines().some((l) => l.msg === 'mqtt input subscribed'), { what: 'subscribed' });

    const good = Array.from({ length: 10_000 }, (_, i) => reading(i));
    const topic = 'sensors/plant-3/dev-bad/telemetry';
    const bad: Array<{ topic: string; payload: string | Buffer }> = [];
    for (let i = 0; i < 10_000; i++) {
      switch (i % 5) {
        case 0: bad.push({ topic, payload: '{"ts": 17, "temp": ' }); break; // truncated JSON
        case 1: bad.push({ topic, payload: Buffer.from([0xff, 0xfe, 0x00, 0x81, i & 0xff]) }); break; // binary garbage
        case 2: bad.push({ topic, payload: JSON.stringify({ ts: BASE_TS + i, temp: 'hot' }) }); break; // wrong type
        case 3: bad.push({ topic, payload: JSON.stringify({ temp: 1 }) }); break; // no timestamp field
        default: bad.push({ topic, payload: i % 1000 === 4 ? Buffer.alloc(1024 * 1024, 0x41) : '[1,2,3]' }); // 1 MB, or an array
      }
    }
    const mixed: Array<{ topic: string; payload: string | Buffer }> = [];
    for (let i = 0; i < 10_000; i++) mixed.push(good[i]!, bad[i]!);
    await publishAll(broker.url, mixed);

    await waitFor(() => agent.status().ingest.received >= 20_000 && agent.status().queue.depth === 0, {
      timeoutMs: 60_000,
      what: 'everything received and sent',
    });
    expect(missingOn(server, good.map((r) => r.record))).toEqual([]);
    expect(server.recordCount()).toBe(10_000);
    const status = agent.status();
    expect(status.ingest.deadLettered).toBe(10_000);
    expect(status.queue.deadLetterDepth).toBe(10_000);
    const sample = agent.queue.listDeadLetters({ limit: 5 });
    expect(sample[0]).toMatchObject({ source: 'mqtt', origin: topic });
    expect(sample[0]!.reason).toMatch(/^parse_error/);
    expect(status.inputs[0]!.state).toBe('connected');
    // Rate limited: ten thousand bad payloads are a handful of log lines, not ten thousand.
    const unmapped = lines().filter((l) => String(l.msg).includes('could not be mapped'));
    expect(unmapped.length).toBeGreaterThan(0);
    expect(unmapped.length).toBeLessThan(20);
    void dir;
  });

  it('refuses to start on a config with five mistakes, listing all five with their paths, exit 78', async () => {
    const dir = tempDir();
    cleanups.push(() => dir.cleanup());
    const bad = join(dir.path, 'bad.yaml');
    writeFileSync(
      bad,
      `fluxiondb:
  url: http://db:8080
  api_key: k
queue:
  on_full: drop_old
sender:
  window: -1
mqtt:
  url: mqtt://localhost:1883
  subscriptions:
    - topic: sensors/{device}/x
      collection: t
      document: "{devise}"
  clien_id: x
`,
    );
    const r = await runCli(['run', '--config', bad]);
    expect(r.code).toBe(78);
    const problems = r.stderr.split('\n').filter((l) => /^\S+:\d+:\d+ /.test(l));
    expect(problems).toHaveLength(5);
    for (const path of ['fluxiondb.url', 'queue.on_full', 'sender.window', 'mqtt.subscriptions[0].document', 'mqtt.clien_id']) {
      expect(r.stderr).toContain(path);
    }
  });
});
