/**
 * Bigger commit groups while FluxionDB is unreachable (issue 17, flash wear), through the built
 * agent: behind a broker window of 1,000, a steady stream of QoS 1 readings is committed in
 * groups that wait `max_delay_offline`, not `max_delay`, once nothing leaves the queue. The
 * groups are read from the staging log while the agent runs (one record per commit group).
 * Then FluxionDB comes up and every reading arrives once, and with the link live again
 * groups close at `max_delay`.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import mqtt from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { DevServer } from '../../src/devserver/index.js';
import { decodeStageRecords } from '../../src/queue/stage-log.js';
import { TEST_KEY } from '../helpers/agent.js';
import { startCli } from '../helpers/cli.js';
import { startMosquitto } from '../helpers/mosquitto.js';
import { freePort } from '../helpers/ports.js';
import { tempDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';

const RATE = 50; // readings/s
const SECONDS = 4;
const BASE_TS = 1_766_000_000_000;

describe('commit groups while FluxionDB is unreachable', () => {
  const cleanups: Array<() => Promise<unknown> | void> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  it('wait max_delay_offline behind a large window; every reading arrives once when FluxionDB is back', async () => {
    const dir = tempDir();
    const broker = await startMosquitto({ maxInflight: 1000 });
    cleanups.push(() => dir.cleanup(), () => broker.stop());
    const port = await freePort(); // nobody listens yet: FluxionDB is unreachable
    const configPath = join(dir.path, 'config.yaml');
    writeFileSync(
      configPath,
      `
log: { level: info }
fluxiondb:
  url: ws://127.0.0.1:${port}
  api_key: \${FLUXION_API_KEY}
queue: { path: ${join(dir.path, 'queue.db')} }
sender: { backoff: { base: 50ms, cap: 500ms }, linger: 5ms }
mqtt:
  url: ${broker.url}
  client_id: offline-groups
  group_commit: { max_delay: 20ms, max_delay_offline: 2s }
  subscriptions:
    - topic: site/{device}/t
      collection: telemetry
      document: "{device}"
      timestamp: { field: ts, unit: ms }
`,
    );
    const agent = startCli(['run', '--config', configPath], { env: { FLUXION_API_KEY: TEST_KEY } });
    cleanups.push(() => void (agent.child.exitCode === null && agent.child.kill('SIGKILL')));
    await waitFor(() => agent.output().includes('mqtt input subscribed'), { timeoutMs: 20_000, what: 'the agent subscribed' });

    // The commit groups, as the staging log holds them (a record per group, by first id).
    const groups = new Map<number, number>();
    const log = join(dir.path, 'queue.db-stage');
    const watch = setInterval(() => {
      if (!existsSync(log)) return;
      for (const r of decodeStageRecords(readFileSync(log))) groups.set(r.firstId, r.lines.length);
    }, 50);
    cleanups.push(() => clearInterval(watch));

    const pub = await mqtt.connectAsync(broker.url, { clientId: 'offline-groups-devices' });
    cleanups.push(() => pub.endAsync());
    const total = RATE * SECONDS;
    /** Readings from..from+n-1, at RATE a second, each acknowledged. */
    const stream = async (from: number, n: number): Promise<void> => {
      const acked: Array<Promise<unknown>> = [];
      for (let i = from; i < from + n; i++) {
        acked.push(pub.publishAsync(`site/dev-${i % 10}/t`, JSON.stringify({ ts: BASE_TS + i, v: i }), { qos: 1 }));
        await new Promise((r) => setTimeout(r, 1000 / RATE));
      }
      await Promise.all(acked);
    };
    await stream(0, total);
    await waitFor(() => [...groups.values()].reduce((a, n) => a + n, 0) >= total, { timeoutMs: 20_000, what: 'every reading staged' });
    clearInterval(watch);

    // 20 ms at 50 readings/s holds one or two readings; 2 s holds up to 100. The agent would
    // have to stall for most of a second for a 20 ms group to reach 30.
    const sizes = [...groups.values()];
    expect(Math.max(...sizes)).toBeGreaterThanOrEqual(30);
    expect(sizes.filter((n) => n >= 30).reduce((a, n) => a + n, 0)).toBeGreaterThan(total / 2);

    // FluxionDB comes up: every reading arrives, once.
    const server = new DevServer({ port, masterKey: TEST_KEY });
    await server.start();
    cleanups.push(() => server.stop());
    const onServer = () => {
      let n = 0;
      for (let d = 0; d < 10; d++) n += server.records('telemetry', `dev-${d}`).length;
      return n;
    };
    await waitFor(() => onServer() >= total, { timeoutMs: 30_000, what: 'every reading on the server' });
    for (let d = 0; d < 10; d++) {
      const ts = server.records('telemetry', `dev-${d}`).map((r) => Number(r.ts) - BASE_TS);
      expect(ts).toEqual(Array.from({ length: total / 10 }, (_, k) => k * 10 + d));
    }

    // The link is live again: groups close at max_delay (20 ms) as before. Each group's rows
    // share their enqueue time in the queue file (sent rows stay there, retained).
    await stream(total, total);
    await waitFor(() => onServer() >= 2 * total, { timeoutMs: 30_000, what: 'the live stream on the server' });
    const db = new Database(join(dir.path, 'queue.db'), { readonly: true, fileMustExist: true });
    const live = db.prepare('SELECT count(*) FROM records WHERE ts >= ? GROUP BY enqueued_at').pluck().all(BASE_TS + total) as number[];
    db.close();
    expect(live.reduce((a, n) => a + n, 0)).toBe(total);
    // 20 ms holds one or two readings; 30 would take a stall of most of a second.
    expect(Math.max(...live)).toBeLessThan(30);
  }, 90_000);
});
