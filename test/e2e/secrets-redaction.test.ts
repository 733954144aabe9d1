/**
 * No API key or MQTT password in any log line, error or status output. A short run of the
 * built CLI with both secrets written in a world-readable config, refused by both peers (the
 * dev server knows another key, Mosquitto another password), so that every error path that
 * could quote them runs; then SIGTERM, and `status` on what is left. The same agent is also
 * run in-process behind the health endpoint, whose answers are scanned too.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Agent } from '../../src/agent.js';
import { loadConfig } from '../../src/config/index.js';
import { DevServer } from '../../src/devserver/index.js';
import { HealthServer } from '../../src/service/http-server.js';
import { makeRecords, memoryLogger, ingest } from '../helpers/agent.js';
import { runCli, startCli } from '../helpers/cli.js';
import { startMosquitto } from '../helpers/mosquitto.js';
import { freePort } from '../helpers/ports.js';
import { tempDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';

const API_KEY = 'sk-leakcheck-7f3a9c1e5b';
const MQTT_PASSWORD = 'pw-leakcheck-41d2e8a6';
const SECRETS = [API_KEY, MQTT_PASSWORD, encodeURIComponent(API_KEY), encodeURIComponent(MQTT_PASSWORD)];

function expectNoSecret(what: string, text: string): void {
  for (const s of SECRETS) expect(text.includes(s), `${what} holds a secret:\n${text}`).toBe(false);
}

describe('secrets stay out of logs, errors and status', () => {
  const cleanups: Array<() => Promise<unknown> | unknown> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  it('a run refused by FluxionDB and by the broker, stopped with SIGTERM, then status', async () => {
    const dir = tempDir();
    cleanups.push(() => dir.cleanup());
    const server = new DevServer({ port: 0, masterKey: 'the-server-knows-another-key' });
    await server.start();
    cleanups.push(() => server.stop());
    const broker = await startMosquitto({ users: { gateway: 'the-broker-knows-another-password' } });
    cleanups.push(() => broker.stop());
    const healthPort = await freePort();
    const configPath = join(dir.path, 'config.yaml');
    writeFileSync(
      configPath,
      `gateway: { id: gw-secrets }
log: { level: debug }
fluxiondb: { url: "${server.url}", api_key: "${API_KEY}" }
queue: { path: ${join(dir.path, 'queue.db')}, synchronous: normal }
sender: { backoff: { base: 50ms, cap: 200ms }, auth_retry: 200ms, linger: 5ms }
mqtt:
  url: ${broker.url}
  client_id: fluxion-edge-secrets
  username: gateway
  password: "${MQTT_PASSWORD}"
  reconnect: { base: 50ms, cap: 200ms }
  subscriptions:
    - topic: sensors/{device}
      collection: telemetry
      document: "{device}"
health: { enabled: true, port: ${healthPort}, stale_after: 1s }
`,
    );
    chmodSync(configPath, 0o644); // readable by others: the agent must warn, naming no secret

    // The in-process agent first, for the endpoint's answers (it queues readings that are refused).
    const { settings } = loadConfig(configPath, {});
    const mem = memoryLogger('debug');
    const agent = new Agent(settings.agent, mem.logger, { mapping: settings.mapping, mqtt: settings.mqtt }, undefined, settings.secrets);
    const health = new HealthServer(
      { ...settings.health.server!, health: settings.health.rule },
      { source: agent, secrets: settings.secrets },
    );
    cleanups.push(() => agent.stop(), () => health.stop());
    await agent.start();
    await health.start();
    ingest(agent, makeRecords(10));
    await waitFor(() => agent.status().sender.state === 'auth_failed' && agent.status().inputs[0]?.lastError !== null, {
      what: 'both peers refusing',
    });
    const bodies: string[] = [];
    for (const path of ['/healthz', '/metrics', '/status']) bodies.push(await (await fetch(`http://127.0.0.1:${healthPort}${path}`)).text());
    expect(JSON.parse(bodies[0]!)).toMatchObject({ healthy: false });
    expect(bodies[2]).toContain('"lastError":{"code":'); // the refusal is reported...
    for (const [i, b] of bodies.entries()) expectNoSecret(`endpoint answer ${i}`, b); // ...without the secrets
    await health.stop();
    await agent.stop();
    expectNoSecret('in-process log', JSON.stringify(mem.lines()));

    // The built CLI, as systemd runs it.
    const run = startCli(['run', '--config', configPath]);
    cleanups.push(() => void (run.child.exitCode === null && run.child.kill('SIGKILL')));
    await waitFor(() => run.output().includes('MQTT input started'), { timeoutMs: 20_000, what: 'the agent up' });
    await waitFor(() => run.output().includes('FluxionDB refused the API key') && run.output().includes('Not authorized'), {
      timeoutMs: 10_000,
      what: 'both refusals logged',
    });
    await new Promise((r) => setTimeout(r, 500)); // a few retries of both peers
    run.child.kill('SIGTERM');
    expect((await run.exited).code).toBe(0);
    const output = run.output();
    expect(output).toContain('readable by other users');
    expectNoSecret('run output', output);

    for (const args of [['status', '--config', configPath], ['status', '--config', configPath, '--json']]) {
      const r = await runCli(args);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain('queue');
      expectNoSecret(`${args.join(' ')} output`, r.stdout + r.stderr);
    }
    // An invalid config quoting the secret in an error must not print it either.
    const bad = join(dir.path, 'bad.yaml');
    writeFileSync(bad, `fluxiondb: { url: "${server.url}", api_key: "${API_KEY}", api_key_file: /nonexistent }\n`);
    const invalid = await runCli(['run', '--config', bad]);
    expect(invalid.code).toBe(78);
    expectNoSecret('config error', invalid.stdout + invalid.stderr);
  });
});
