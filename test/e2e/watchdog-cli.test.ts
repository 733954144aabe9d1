/**
 * The systemd watchdog as the unit runs it: the built CLI under NOTIFY_SOCKET and
 * WATCHDOG_USEC, notifying through systemd-notify. A restart cannot bring back a FluxionDB
 * server that is down, so the watchdog keeps being pinged through the outage (while
 * /healthz says 503); only a pipeline that is connected with a backlog and acknowledged
 * nothing for health.stale_after is wedged, and its pings stop so systemd restarts it.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import mqtt from 'mqtt';
import { DevServer } from '../../src/devserver/index.js';
import type { LiveStatus } from '../../src/service/http-server.js';
import { TEST_KEY } from '../helpers/agent.js';
import { startCli } from '../helpers/cli.js';
import { notifyReceiver, type NotifyReceiver } from '../helpers/notify-socket.js';
import { freePort } from '../helpers/ports.js';
import { REPO_ROOT } from '../helpers/readme.js';
import { tempDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';

/** WatchdogSec as systemd passes it; the agent pings every half of it. */
const WATCHDOG_USEC = 400_000;

describe('systemd watchdog (built CLI, systemd-notify, real NOTIFY_SOCKET)', () => {
  it('is described the same way by the README, the unit and the health.stale_after reference', () => {
    const flat = (f: string): string => readFileSync(join(REPO_ROOT, f), 'utf8').replace(/\s+/g, ' ');
    expect(flat('README.md')).toContain('pinged while the pipeline moves or waits for something a restart cannot fix (the server, the broker or the key being down');
    expect(flat('systemd/fluxion-edge.service')).toContain('fix (server, broker or key down: it queues and retries)');
    expect(flat('docs/configuration.md')).toContain('while FluxionDB, the broker or the key is down it goes on being pinged');
  });

  const cleanups: Array<() => Promise<unknown> | unknown> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  async function runAgent(url: string): Promise<{ notify: NotifyReceiver; live: () => Promise<LiveStatus>; pings: () => number; stop: () => Promise<unknown> }> {
    const dir = tempDir();
    cleanups.push(() => dir.cleanup());
    const notify = await notifyReceiver();
    cleanups.push(() => notify.stop());
    const [brokerPort, healthPort] = [await freePort(), await freePort()];
    const configPath = join(dir.path, 'config.yaml');
    writeFileSync(
      configPath,
      `gateway: { id: gw-watchdog }
fluxiondb: { url: "${url}", api_key: "${TEST_KEY}", request_timeout: 10m }
queue: { path: ${join(dir.path, 'queue.db')}, synchronous: normal }
sender: { backoff: { base: 50ms, cap: 200ms }, linger: 5ms, request_timeout: 10m, resend_after_reconnect: 0, stop_deadline: 1s }
mqtt:
  embedded_broker: { host: 127.0.0.1, port: ${brokerPort} }
  subscriptions: [{ topic: "t/{device}", collection: telemetry, document: "{device}" }]
health: { enabled: true, port: ${healthPort}, stale_after: 1s }
`,
      { mode: 0o600 },
    );
    const agent = startCli(['run', '--config', configPath], { env: { NOTIFY_SOCKET: notify.path, WATCHDOG_USEC: String(WATCHDOG_USEC) } });
    cleanups.push(() => agent.child.kill('SIGKILL'));
    await waitFor(() => notify.messages().some((m) => m.startsWith('READY=1')), { what: 'READY=1', timeoutMs: 30_000 });
    const pub = await mqtt.connectAsync(`mqtt://127.0.0.1:${brokerPort}`, { clientId: 'watchdog-pub' });
    for (let i = 0; i < 5; i++) await pub.publishAsync(`t/d-${i}`, JSON.stringify({ v: i }), { qos: 1 });
    await pub.endAsync();
    const live = async (): Promise<LiveStatus> => (await (await fetch(`http://127.0.0.1:${healthPort}/status`)).json()) as LiveStatus;
    return {
      notify,
      live,
      pings: () => notify.messages().filter((m) => m === 'WATCHDOG=1').length,
      stop: async () => {
        agent.child.kill('SIGTERM');
        return agent.exited;
      },
    };
  }

  it('keeps pinging while FluxionDB is down and readings wait (a restart cannot fix it)', async () => {
    const closed = await freePort();
    const a = await runAgent(`ws://127.0.0.1:${closed}`);
    // Readings queued, none acknowledged for longer than stale_after: /healthz reports it...
    await waitFor(async () => {
      const s = await a.live();
      return s.status.queue.depth === 5 && !s.health.healthy && s.health.reasons.some((r) => r.includes('5 readings queued'));
    }, { what: 'the backlog reported unhealthy' });
    // ...and the watchdog goes on being pinged.
    const before = a.pings();
    await waitFor(() => a.pings() >= before + 3, { what: 'three more watchdog pings during the outage' });
    expect((await a.live()).status.sender.state).not.toBe('connected');
    expect(await a.stop()).toEqual({ code: 0, signal: null });
    expect(a.notify.messages().at(-1)).toMatch(/^STOPPING=1/);
  });

  it('stops pinging when connected with a backlog that nothing acknowledges (wedged)', async () => {
    const server = new DevServer({ port: 0, masterKey: TEST_KEY });
    await server.start();
    cleanups.push(() => server.stop());
    server.setFaults({ ackDelayMs: 600_000 });
    const a = await runAgent(server.url);
    await waitFor(async () => {
      const s = await a.live();
      return s.status.sender.state === 'connected' && s.status.queue.depth === 5 && !s.health.healthy;
    }, { what: 'connected, 5 readings unacknowledged beyond stale_after' });
    // A ping already on its way may still land; after that, silence for several intervals.
    await sleep(WATCHDOG_USEC / 1000);
    const settled = a.pings();
    await sleep((4 * WATCHDOG_USEC) / 1000);
    expect(a.pings()).toBe(settled);
    expect(await a.stop()).toEqual({ code: 0, signal: null });
  });
});
