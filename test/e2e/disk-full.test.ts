import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import type { FluxionRecord } from '../../src/client/types.js';
import { DevServer } from '../../src/devserver/index.js';
import { assessLiveness } from '../../src/service/health.js';
import { HealthServer } from '../../src/service/http-server.js';
import { startConfiguredAgent, missingOn, TEST_KEY } from '../helpers/agent.js';
import { startMosquitto } from '../helpers/mosquitto.js';
import { freePort } from '../helpers/ports.js';
import { tempDir } from '../helpers/tmp.js';
import { IS_ROOT, mountTmpfs, NEEDS_ROOT } from '../helpers/tmpfs.js';
import { waitFor } from '../helpers/wait.js';

const BASE_TS = 1_780_000_000_000;

function readings(from: number, count: number): FluxionRecord[] {
  return Array.from({ length: count }, (_, k) => {
    const i = from + k;
    return { col: 'telemetry', doc: `d${i % 10}`, ts: BASE_TS + i, data: JSON.stringify({ ts: BASE_TS + i, v: i, pad: 'p'.repeat(40) }) };
  });
}

/** Publishes at full speed (QoS 1, no waiting between messages); resolves when the broker took them all. */
function publish(pub: MqttClient, records: readonly FluxionRecord[]): Promise<unknown> {
  return Promise.all(records.map((r) => pub.publishAsync(`sensors/${r.doc}/t`, r.data, { qos: 1 })));
}

async function healthz(url: string): Promise<{ status: number; reasons: string[] }> {
  const res = await fetch(`${url}/healthz`);
  return { status: res.status, reasons: ((await res.json()) as { reasons: string[] }).reasons };
}

/**
 * A full disk end to end, on a real filesystem that fills (a 4 MiB tmpfs holding the queue),
 * a real Mosquitto and a live dev server: the agent survives it, says so on /healthz, is
 * not restarted by the watchdog, and every reading lands exactly once.
 */
