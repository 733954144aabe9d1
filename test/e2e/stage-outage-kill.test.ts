/**
 * The staging log end to end: the built agent takes QoS 1 readings from a real Mosquitto
 * while FluxionDB is unreachable (so commit groups go to the staging log, one page each), is
 * SIGKILLed mid-stream with readings staged and acknowledged, and restarts once FluxionDB is
 * up: every reading reaches the server once, at its own timestamp (staged ones recovered from
 * the log, unacknowledged ones redelivered by the broker, none stored twice).
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import mqtt from 'mqtt';
import { DevServer } from '../../src/devserver/index.js';
import { openQueueReadOnly } from '../../src/queue/index.js';
import { decodeStageRecords } from '../../src/queue/stage-log.js';
import { TEST_KEY } from '../helpers/agent.js';
import { startCli } from '../helpers/cli.js';
import { startMosquitto } from '../helpers/mosquitto.js';
import { pipelineConfigYaml } from '../helpers/pipeline-config.js';
import { freePort } from '../helpers/ports.js';
import { tempDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';

const DEVICES = 50;
const BASE_TS = 1_765_000_000_000;

/** Waits for every expected reading on the server, then checks: exactly these, each at its own timestamp with its own value. */
async function expectEachOnce(server: DevServer, expected: ReadonlyArray<{ doc: string; ts: number; temp: number }>, devices: number): Promise<void> {
  await waitFor(() => server.recordCount() >= expected.length, { timeoutMs: 30_000, intervalMs: 100, what: 'all readings on the server' });
  await new Promise((r) => setTimeout(r, 500)); // nothing more arrives
  expect(server.recordCount()).toBe(expected.length);
  const held = new Map<string, string>();
  for (let d = 0; d < devices; d++) for (const r of server.records('telemetry', `dev-${d}`)) held.set(`dev-${d}@${Number(r.ts)}`, r.data);
  expect(expected.filter((e) => held.get(`${e.doc}@${e.ts}`) !== JSON.stringify({ temperature: e.temp, site: 'site-1' }))).toEqual([]);
}

