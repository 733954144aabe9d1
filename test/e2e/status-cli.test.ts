import { afterEach, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Agent } from '../../src/agent.js';
import { loadConfig } from '../../src/config/index.js';
import { DevServer } from '../../src/devserver/index.js';
import { HealthServer } from '../../src/service/http-server.js';
import type { StatusReport } from '../../src/cli/status-command.js';
import { makeRecords, memoryLogger, TEST_KEY, ingest } from '../helpers/agent.js';
import { runCli } from '../helpers/cli.js';
import { freePort } from '../helpers/ports.js';
import { tempDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';
import { Secrets } from '../../src/shared/secrets.js';

/** Runs the built CLI: `npm test` builds first; alone, run `npx tsc -p tsconfig.build.json` before. */
describe('fluxion-edge status (built CLI)', () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  it('shows live state while the agent runs and the queue file after it stopped, never the API key', async () => {
    const dir = tempDir();
    const dbPort = await freePort();
    const healthPort = await freePort();
    const server = new DevServer({ port: dbPort, masterKey: TEST_KEY });
    cleanups.push(() => dir.cleanup(), () => server.stop());
    const configPath = join(dir.path, 'config.yaml');
    writeFileSync(
      configPath,
      `gateway: { id: gw-status }
fluxiondb: { url: "ws://127.0.0.1:${dbPort}", api_key: "${TEST_KEY}" }
queue: { path: ${join(dir.path, 'queue.db')}, synchronous: normal }
sender: { backoff: { base: 50ms, cap: 200ms }, linger: 5ms, resend_after_reconnect: 0 }
health: { enabled: true, port: ${healthPort}, stale_after: 1s }
`,
      { mode: 0o600 },
    );
    const { settings } = loadConfig(configPath, {});
    const agent = new Agent(settings.agent, memoryLogger('silent').logger);
    const health = new HealthServer({ ...settings.health.server!, health: settings.health.rule }, { source: agent, gatewayId: 'gw-status', secrets: new Secrets([TEST_KEY]) });
    cleanups.push(() => agent.stop(), () => health.stop());
    await server.start();
    await agent.start();
    await health.start();
    ingest(agent, makeRecords(100));
    await waitFor(() => server.recordCount() === 100, { what: 'first records stored' });
    await server.stop();
    ingest(agent, makeRecords(20, { start: 100 }));
    await waitFor(() => agent.status().sender.reconnects > 0 && agent.status().queue.depth === 20, { what: 'a backlog' });

    const json = await runCli(['status', '--config', configPath, '--json']);
    expect(json.code).toBe(0);
    const report = JSON.parse(json.stdout) as StatusReport;
    expect(report.agent).toBe('running');
    expect(report.endpoint).toBe(`http://127.0.0.1:${healthPort}/status`);
    expect(report.live!.gateway).toBe('gw-status');
    expect(report.live!.status.queue.depth).toBe(20);
    expect(report.live!.status.sender.sentRecords).toBe(100);
    expect(report.queue!.path).toBe(join(dir.path, 'queue.db'));
    expect(report.queue!.stats.depth).toBe(20);
    expect(report.queue!.stats.sent).toBe(100);
    expect(report.notes).toEqual([]);

    const text = await runCli(['status', '--config', configPath]);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^agent: running \(gateway gw-status, pid \d+, up \S+\): (healthy|UNHEALTHY)\n/);
    expect(text.stdout).toContain('\ninputs:\n  (none configured)\n');
    expect(text.stdout).toMatch(/\nsender: (backoff|connecting), [\d.]+ records\/s \(last minute\), 100 sent, last ack \S+ ago, \d+ reconnects\n/);
    expect(text.stdout).toContain(`\nqueue: ${join(dir.path, 'queue.db')}\n`);
    expect(text.stdout).toMatch(/\n {2}unsent {8}20 \(\d+ B\), oldest queued \S+ ago\n/);
    expect(text.stdout).toContain('\n  dead letters  0 stored (0 in all)\n  dropped       none\n  totals        120 queued, 100 sent since the file was created\n');
    expect(text.stdout).toMatch(/\n {2}disk {10}[\d.]+ \S+ free of [\d.]+ \S+, cap [\d.]+ \S+\n/);

    await health.stop();
    await agent.stop();
    const after = await runCli(['status', '--config', configPath, '--json']);
    expect(after.code).toBe(0);
    const stopped = JSON.parse(after.stdout) as StatusReport;
    expect(stopped.agent).toBe('unreachable');
    expect(stopped.live).toBe(null);
    expect(stopped.queue!.stats.depth).toBe(20);
    expect(stopped.queue!.stats.sent).toBe(100);
    expect(stopped.notes).toEqual([`no answer from the agent at http://127.0.0.1:${healthPort}/status (ECONNREFUSED): it is stopped, or still starting`]);

    const byQueue = await runCli(['status', '--queue', join(dir.path, 'queue.db')]);
    expect(byQueue.code).toBe(0);
    expect(byQueue.stdout.split('\n')[0]).toBe('agent: state unknown (health endpoint off)');
    expect(byQueue.stdout).toContain('\n  unsent        20 (');
    expect(byQueue.stdout).toMatch(/\n {2}disk {10}[\d.]+ \S+ free of [\d.]+ \S+\n/);

    for (const out of [json, text, after, byQueue]) expect(out.stdout + out.stderr).not.toContain(TEST_KEY);
  });

  it('exits 1 when neither the agent nor the queue file can be read, 78 on a bad config', async () => {
    const dir = tempDir();
    cleanups.push(() => dir.cleanup());
    const none = await runCli(['status', '--queue', join(dir.path, 'missing.db')]);
    expect(none.code).toBe(1);
    expect(none.stdout).toContain(`note: no queue file at ${join(dir.path, 'missing.db')}\n`);
    const bad = join(dir.path, 'bad.yaml');
    writeFileSync(bad, 'fluxiondb: { url: "ws://x:1" }\nhealth: { port: 0 }\n');
    const r = await runCli(['status', '--config', bad]);
    expect(r.code).toBe(78);
    expect(r.stderr).toContain('health.port');
  });
});
