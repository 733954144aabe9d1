/**
 * A site at a realistic pace, not full speed: 20 devices each reporting once a second with
 * its own clock, through a real Mosquitto, with the default group commit (the broker's window
 * learnt, 50 ms delay). The agent is SIGKILLed while the stream goes on and restarted: every
 * reading lands once, at its own timestamp (a reading the broker redelivers after the crash
 * is the same record, never a second one a millisecond later), and the light stream is not
 * held back by group commits that never fill.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { DevServer } from '../../src/devserver/index.js';
import { TEST_KEY } from '../helpers/agent.js';
import { startCli } from '../helpers/cli.js';
import { startMosquitto } from '../helpers/mosquitto.js';
import { pipelineConfigYaml } from '../helpers/pipeline-config.js';
import { tempDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';

const DEVICES = 20;
const SECONDS = 8;
const BASE_TS = 1_765_000_000_000;

describe('a steady 1 Hz site', () => {
  const cleanups: Array<() => Promise<unknown> | void> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  it('20 devices at 1 Hz, the agent SIGKILLed mid-stream and restarted: every reading once, at its own ts', async () => {
    const dir = tempDir();
    const broker = await startMosquitto({ persistence: true });
    const server = new DevServer({ port: 0, masterKey: TEST_KEY });
    await server.start();
    cleanups.push(() => dir.cleanup(), () => broker.stop(), () => server.stop());
    const configPath = join(dir.path, 'config.yaml');
    writeFileSync(configPath, pipelineConfigYaml({ dir: dir.path, brokerUrl: broker.url, serverUrl: server.url, clientId: 'fluxion-edge-steady' }));
    const env = { FLUXION_API_KEY: TEST_KEY };
    let agent = startCli(['run', '--config', configPath], { env });
    cleanups.push(() => void (agent.child.exitCode === null && agent.child.kill('SIGKILL')));
    await waitFor(() => agent.output().includes('mqtt input subscribed'), { timeoutMs: 20_000, what: 'agent up' });

    const pub = await mqtt.connectAsync(broker.url, { clientId: 'steady-devices' });
    cleanups.push(() => pub.endAsync());
    // Each device's own clock: second s of device d is BASE_TS + s * 1000 + d (devices are not in step).
    const expected: Array<{ doc: string; ts: number; temp: number }> = [];
    for (let s = 0; s < SECONDS; s++) {
      if (s === Math.floor(SECONDS / 2)) {
        agent.child.kill('SIGKILL');
        await agent.exited;
      }
      if (s === Math.floor(SECONDS / 2) + 1) agent = startCli(['run', '--config', configPath], { env });
      for (let d = 0; d < DEVICES; d++) {
        const ts = BASE_TS + s * 1000 + d;
        const temp = 20 + ((s * 7 + d) % 50) / 10;
        expected.push({ doc: `dev-${d}`, ts, temp });
        await pub.publishAsync(`sensors/site-1/dev-${d}/telemetry`, JSON.stringify({ ts, temp }), { qos: 1 });
      }
      await new Promise((r) => setTimeout(r, 1000));
    }
    await waitFor(() => server.recordCount() >= expected.length, { timeoutMs: 30_000, intervalMs: 100, what: 'every reading stored' });
    // Nothing extra: a redelivery after the crash was the same record, not one bumped a millisecond later.
    await new Promise((r) => setTimeout(r, 500));
    expect(server.recordCount()).toBe(expected.length);
    for (const e of expected) {
      const rec = server.records('telemetry', e.doc).find((r) => Number(r.ts) === e.ts);
      expect(rec?.data, `${e.doc} at ${e.ts}`).toBe(JSON.stringify({ temperature: e.temp, site: 'site-1' }));
    }
    agent.child.kill('SIGTERM');
    expect((await agent.exited).code).toBe(0);
  });
});
