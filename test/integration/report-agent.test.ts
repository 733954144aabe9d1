/**
 * The agent with `report:` and `aggregate:` rules read from YAML, a real Mosquitto and the
 * dev server: only the readings worth sending reach FluxionDB, a window lands as one record,
 * and status counts what was not sent.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { DevServer } from '../../src/devserver/index.js';
import { startConfiguredAgent, TEST_KEY } from '../helpers/agent.js';
import { startMosquitto } from '../helpers/mosquitto.js';
import { tempDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';

describe('agent with report and aggregate rules', () => {
  const cleanups: Array<() => Promise<unknown> | void> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  it('sends changes beyond the deadband and one record per window, and counts the rest', async () => {
    const dir = tempDir();
    const broker = await startMosquitto();
    const server = new DevServer({ port: 0, masterKey: TEST_KEY });
    await server.start();
    cleanups.push(() => dir.cleanup(), () => broker.stop(), () => server.stop());
    const path = join(dir.path, 'config.yaml');
    writeFileSync(path, `fluxiondb: { url: "${server.url}", api_key: "${TEST_KEY}" }
queue: { path: ${join(dir.path, 'queue.db')} }
sender: { linger: 5ms }
mqtt:
  url: ${broker.url}
  client_id: fluxion-edge-report
  subscriptions:
    - topic: tanks/{tank}/level
      collection: tanks
      document: "{tank}"
      timestamp: { field: ts, unit: ms }
      fields: { level: level }
      report: { deadband: { level: 1% }, max_interval: 1h }
    - topic: rooms/{room}/temp
      collection: rooms
      document: "{room}"
      timestamp: { field: ts, unit: ms }
      fields: { t: t }
      aggregate: { window: 1m, fields: [t], functions: [mean, min, max, count], grace: 0s }
`);
    const { agent } = await startConfiguredAgent(path, {}, cleanups);

    const pub = await mqtt.connectAsync(broker.url, { clientId: 'report-pub' });
    cleanups.push(() => pub.endAsync());
    const t0 = Date.UTC(2026, 0, 1, 6, 0, 0); // windows long over: they close at the next tick
    const levels = [200, 201, 201.5, 203, 203.1, 202.9, 200.5];
    for (const [i, level] of levels.entries()) await pub.publishAsync('tanks/t1/level', JSON.stringify({ ts: t0 + i * 1000, level }), { qos: 1 });
    for (let i = 0; i < 10; i++) await pub.publishAsync('rooms/r1/temp', JSON.stringify({ ts: t0 + i * 1000, t: i }), { qos: 1 });

    // 200 first; 203 is 1.5 % above it; 200.5 is 1.23 % below 203.
    await waitFor(() => server.records('tanks', 't1').length === 3 && agent.status().ingest.received === 17, { what: 'the tank readings' });
    expect(server.records('tanks', 't1').map((r) => [Number(r.ts) - t0, JSON.parse(r.data)])).toEqual([
      [0, { level: 200 }], [3000, { level: 203 }], [6000, { level: 200.5 }],
    ]);
    // However the ticks fell among the readings, a late part corrects the window: one record, whole.
    await waitFor(() => server.records('rooms', 'r1').length === 1 && JSON.parse(server.records('rooms', 'r1')[0]!.data).t_count === 10, {
      what: 'the window, whole',
    });
    expect(JSON.parse(server.records('rooms', 'r1')[0]!.data)).toEqual({ t_mean: 4.5, t_min: 0, t_max: 9, t_count: 10 });
    expect(server.records('rooms', 'r1')[0]!.ts).toBe(t0);
    expect(agent.status().report).toEqual([
      expect.objectContaining({ rule: 0, mode: 'report', readings: 7, sent: 3, suppressed: 4 }),
      expect.objectContaining({ rule: 1, mode: 'aggregate', readings: 10 }),
    ]);
  });
});
