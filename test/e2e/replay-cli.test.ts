import { afterEach, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Agent } from '../../src/agent.js';
import type { FluxionRecord } from '../../src/client/types.js';
import { DevServer } from '../../src/devserver/index.js';
import { agentSettings, makeRecords, memoryLogger, missingOn, TEST_KEY, ingest } from '../helpers/agent.js';
import { runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';

/**
 * The built CLI as a child process; the dev servers and the agent that fills the queue
 * run in the test process. The "lost data" scenario: the agent sent everything to one
 * server, which then died; replay must put it all on a new, empty server.
 */
describe('fluxion-edge replay (built CLI)', () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  async function newServer(): Promise<DevServer> {
    const server = new DevServer({ port: 0, masterKey: TEST_KEY });
    await server.start();
    cleanups.push(() => server.stop());
    return server;
  }

  /** Sends `waves` of records through an agent to a server, so the queue retains them as sent. */
  async function filledQueue(waves: FluxionRecord[][], { keepRunning = false } = {}) {
    const dir = tempDir();
    cleanups.push(() => dir.cleanup());
    const first = await newServer();
    const agent = new Agent(agentSettings(dir.path, first.url), memoryLogger('silent').logger);
    cleanups.push(() => agent.stop());
    await agent.start();
    const boundaries: number[] = [];
    let total = 0;
    for (const wave of waves) {
      // Enqueue times have ms resolution: a pause keeps the waves apart.
      await new Promise((r) => setTimeout(r, 20));
      boundaries.push(Date.now());
      await new Promise((r) => setTimeout(r, 5));
      for (let i = 0; i < wave.length; i += 1000) ingest(agent, wave.slice(i, i + 1000));
      total += wave.length;
      await waitFor(() => agent.status().queue.sent === total, { timeoutMs: 30_000, what: 'wave sent' });
    }
    expect(missingOn(first, waves.flat())).toEqual([]);
    if (!keepRunning) {
      await agent.stop();
      await first.stop();
    }
    return { path: join(dir.path, 'queue.db'), boundaries, agent, dir };
  }

  const replay = (path: string, server: DevServer, extra: string[]) =>
    runCli(['replay', '--queue', path, '--url', server.url, '--api-key', TEST_KEY, ...extra]);

  it('puts every retained record on a new, empty server, and reports progress and a summary', async () => {
    const records = makeRecords(3_000);
    const { path } = await filledQueue([records]);
    const reborn = await newServer();
    expect(reborn.recordCount()).toBe(0);

    const r = await replay(path, reborn, ['--since', '1h', '--batch', '500']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^replayed 3000 records \(6 batches\) in \d+\.\d s\n$/);
    // Not a terminal: plain lines, the last one with the final count.
    const lines = r.stderr.trim().split('\n');
    expect(lines.every((l) => /^replay: \d+\/3000 records$/.test(l))).toBe(true);
    expect(lines[lines.length - 1]).toBe('replay: 3000/3000 records');
    expect(reborn.recordCount()).toBe(3_000);
    expect(missingOn(reborn, records)).toEqual([]);
    expect(reborn.frameCounts.get('ins')).toBe(6);
  });

  it('replays exactly the subset that --col, --doc, --since and --until select', async () => {
    const early = [...makeRecords(600, { col: 'telemetry', docs: 3 }), ...makeRecords(300, { col: 'gps', docs: 2, start: 10_000 })];
    const late = makeRecords(400, { col: 'telemetry', docs: 3, start: 20_000 });
    const { path, boundaries } = await filledQueue([early, late]);
    const lateStart = boundaries[1]!;

    const cases: Array<{ args: string[]; expected: FluxionRecord[] }> = [
      { args: ['--since', '1h', '--col', 'gps'], expected: early.filter((r) => r.col === 'gps') },
      {
        args: ['--since', '1h', '--col', 'telemetry', '--doc', 'device-1'],
        expected: [...early, ...late].filter((r) => r.col === 'telemetry' && r.doc === 'device-1'),
      },
      { args: ['--since', '1h', '--until', String(lateStart)], expected: early },
      { args: ['--since', new Date(lateStart).toISOString()], expected: late },
    ];
    for (const c of cases) {
      const server = await newServer();
      const r = await replay(path, server, c.args);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`^replayed ${c.expected.length} records \\(\\d+ batches\\) in`));
      expect(server.recordCount()).toBe(c.expected.length);
      expect(missingOn(server, c.expected)).toEqual([]);
    }

    const none = await newServer();
    const future = await replay(path, none, ['--since', String(Date.now() + 60_000)]);
    expect(future.stdout).toMatch(/^replayed 0 records \(0 batches\) in \d+\.\d s\n$/);
    expect(none.frameCounts.get('ins')).toBeUndefined();
  });

  it('--dry-run counts what would be sent and sends nothing', async () => {
    const records = makeRecords(2_500);
    const { path } = await filledQueue([records]);
    const server = await newServer();
    const r = await runCli(['replay', '--queue', path, '--url', server.url, '--since', '1h', '--dry-run']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('dry run: would replay 2500 records (3 batches); nothing was sent\n');
    expect(server.frameCounts.size).toBe(0);
    expect(server.recordCount()).toBe(0);
  });

  it('paces batches with --rate', async () => {
    const records = makeRecords(3_000);
    const { path } = await filledQueue([records]);
    const server = await newServer();
    const started = Date.now();
    // 1,000 records/s with a one-second burst: the last three batches of 500 wait ~0.5 s each.
    const r = await replay(path, server, ['--since', '1h', '--batch', '500', '--rate', '1000']);
    expect(r.code).toBe(0);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_400);
    expect(missingOn(server, records)).toEqual([]);
  });

  it('takes the key from a file or from FLUXION_API_KEY', async () => {
    const records = makeRecords(200);
    const { path, dir } = await filledQueue([records]);
    const keyFile = join(dir.path, 'api-key');
    writeFileSync(keyFile, `${TEST_KEY}\n`, { mode: 0o600 });
    const a = await newServer();
    const fromFile = await runCli(['replay', '--queue', path, '--url', a.url, '--api-key-file', keyFile, '--since', '1h']);
    expect(fromFile.code).toBe(0);
    expect(missingOn(a, records)).toEqual([]);
    const b = await newServer();
    const fromEnv = await runCli(['replay', '--queue', path, '--since', '1h'], { env: { FLUXION_URL: b.url, FLUXION_API_KEY: TEST_KEY } });
    expect(fromEnv.code).toBe(0);
    expect(missingOn(b, records)).toEqual([]);
  });

  it('fails with one line naming FLUXION_ERR_AUTH and exit 1 on a wrong key, without printing the key', async () => {
    const { path } = await filledQueue([makeRecords(100)]);
    const server = await newServer();
    const r = await runCli(['replay', '--queue', path, '--url', server.url, '--api-key', 'wrong-secret-key-999', '--since', '1h']);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^fluxion-edge replay: FLUXION_ERR_AUTH: /);
    expect(r.stdout + r.stderr).not.toContain('wrong-secret-key-999');
    expect(server.recordCount()).toBe(0);
  });

  it('refuses bad arguments with exit 64 and one line', async () => {
    const dir = tempDir();
    cleanups.push(() => dir.cleanup());
    const path = join(dir.path, 'queue.db');
    const cases: Array<[string[], RegExp]> = [
      [['--queue', path], /missing required option --since/],
      [['--queue', path, '--since', 'yesterday'], /--since: cannot read 'yesterday' as a time/],
      [['--queue', path, '--since', '1h', '--until', '2h'], /--until .* must be after --since/],
      [['--queue', path, '--since', '1h', '--batch', '0'], /--batch must be between 1 and 10000, got 0/],
      [['--since', '1h', '--dry-run'], /missing required option --queue/],
    ];
    for (const [args, message] of cases) {
      const r = await runCli(['replay', ...args], { env: { FLUXION_API_KEY: TEST_KEY } });
      expect(r.code, r.stderr).toBe(64);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(message);
    }
    const missing = await runCli(['replay', '--queue', path, '--since', '1h', '--dry-run']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toBe(`fluxion-edge replay: EDGE_ERR_QUEUE_IO: no queue file at ${path}\n`);
  });

  it('works while a running agent holds the queue file open, and leaves the agent working', async () => {
    const records = makeRecords(2_000);
    const { path, agent } = await filledQueue([records], { keepRunning: true });
    const reborn = await newServer();
    await new Promise((r) => setTimeout(r, 5));
    const until = Date.now();
    // The agent keeps taking readings (and writing the file) while the replay reads it.
    let next = 50_000;
    const load = setInterval(() => {
      ingest(agent, makeRecords(50, { start: next }));
      next += 50;
    }, 20);
    let r;
    try {
      r = await replay(path, reborn, ['--since', '1h', '--until', String(until)]);
    } finally {
      clearInterval(load);
    }
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^replayed 2000 records/);
    expect(reborn.recordCount()).toBe(2_000);
    expect(missingOn(reborn, records)).toEqual([]);
    const ingested = 2_000 + (next - 50_000);
    expect(ingested).toBeGreaterThan(2_000);
    await waitFor(() => agent.status().queue.sent === ingested, { what: 'the agent still sends' });
    expect(agent.status().queue.depth).toBe(0);
  });
});
