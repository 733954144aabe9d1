/**
 * The `dev-server` command. The whole project does not build yet (other folders are in
 * progress), so the command's run() is driven in-process with a real CommandIo made of
 * streams, instead of the built CLI as a child process.
 */
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { run } from '../../src/cli/dev-server-command.js';
import { ExitCodes, type CommandIo } from '../../src/cli/process-io.js';
import { waitFor } from '../helpers/wait.js';
import { connect } from '../helpers/devserver-harness.js';

function io(env: Record<string, string> = {}) {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
  let signal: (s: NodeJS.Signals) => void = () => undefined;
  const shutdown = new Promise<NodeJS.Signals>((r) => (signal = r));
  const commandIo: CommandIo = {
    stdout,
    stderr,
    stdin: new PassThrough(),
    env,
    shutdownSignal: () => shutdown,
    onReload: () => () => undefined,
  };
  return { commandIo, out: () => out, err: () => err, signal: (s: NodeJS.Signals) => signal(s) };
}

describe('fluxion-edge dev-server', () => {
  it('prints usage on --help', async () => {
    const t = io();
    expect(await run(['--help'], t.commandIo)).toBe(ExitCodes.OK);
    expect(t.out()).toMatch(/^usage: fluxion-edge dev-server --secret-key KEY/);
  });

  it.each([
    [[], 'fluxion-edge dev-server: missing --secret-key (or env FLUXION_MASTER_KEY)\n'],
    [['--secret-key', 'k', '--port', 'abc'], "fluxion-edge dev-server: --port must be an integer, got 'abc'\n"],
    [['--secret-key', 'k', '--log-level', 'loud'], "fluxion-edge dev-server: --log-level must be one of fatal, error, warn, info, debug, trace, silent, got 'loud'\n"],
    [['--secret-key', 'k', '--bogus'], null],
  ])('answers a usage error with one line on stderr and exit 64: %j', async (args, line) => {
    const t = io();
    expect(await run(args as string[], t.commandIo)).toBe(ExitCodes.USAGE);
    if (line !== null) expect(t.err()).toBe(line);
    else expect(t.err().trimEnd().split('\n')).toHaveLength(1);
    expect(t.out()).toBe('');
  });

  it('listens, prints one line, serves, logs without the key, and stops on a signal', async () => {
    const t = io();
    const done = run(['--port', '0', '--secret-key', 'sekret-123', '--deny-inserts', '--log-level', 'debug'], t.commandIo);
    const line = await waitFor(() => /^fluxion-edge dev-server listening on (ws:\/\/127\.0\.0\.1:\d+)\n$/.exec(t.out()), { what: 'the listening line' });
    const c = await connect({ url: line[1]! }, 'sekret-123', 'cli');
    expect(await c.call('ins', [{ ts: 1, doc: 'd', data: 'x', col: 'c' }])).toBe('{"error":"permission denied","id":"r"}');
    expect(await c.call('sval', { col: 'c', key: 'k', value: 'v' })).toBe('{"id":"r"}');
    t.signal('SIGTERM');
    expect(await done).toBe(ExitCodes.OK);
    expect((await c.closed).code).toBe(1006);
    expect(t.err()).toContain('"msg":"dev server listening"');
    expect(t.err()).not.toContain('sekret-123');
    expect(t.out().split('\n')).toHaveLength(2);
  });

  it('takes the key from FLUXION_MASTER_KEY and the fault flags', async () => {
    const t = io({ FLUXION_MASTER_KEY: 'env-key' });
    const done = run(['--port', '0', '--ack-delay-ms', '120', '--log-level', 'silent'], t.commandIo);
    const line = await waitFor(() => /listening on (\S+)\n/.exec(t.out()), { what: 'the listening line' });
    const c = await connect({ url: line[1]! }, 'env-key');
    const t0 = Date.now();
    expect(await c.call('cols', 'x')).toBe('{"id":"r","collections":[]}');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(115);
    t.signal('SIGINT');
    expect(await done).toBe(ExitCodes.OK);
    expect(t.err()).toBe('');
  });

  it('fails with exit 1 when the port is taken', async () => {
    const first = io();
    const done = run(['--port', '0', '--secret-key', 'k', '--log-level', 'silent'], first.commandIo);
    const line = await waitFor(() => /:(\d+)\n/.exec(first.out()), { what: 'the listening line' });
    const second = io();
    expect(await run(['--port', line[1]!, '--secret-key', 'k', '--log-level', 'silent'], second.commandIo)).toBe(ExitCodes.FAILURE);
    expect(second.err()).toMatch(/^fluxion-edge dev-server: dev server cannot listen on 127\.0\.0\.1:\d+: .*EADDRINUSE/);
    first.signal('SIGTERM');
    expect(await done).toBe(ExitCodes.OK);
  });
});
