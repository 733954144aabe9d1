import { afterEach, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { DevServer } from '../../src/devserver/index.js';
import { missingOn, TEST_KEY } from '../helpers/agent.js';
import { startCli } from '../helpers/cli.js';
import { startMosquitto } from '../helpers/mosquitto.js';
import { tempDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';

const BASE_TS = 1_770_000_000_000;

function config(dir: string, brokerUrl: string, serverUrl: string, collection: string): string {
  return `
log: { level: info }
fluxiondb:
  url: ${serverUrl}
  api_key: \${FLUXION_API_KEY}
queue: { path: ${join(dir, 'queue.db')} }
sender: { linger: 5ms, backoff: { base: 50ms, cap: 500ms } }
mqtt:
  url: ${brokerUrl}
  client_id: fluxion-edge-signals
  subscriptions:
    - topic: sensors/{device}/t
      collection: ${collection}
      document: "{device}"
      timestamp: { field: ts, unit: ms }
`;
}

const reading = (i: number) => ({
  topic: `sensors/d${i % 20}/t`,
  payload: JSON.stringify({ ts: BASE_TS + i, v: i }),
  record: (col: string) => ({ col, doc: `d${i % 20}`, ts: BASE_TS + i, data: JSON.stringify({ ts: BASE_TS + i, v: i }) }),
});

describe('the agent process and its signals', () => {
  const cleanups: Array<() => Promise<unknown> | void> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  async function setup(collection = 'telemetry') {
    const dir = tempDir();
    const broker = await startMosquitto({ persistence: true });
    const server = new DevServer({ port: 0, masterKey: TEST_KEY });
    await server.start();
    cleanups.push(() => dir.cleanup(), () => broker.stop(), () => server.stop());
    const path = join(dir.path, 'config.yaml');
    writeFileSync(path, config(dir.path, broker.url, server.url, collection));
    const start = () => {
      const agent = startCli(['run', '--config', path], { env: { FLUXION_API_KEY: TEST_KEY } });
      cleanups.push(() => void (agent.child.exitCode === null && agent.child.kill('SIGKILL')));
      return agent;
    };
    const publisher = await mqtt.connectAsync(broker.url, { clientId: 'signals-pub' });
    cleanups.push(() => publisher.endAsync());
    return { dir, broker, server, path, start, publisher };
  }

  it('SIGTERM during a busy stream: exit 0, and after a restart every published reading is in FluxionDB', async () => {
    const { server, start, publisher } = await setup();
    let agent = start();
    await waitFor(() => agent.output().includes('mqtt input subscribed'), { timeoutMs: 20_000, what: 'agent up and subscribed' });
    const readings = Array.from({ length: 20_000 }, (_, i) => reading(i));
    const publishing = (async () => {
      for (let i = 0; i < readings.length; i += 200) {
        await Promise.all(readings.slice(i, i + 200).map((r) => publisher.publishAsync(r.topic, r.payload, { qos: 1 })));
      }
    })();
    await waitFor(() => server.recordCount() >= 3_000, { timeoutMs: 30_000, what: 'stream under way' });
    agent.child.kill('SIGTERM');
    const exit = await agent.exited;
    expect(exit.code).toBe(0);
    expect(agent.output()).toContain('agent stopped');
    await publishing;
    agent = start();
    // The first agent may have delivered everything already: SIGTERM must not reach this one
    // before it handles signals (Node would die of it, exit code null).
    await waitFor(() => agent.output().includes('mqtt input subscribed'), { timeoutMs: 20_000, what: 'agent up again' });
    const expected = readings.map((r) => r.record('telemetry'));
    await waitFor(() => missingOn(server, expected).length === 0, { timeoutMs: 60_000, intervalMs: 250, what: 'every reading' });
    agent.child.kill('SIGTERM');
    expect((await agent.exited).code).toBe(0);
  });

  it('SIGHUP applies a changed mapping live without losing a reading; a broken config is refused and the old mapping keeps working', async () => {
    const { dir, broker, server, path, start, publisher } = await setup('telemetry');
    const agent = start();
    await waitFor(() => agent.output().includes('mqtt input subscribed'), { timeoutMs: 20_000, what: 'agent up and subscribed' });

    // A steady stream across the reload.
    let i = 0;
    const stream = setInterval(() => {
      for (let k = 0; k < 20; k++, i++) void publisher.publishAsync(reading(i).topic, reading(i).payload, { qos: 1 });
    }, 10);
    cleanups.push(() => clearInterval(stream));
    await waitFor(() => server.recordCount() >= 1_000, { timeoutMs: 20_000, what: 'readings before the reload' });

    writeFileSync(path, config(dir.path, broker.url, server.url, 'telemetry_v2'));
    agent.child.kill('SIGHUP');
    await waitFor(() => agent.output().includes('config reloaded: mappings and log level applied'), { what: 'reload applied' });
    await waitFor(() => server.documents('telemetry_v2').length > 0 && server.records('telemetry_v2', 'd0').length >= 20, {
      timeoutMs: 20_000,
      what: 'readings under the new mapping',
    });

    writeFileSync(path, 'fluxiondb: { url: nonsense }\nqueue: { on_full: sometimes }\n');
    agent.child.kill('SIGHUP');
    await waitFor(() => agent.output().includes('reload refused'), { what: 'reload refused' });
    expect(agent.output()).toContain('queue.on_full');
    const v2Before = server.records('telemetry_v2', 'd1').length;
    await waitFor(() => server.records('telemetry_v2', 'd1').length > v2Before + 10, { timeoutMs: 20_000, what: 'old mapping still working' });

    clearInterval(stream);
    const published = i;
    // Every reading published is in one collection or the other; those after the reload in the new one.
    await waitFor(
      () => {
        const missing = Array.from({ length: published }, (_, n) => n).filter((n) => {
          const r = reading(n);
          return missingOn(server, [r.record('telemetry')]).length > 0 && missingOn(server, [r.record('telemetry_v2')]).length > 0;
        });
        return missing.length === 0;
      },
      { timeoutMs: 30_000, intervalMs: 500, what: 'no reading lost across the reloads' },
    );
    agent.child.kill('SIGTERM');
    expect((await agent.exited).code).toBe(0);
  });
});