describe('the staging log through the built agent', () => {
  const cleanups: Array<() => Promise<unknown> | void> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  it('an outage, the agent SIGKILLed with readings staged, restarted with FluxionDB up: every reading once', async () => {
    const dir = tempDir();
    const broker = await startMosquitto({ persistence: true });
    cleanups.push(() => dir.cleanup(), () => broker.stop());
    const port = await freePort(); // nobody listens yet: FluxionDB is unreachable
    const configPath = join(dir.path, 'config.yaml');
    writeFileSync(configPath, pipelineConfigYaml({ dir: dir.path, brokerUrl: broker.url, serverUrl: `ws://127.0.0.1:${port}`, clientId: 'fluxion-edge-stage' }));
    const run = () => startCli(['run', '--config', configPath], { env: { FLUXION_API_KEY: TEST_KEY } });
    let agent = run();
    cleanups.push(() => void (agent.child.exitCode === null && agent.child.kill('SIGKILL')));
    await waitFor(() => agent.output().includes('mqtt input subscribed'), { timeoutMs: 20_000, what: 'the agent subscribed' });

    const pub = await mqtt.connectAsync(broker.url, { clientId: 'stage-devices' });
    cleanups.push(() => pub.endAsync());
    const expected: Array<{ doc: string; ts: number; temp: number }> = [];
    const publish = async (from: number, n: number): Promise<void> => {
      for (let i = from; i < from + n; i++) {
        const d = i % DEVICES;
        const ts = BASE_TS + i;
        const temp = 20 + (i % 50) / 10;
        expected.push({ doc: `dev-${d}`, ts, temp });
        await pub.publishAsync(`sensors/site-1/dev-${d}/telemetry`, JSON.stringify({ ts, temp }), { qos: 1 });
      }
    };
    // PUBACKs come once a reading is committed: a publishAsync that resolved was staged.
    await publish(0, 600);
    const log = join(dir.path, 'queue.db-stage');
    await waitFor(() => existsSync(log) && decodeStageRecords(readFileSync(log)).length > 0, { what: 'groups in the staging log' });
    const inFlight = publish(600, 400); // still publishing when the kill lands
    await new Promise((r) => setTimeout(r, 50));
    agent.child.kill('SIGKILL');
    await agent.exited;
    await inFlight;
    // At least 600 readings were acknowledged, and fewer are in the queue file: the rest only
    // in the staging log, recovered at the restart.
    const ro = openQueueReadOnly(join(dir.path, 'queue.db'));
    const inFile = ro.stats().appended;
    ro.close();
    expect(inFile).toBeLessThan(600);

    const server = new DevServer({ port, masterKey: TEST_KEY });
    await server.start();
    cleanups.push(() => server.stop());
    agent = run();
    await publish(1000, 200);
    await expectEachOnce(server, expected, DEVICES);
    agent.child.kill('SIGTERM');
    expect((await agent.exited).code).toBe(0);
  }, 90_000);
  it('a steady 1 Hz site through an outage longer than the staging timer, SIGKILLed, restarted with FluxionDB up: every reading once', async () => {
    const dir = tempDir();
    const broker = await startMosquitto({ persistence: true });
    cleanups.push(() => dir.cleanup(), () => broker.stop());
    const port = await freePort(); // FluxionDB unreachable until the restart
    const configPath = join(dir.path, 'config.yaml');
    writeFileSync(configPath, pipelineConfigYaml({ dir: dir.path, brokerUrl: broker.url, serverUrl: `ws://127.0.0.1:${port}`, clientId: 'fluxion-edge-stage-1hz' }));
    const run = () => startCli(['run', '--config', configPath], { env: { FLUXION_API_KEY: TEST_KEY } });
    let agent = run();
    cleanups.push(() => void (agent.child.exitCode === null && agent.child.kill('SIGKILL')));
    await waitFor(() => agent.output().includes('mqtt input subscribed'), { timeoutMs: 20_000, what: 'the agent subscribed' });

    // 20 devices, each once a second on its own clock: one reading every 50 ms, never a burst.
    const devices = 20;
    const pub = await mqtt.connectAsync(broker.url, { clientId: 'stage-1hz-devices' });
    cleanups.push(() => pub.endAsync());
    const expected: Array<{ doc: string; ts: number; temp: number }> = [];
    const pending: Array<Promise<unknown>> = [];
    let stop = false;
    const stream = (async () => {
      for (let i = 0; !stop; i++) {
        const d = i % devices;
        const ts = BASE_TS + i * 50;
        const temp = 20 + (i % 50) / 10;
        expected.push({ doc: `dev-${d}`, ts, temp });
        pending.push(pub.publishAsync(`sensors/site-1/dev-${d}/telemetry`, JSON.stringify({ ts, temp }), { qos: 1 }));
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
    const log = join(dir.path, 'queue.db-stage');
    await waitFor(() => existsSync(log) && decodeStageRecords(readFileSync(log)).length > 0, { what: 'groups in the staging log' });
    // Past the staging log's 5 s timer (stage_flush, default): staged groups were moved into the
    // file during the outage, and the log was rewound and reused.
    await waitFor(
      () => {
        const ro = openQueueReadOnly(join(dir.path, 'queue.db'));
        try {
          return ro.stats().appended > 0;
        } finally {
          ro.close();
        }
      },
      { timeoutMs: 30_000, intervalMs: 250, what: 'a timed move of the staging log into the file' },
    );
    await waitFor(() => expected.length >= 240, { timeoutMs: 30_000, what: '12 s of the stream' });
    agent.child.kill('SIGKILL');
    await agent.exited;

    const server = new DevServer({ port, masterKey: TEST_KEY });
    await server.start();
    cleanups.push(() => server.stop());
    agent = run();
    await waitFor(() => agent.output().includes('mqtt input subscribed'), { timeoutMs: 20_000, what: 'the agent subscribed again' });
    await new Promise((r) => setTimeout(r, 2000)); // the stream goes on into the restarted agent
    stop = true;
    await stream;
    await Promise.all(pending);
    await expectEachOnce(server, expected, devices);
    agent.child.kill('SIGTERM');
    expect((await agent.exited).code).toBe(0);
  }, 120_000);
});
