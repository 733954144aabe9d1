import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.js';
import { DevServer } from '../../src/devserver/index.js';
import { openQueueReadOnly } from '../../src/queue/read-only.js';
import { missingOn, TEST_KEY } from '../helpers/agent.js';
import { startCli } from '../helpers/cli.js';
import { startMosquitto } from '../helpers/mosquitto.js';
import { tempDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';

/**
 * Issue 11 §3: three agents (the built CLI) in one `$share/` group behind one Mosquitto, each
 * with its own client id, persistent session and queue; one of them SIGKILLed and restarted
 * again and again mid-stream. Every reading must land exactly once, by identity and data.
 */
const BASE_TS = 1_765_000_000_000;

export function sharedAgentConfig(opts: { dir: string; brokerUrl: string; serverUrl: string; clientId: string; group: string }): string {
  return `
gateway: { id: ${opts.clientId} }
log: { level: info }
fluxiondb:
  url: ${opts.serverUrl}
  api_key: \${FLUXION_API_KEY}
queue:
  path: ${join(opts.dir, 'queue.db')}
sender:
  backoff: { base: 50ms, cap: 500ms }
  linger: 5ms
mqtt:
  url: ${opts.brokerUrl}
  client_id: ${opts.clientId}
  reconnect: { base: 50ms, cap: 500ms }
  subscriptions:
    - topic: $share/${opts.group}/sensors/{site}/{device}/telemetry
      collection: telemetry
      document: "{device}"
      timestamp: { field: ts, unit: ms }
      fields: { temperature: temp }
      tags: { site: "{site}" }
`;
}

function reading(i: number): { topic: string; payload: string; record: { col: string; doc: string; ts: number; data: string } } {
  const device = `dev-${i % 40}`;
  const ts = BASE_TS + i;
  const temp = (i % 500) / 10;
  return {
    topic: `sensors/plant-9/${device}/telemetry`,
    payload: JSON.stringify({ ts, temp }),
    record: { col: 'telemetry', doc: device, ts, data: JSON.stringify({ temperature: temp, site: 'plant-9' }) },
  };
}

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
      writeFileSync(path, sharedAgentConfig({ dir: home, brokerUrl: broker.url, serverUrl: server.url, clientId, group: 'edge' }));
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

    const readings = Array.from({ length: 18_000 }, (_, i) => reading(i));
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
    await waitFor(() => configs.every((c) => queueDepth(c.queue) === 0), { timeoutMs: 30_000, what: 'every queue drained' });

    expect(missingOn(server, readings.map((r) => r.record))).toEqual([]);
    expect(server.recordCount()).toBe(readings.length);
    // Each member took a share of the stream.
    for (const c of configs) expect(sentBy(c.queue)).toBeGreaterThan(0);

    for (const a of agents) a.child.kill('SIGTERM');
    for (const a of agents) expect((await a.exited).code).toBe(0);
  });
});

function queueDepth(path: string): number {
  const q = openQueueReadOnly(path);
  try {
    return q.stats().depth;
  } finally {
    q.close();
  }
}

function sentBy(path: string): number {
  const q = openQueueReadOnly(path);
  try {
    return q.stats().sent;
  } finally {
    q.close();
  }
}

async function publishAll(url: string, messages: ReadonlyArray<{ topic: string; payload: string }>): Promise<void> {
  const pub = await mqtt.connectAsync(url, { clientId: `pub-${process.pid}-${Math.random()}`, clean: true });
  try {
    const inflight = new Set<Promise<unknown>>();
    for (const m of messages) {
      const p = pub.publishAsync(m.topic, m.payload, { qos: 1 }).finally(() => inflight.delete(p));
      inflight.add(p);
      if (inflight.size >= 200) await Promise.race(inflight);
    }
    await Promise.all(inflight);
  } finally {
    await pub.endAsync();
  }
}
