import { afterEach, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { Agent } from '../../src/agent.js';
import { run } from '../../src/cli/metadata-command.js';
import { FluxionClient } from '../../src/client/index.js';
import { loadConfig } from '../../src/config/index.js';
import { DevServer } from '../../src/devserver/index.js';
import type { CommandIo } from '../../src/cli/process-io.js';
import { memoryLogger, TEST_KEY } from '../helpers/agent.js';
import { tempDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';

function memoryIo(): { io: CommandIo; out: () => string; err: () => string } {
  let out = '';
  let err = '';
  const stdout = new PassThrough().on('data', (d: Buffer) => (out += d.toString()));
  const stderr = new PassThrough().on('data', (d: Buffer) => (err += d.toString()));
  const io: CommandIo = {
    stdout, stderr, stdin: new PassThrough(), env: {},
    shutdownSignal: () => new Promise(() => undefined),
    onReload: () => () => undefined,
  };
  return { io, out: () => out, err: () => err };
}

describe('fluxion-edge metadata status|sync, and a key without write scope', () => {
  const cleanups: Array<() => Promise<unknown> | void> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  async function setup(apiKey: string) {
    const dir = tempDir();
    const server = new DevServer({ port: 0, masterKey: TEST_KEY });
    await server.start();
    cleanups.push(() => dir.cleanup(), () => server.stop());
    const configPath = join(dir.path, 'config.yaml');
    writeFileSync(configPath, `
gateway: { id: gw-cli }
fluxiondb: { url: "${server.url}", api_key: "${apiKey}" }
queue: { path: "${join(dir.path, 'queue.db')}", synchronous: normal }
sender: { backoff: { base: 20ms, cap: 200ms }, auth_retry: 200ms }
metadata:
  heartbeat: { enabled: false }
  devices: { pump-2: { site: north, rated_kw: 7.5 } }
`);
    return { dir: dir.path, server, configPath };
  }

  it('sync writes the static metadata and drains the outbox; status then reports everything in sync', async () => {
    const { server, configPath } = await setup(TEST_KEY);
    const s = memoryIo();
    expect(await run(['sync', '--config', configPath], s.io)).toBe(0);
    expect(s.out()).toBe('metadata sync: collection metadata: 2 written, 0 deleted; 2 in sync, 0 pending, 0 failed\n');
    expect(server.values('metadata')).toEqual({ 'pump-2:site': 'north', 'pump-2:rated_kw': '7.5' });

    const st = memoryIo();
    expect(await run(['status', '--config', configPath], st.io)).toBe(0);
    expect(st.out()).toContain('  in sync   2\n  pending   0\n  failed    0\n');

    const again = memoryIo();
    expect(await run(['sync', '--config', configPath], again.io)).toBe(0);
    expect(again.out()).toBe('metadata sync: collection metadata: 0 written, 0 deleted; 2 in sync, 0 pending, 0 failed\n');
    expect(server.frameCounts.get('sval')).toBe(2);
  });

  it('a read-only key: writes are marked failed with the server\'s reason, retried slowly, and sync refuses beside a running agent', async () => {
    const { server, configPath } = await setup('ro-key-1');
    const admin = new FluxionClient({ url: server.url, apiKey: TEST_KEY });
    cleanups.push(() => admin.close());
    await admin.addApiKey('ro-key-1', 'readonly');
    const { settings } = loadConfig(configPath, {});
    const { logger, lines } = memoryLogger('warn');
    const agent = new Agent(settings.agent, logger, { mapping: settings.mapping }, settings.metadata);
    await agent.start();
    cleanups.push(() => agent.stop());
    await waitFor(() => agent.status().metadata!.failed === 2, { what: 'writes refused' });
    expect(agent.status().metadata).toMatchObject({ inSync: 0, written: 0 });
    expect(lines().some((l) => String(l.msg).startsWith('FluxionDB refused the API key or its scope for metadata writes'))).toBe(true);

    const st = memoryIo();
    expect(await run(['status', '--config', configPath], st.io)).toBe(1);
    expect(st.out()).toContain('FAILED   metadata/pump-2:rated_kw set "7.5" (static): FluxionDB refused sval: permission denied');

    const busy = memoryIo();
    expect(await run(['sync', '--config', configPath], busy.io)).toBe(1);
    expect(busy.err()).toContain('is open in another process (a running agent?)');

    // The scope is fixed: the slow retry gets through.
    await admin.addApiKey('ro-key-1', 'read_write');
    await waitFor(() => agent.status().metadata!.inSync === 2, { what: 'writes after the scope was fixed' });
    expect(server.values('metadata')).toEqual({ 'pump-2:site': 'north', 'pump-2:rated_kw': '7.5' });
  });
});