describe.skipIf(!IS_ROOT)(`a full disk under the queue (${NEEDS_ROOT})`, () => {
  const cleanups: Array<() => Promise<unknown> | unknown> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  async function setUp(queueLine: string) {
    const fs = mountTmpfs(4 * 1024 * 1024);
    cleanups.push(() => fs.unmount());
    const dir = tempDir();
    const broker = await startMosquitto();
    const port = await freePort();
    const server = new DevServer({ port, masterKey: TEST_KEY });
    await server.start();
    cleanups.push(() => dir.cleanup(), () => broker.stop(), () => server.stop());
    const path = join(dir.path, 'config.yaml');
    writeFileSync(
      path,
      `fluxiondb:
  url: ws://127.0.0.1:${port}
  api_key: \${FLUXION_API_KEY}
queue: { path: ${join(fs.path, 'queue.db')}, synchronous: normal, ${queueLine} }
sender: { backoff: { base: 50ms, cap: 300ms }, housekeeping_interval: 500ms }
mqtt:
  url: ${broker.url}
  client_id: fluxion-edge-disk-full
  subscriptions:
    - topic: sensors/{device}/t
      collection: telemetry
      document: "{device}"
      timestamp: { field: ts, unit: ms }
`,
    );
    const { agent, log, settings } = await startConfiguredAgent(path, { FLUXION_API_KEY: TEST_KEY }, cleanups);
    const http = new HealthServer({ port: 0, health: { ...settings.health.rule } }, { source: agent });
    await http.start();
    cleanups.push(() => http.stop());
    const pub = await mqtt.connectAsync(broker.url, { clientId: 'disk-full-pub' });
    cleanups.push(() => pub.endAsync());
    const rule = { ...settings.health.rule, startedAt: Date.now() };
    return { fs, server, agent, http, pub, log, alive: () => assessLiveness(agent.status(), Date.now(), rule).healthy };
  }

  it('server down until the disk is full, then up: PUBACKs held meanwhile, every reading lands exactly once', async () => {
    // A cap far above the disk: the disk fills, not the cap. `block`: hold, never drop.
    const t = await setUp('max_bytes: 1GB, on_full: block, retain_sent: 1h');
    // Live: a stream at full speed lands, and its acked rows stay retained on the disk.
    const live = readings(0, 5_000);
    await publish(t.pub, live);
    await waitFor(() => missingOn(t.server, live).length === 0, { timeoutMs: 60_000, intervalMs: 200, what: 'the live stream in FluxionDB' });

    // FluxionDB goes away; the stream goes on until the disk is full and beyond.
    await t.server.stop();
    const outage = readings(live.length, 40_000);
    const published = publish(t.pub, outage);
    await waitFor(() => t.agent.status().disk?.full === true, { timeoutMs: 90_000, intervalMs: 200, what: 'the disk full' });
    await waitFor(() => t.agent.status().inputs[0]!.state === 'waiting', { what: 'the input holding its PUBACKs' });
    const h = await waitFor(async () => {
      const r = await healthz(t.http.url);
      return r.status === 503 && r.reasons.some((x) => x.startsWith('disk_full')) ? r : null;
    }, { what: '/healthz 503 disk_full' });
    expect(h.status).toBe(503);
    // The retained rows of the live stream went first; nothing was dropped; the watchdog keeps pinging.
    const full = t.agent.status();
    expect(full.queue.prunedSent).toBeGreaterThan(0);
    expect(full.queue.dropped).toBe(0);
    expect(full.ingest.received).toBeLessThan(live.length + outage.length);
    expect(t.alive()).toBe(true);
    const metrics = await (await fetch(`${t.http.url}/metrics`)).text();
    expect(metrics).toMatch(/^fluxion_edge_disk_full 1$/m);
    expect(metrics).toMatch(/^fluxion_edge_disk_free_bytes \d+$/m);
    expect(t.log.lines().filter((l) => String(l.msg).startsWith('DISK FULL')).length).toBeLessThanOrEqual(3);

    // FluxionDB returns: the drain frees the disk, the broker's readings come in, all land once.
    await t.server.start();
    await published;
    const all = [...live, ...outage];
    await waitFor(() => missingOn(t.server, all).length === 0, { timeoutMs: 120_000, intervalMs: 250, what: 'every reading in FluxionDB' });
    expect(t.server.recordCount()).toBe(all.length);
    const after = t.agent.status();
    expect(after.queue.dropped).toBe(0);
    expect(after.ingest.received).toBe(all.length);
    // Said once, with counts, at a bounded rate: not hundreds of error lines a second.
    const loud = t.log.lines().filter((l) => (l.level as number) >= 40);
    expect(loud.length).toBeLessThan(30);
  });

  it('a disk filled by another program: /healthz says disk_full, and everything resumes by itself once the ballast is removed', async () => {
    // max_bytes auto: sized from the 4 MiB at start (about 1.7 MiB of readings).
    const t = await setUp('on_full: block, retain_sent: 1h');
    const first = readings(0, 3_000);
    await publish(t.pub, first);
    await waitFor(() => missingOn(t.server, first).length === 0, { timeoutMs: 60_000, intervalMs: 200, what: 'the first readings in FluxionDB' });
    expect(t.agent.status().disk).toMatchObject({ full: false, reserveHeld: true });

    // Another program fills the disk while FluxionDB is away: the queue cannot grow.
    t.fs.fill();
    await t.server.stop();
    const during = readings(first.length, 8_000);
    const published = publish(t.pub, during);
    await waitFor(() => t.agent.status().disk?.full === true, { timeoutMs: 60_000, intervalMs: 100, what: 'the disk full' });
    await waitFor(() => t.agent.status().inputs[0]!.state === 'waiting', { what: 'the input holding its PUBACKs' });
    expect((await healthz(t.http.url)).reasons.some((x) => x.startsWith('disk_full'))).toBe(true);
    expect(t.alive()).toBe(true);

    // Space returns: by itself, without a restart, the reserve comes back and the input resumes.
    t.fs.release();
    await waitFor(() => t.agent.status().disk?.full === false, { timeoutMs: 30_000, intervalMs: 100, what: 'the disk usable again' });
    expect(t.agent.status().disk).toMatchObject({ confined: false, reserveHeld: true });
    await t.server.start();
    await published;
    const all = [...first, ...during];
    await waitFor(() => missingOn(t.server, all).length === 0, { timeoutMs: 60_000, intervalMs: 200, what: 'every reading in FluxionDB' });
    expect(t.server.recordCount()).toBe(all.length);
    expect(t.agent.status().queue.dropped).toBe(0);
    await waitFor(async () => (await healthz(t.http.url)).status === 200, { timeoutMs: 30_000, intervalMs: 200, what: '/healthz 200 again' });
  });
});
