import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.js';
import { DevServer } from '../../src/devserver/index.js';
import { openQueueReadOnly } from '../../src/queue/read-only.js';
import { missingOn, TEST_KEY } from '../helpers/agent.js';
import { startCli } from '../helpers/cli.js';
import { startMosquitto } from '../helpers/mosquitto.js';
import { publishAll } from '../helpers/mqtt-harness.js';
import { pipelineConfigYaml, pipelineReading } from '../helpers/pipeline-config.js';
import { tempDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';

/**
 * Issue 11 §3: three agents (the built CLI) in one `$share/` group behind one Mosquitto, each
 * with its own client id, persistent session and queue; one of them SIGKILLed and restarted
 * again and again mid-stream. Every reading must land exactly once, by identity and data.
 */
describe('three agents sharing one stream through $share', () => {
  const cleanups: Array<() => Promise<unknown> | void> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  it('one member SIGKILLed and restarted four times mid-stream: every reading lands exactly once', async () => {
    const dir = tempDir();
    cleanups.push(() => dir.cleanup());
    const broker = await startMosquitto();
    cleanups.push(() => broker.stop());
    const server = new DevServer({ port: 0, masterKey: TEST_KEY });
    await server.start();
    cleanups.push(() => server.stop());
    const env = { FLUXION_API_KEY: TEST_KEY };

    const configs = ['edge-a', 'edge-b', 'edge-c'].map((clientId) => {
      const home = join(dir.path, clientId);
      mkdirSync(home);
      const path = join(home, 'config.yaml');
      writeFileSync(path, pipelineConfigYaml({ dir: home, brokerUrl: broker.url, serverUrl: server.url, clientId, sharedGroup: 'edge' }));
      return { path, queue: join(home, 'queue.db') };
    });
    // The config takes a $share/ topic with named wildcards and subscribes to it as a plain filter.
    const { settings } = loadConfig(configs[0]!.path, env);
    expect(settings.mqtt?.input.subscriptions.map((s) => s.filter)).toEqual(['$share/edge/sensors/+/+/telemetry']);

    const start = async (i: number) => {
      const agent = startCli(['run', '--config', configs[i]!.path], { env });
      cleanups.push(() => void (agent.child.exitCode === null && agent.child.kill('SIGKILL')));
      await waitFor(() => agent.output().includes('mqtt input subscribed'), { timeoutMs: 20_000, what: `agent ${i} subscribed` });
      return agent;
    };
    const agents = [await start(0), await start(1), await start(2)];

    const readings = Array.from({ length: 18_000 }, (_, i) => pipelineReading(i, { site: 'plant-9', devices: 40, baseTs: 1_765_000_000_000 }));
    const publishing = publishAll(broker.url, readings);
    for (let kill = 1; kill <= 4; kill++) {
      await waitFor(() => server.recordCount() >= kill * 3_500, { timeoutMs: 60_000, what: `${kill * 3_500} readings stored` });
      agents[0]!.child.kill('SIGKILL');
      expect((await agents[0]!.exited).signal).toBe('SIGKILL');
      agents[0] = await start(0);
    }
    await publishing;
    await waitFor(() => server.recordCount() >= readings.length, { timeoutMs: 60_000, intervalMs: 200, what: 'every reading stored' });
    // Every queue drained: nothing (a bumped second copy included) is still on its way.
    await waitFor(() => configs.every((c) => queueStats(c.queue).depth === 0), { timeoutMs: 30_000, what: 'every queue drained' });

    expect(missingOn(server, readings.map((r) => r.record))).toEqual([]);
    expect(server.recordCount()).toBe(readings.length);
    // Each member took a share of the stream.
    for (const c of configs) expect(queueStats(c.queue).sent).toBeGreaterThan(0);

    for (const a of agents) a.child.kill('SIGTERM');
    for (const a of agents) expect((await a.exited).code).toBe(0);
  });
});

function queueStats(path: string): { depth: number; sent: number } {
  const q = openQueueReadOnly(path);
  try {
    return q.stats();
  } finally {
    q.close();
  }
}
