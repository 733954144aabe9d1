import { afterEach, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { Agent } from '../../src/agent.js';
import type { FluxionRecord } from '../../src/client/types.js';
import { DevServer } from '../../src/devserver/index.js';
import { SqliteQueue, type DeadLetterInput } from '../../src/queue/index.js';
import { agentSettings, ingest, memoryLogger, missingOn, sendQueueToDevServer, TEST_KEY } from '../helpers/agent.js';
import { runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';

const DAY = 86_400_000;
const REC_1: FluxionRecord = { col: 'telemetry', doc: 'device-1', ts: 1_700_000_000_001, data: '{"temp":21.5}' };
const REC_2: FluxionRecord = { col: 'telemetry', doc: 'device-2', ts: 1_700_000_000_002, data: '{"temp":\n22}' };
const BINARY = Buffer.from([0x24, 0x47, 0x50, 0x00, 0xff, 0x0d, 0x0a]);

describe('fluxion-edge dead-letter (built CLI)', () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  /**
   * A queue file with four dead letters, two of them ten days old: 1 a record the server
   * refused, 2 a raw MQTT text message, 3 raw serial bytes that are not UTF-8, 4 a record.
   */
  function seed() {
    const dir = tempDir();
    cleanups.push(() => dir.cleanup());
    const path = join(dir.path, 'queue.db');
    const now = Date.now();
    const old = now - 10 * DAY;
    const recent = now - 3_600_000;
    let clock = old;
    const queue = new SqliteQueue({ path, synchronous: 'normal' }, { now: () => clock });
    queue.start();
    const add = (at: number, item: DeadLetterInput): void => {
      clock = at;
      queue.deadLetter(item);
    };
    add(old, { reason: 'server_rejected', source: 'sender', record: REC_1 });
    add(old, { reason: 'mapping_no_rule', source: 'mqtt', origin: 'sensors/plant-3/th-1', payload: 'temp=21.5\nhum=40' });
    add(recent, { reason: 'parse_error', source: 'serial', origin: '/dev/ttyUSB0', payload: BINARY });
    add(recent, { reason: 'server_rejected', source: 'sender', record: REC_2 });
    queue.stop();
    return { dir, path, old, recent };
  }

  function reopen(path: string): SqliteQueue {
    const queue = new SqliteQueue({ path, synchronous: 'normal' });
    queue.start();
    return queue;
  }

  const dl = (args: string[]) => runCli(['dead-letter', ...args]);

  it('lists dead letters as a table with escaped previews and the total', async () => {
    const { path, old, recent } = seed();
    const r = await dl(['list', '--queue', path]);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    const o = new Date(old).toISOString();
    const n = new Date(recent).toISOString();
    expect(r.stdout).toBe(
      [
        'ID  TIME                      SOURCE  ORIGIN                REASON           PREVIEW',
        `1   ${o}  sender  -                     server_rejected  telemetry/device-1@1700000000001 {"temp":21.5}`,
        `2   ${o}  mqtt    sensors/plant-3/th-1  mapping_no_rule  temp=21.5\\nhum=40`,
        `3   ${n}  serial  /dev/ttyUSB0          parse_error      $GP\\x00\\xff\\r\\n`,
        `4   ${n}  sender  -                     server_rejected  telemetry/device-2@1700000000002 {"temp":\\n22}`,
        '4 dead letters in total',
        '',
      ].join('\n'),
    );

    const limited = await dl(['list', '--queue', path, '--limit', '1']);
    expect(limited.stdout.split('\n').slice(2)).toEqual(['4 dead letters in total (showing the oldest 1; --limit N shows more)', '']);
  });

  it('lists dead letters as JSON lines with --json, the total on stderr', async () => {
    const { path, old, recent } = seed();
    const r = await dl(['list', '--queue', path, '--json']);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('4 dead letters in total\n');
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as unknown);
    const base = (id: number, at: number) => ({ id, at, time: new Date(at).toISOString() });
    expect(lines).toEqual([
      { ...base(1, old), source: 'sender', origin: null, reason: 'server_rejected', record: REC_1, payload: null, payloadEncoding: null },
      {
        ...base(2, old),
        source: 'mqtt',
        origin: 'sensors/plant-3/th-1',
        reason: 'mapping_no_rule',
        record: null,
        payload: 'temp=21.5\nhum=40',
        payloadEncoding: 'utf8',
      },
      {
        ...base(3, recent),
        source: 'serial',
        origin: '/dev/ttyUSB0',
        reason: 'parse_error',
        record: null,
        payload: BINARY.toString('base64'),
        payloadEncoding: 'base64',
      },
      { ...base(4, recent), source: 'sender', origin: null, reason: 'server_rejected', record: REC_2, payload: null, payloadEncoding: null },
    ]);
  });

  it('retry --all re-queues the records as unsent rows, skips raw messages, and an agent then sends them', async () => {
    const { path, dir } = seed();
    const r = await dl(['retry', '--queue', path, '--all']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(
      'retried 2, re-queued 2 records, skipped 2\n' +
        'skipped 2: raw messages without a record; give --config FILE to map them again with its rules\n',
    );
    expect(r.stderr).toBe('dead-letter retry: 4/4 dead letters\n');

    const queue = reopen(path);
    expect(queue.stats().depth).toBe(2);
    expect(queue.listDeadLetters().map((d) => d.id)).toEqual([2, 3]);
    queue.stop();

    const server = await sendQueueToDevServer(dir.path, cleanups);
    expect(missingOn(server, [REC_1, REC_2])).toEqual([]);
    expect(server.recordCount()).toBe(2);
  });

  it('retry --id takes only the given dead letters and exits 1 when some ids do not exist', async () => {
    const { path } = seed();
    const one = await dl(['retry', '--queue', path, '--id', '4']);
    expect(one.code).toBe(0);
    expect(one.stdout).toBe('retried 1, re-queued 1 records, skipped 0\n');

    const mixed = await dl(['retry', '--queue', path, '--id', '1,2', '--id', '99']);
    expect(mixed.code).toBe(1);
    expect(mixed.stdout.split('\n')[0]).toBe('retried 1, re-queued 1 records, skipped 1');
    expect(mixed.stderr.split('\n').filter((l) => l.startsWith('fluxion-edge'))).toEqual([
      'fluxion-edge dead-letter retry: 1 of the given ids is not a dead letter',
    ]);
    const queue = reopen(path);
    expect(queue.stats().depth).toBe(2);
    expect(queue.listDeadLetters().map((d) => d.id)).toEqual([2, 3]);
    queue.stop();
  });

  it('retry refuses while an agent has the file open, and changes nothing', async () => {
    const { path, dir } = seed();
    const server = new DevServer({ port: 0, masterKey: TEST_KEY });
    await server.start();
    cleanups.push(() => server.stop());
    const agent = new Agent(agentSettings(dir.path, server.url), memoryLogger('silent').logger);
    cleanups.push(() => agent.stop());
    await agent.start();

    const r = await dl(['retry', '--queue', path, '--all']);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^fluxion-edge dead-letter retry: EDGE_ERR_QUEUE_BUSY: .*queue\.db is open in another process \(a running agent\?\): stop it, then retry/);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(agent.status().queue.deadLetterDepth).toBe(4);
    expect(agent.queue.listDeadLetters().map((d) => d.id)).toEqual([1, 2, 3, 4]);
    expect(agent.status().queue.depth).toBe(0);
  });

  it('purges by id, by age and all, with exact counts', async () => {
    const { path } = seed();
    const byId = await dl(['purge', '--queue', path, '--id', '2', '--id', '4']);
    expect(byId.code).toBe(0);
    expect(byId.stdout).toBe('purged 2 dead letters\n');

    const seeded = seed();
    const byAge = await dl(['purge', '--queue', seeded.path, '--older-than', '7d']);
    expect(byAge.stdout).toBe('purged 2 dead letters\n');
    const left = reopen(seeded.path);
    expect(left.listDeadLetters().map((d) => d.id)).toEqual([3, 4]);
    left.stop();
    const notOldEnough = await dl(['purge', '--queue', seeded.path, '--older-than', '2h']);
    expect(notOldEnough.stdout).toBe('purged 0 dead letters\n');

    const all = await dl(['purge', '--queue', seeded.path, '--all']);
    expect(all.stdout).toBe('purged 2 dead letters\n');
    const listed = await dl(['list', '--queue', seeded.path]);
    expect(listed.stdout).toBe('0 dead letters in total\n');

    const missing = await dl(['purge', '--queue', path, '--id', '2']);
    expect(missing.code).toBe(1);
    expect(missing.stdout).toBe('purged 0 dead letters\n');
    expect(missing.stderr).toBe('fluxion-edge dead-letter purge: 1 of the given ids is not a dead letter\n');
  });

  it('purge works while an agent has the file open', async () => {
    const { path, dir } = seed();
    const server = new DevServer({ port: 0, masterKey: TEST_KEY });
    await server.start();
    cleanups.push(() => server.stop());
    const agent = new Agent(agentSettings(dir.path, server.url), memoryLogger('silent').logger);
    cleanups.push(() => agent.stop());
    await agent.start();
    const r = await dl(['purge', '--queue', path, '--older-than', '7d']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('purged 2 dead letters\n');
    expect(agent.queue.listDeadLetters().map((d) => d.id)).toEqual([3, 4]);
    // The agent still takes and sends readings after another process wrote to its file.
    ingest(agent, [{ col: 'telemetry', doc: 'device-9', ts: 1_700_000_000_009, data: '{}' }]);
    await waitFor(() => agent.status().queue.sent === 1, { what: 'a reading sent' });
  });

  it('refuses bad arguments with exit 64, and a missing file with exit 1', async () => {
    const { path, dir } = seed();
    const cases: Array<[string[], string]> = [
      [['retry', '--queue', path], 'fluxion-edge dead-letter retry: dead-letter retry needs --id N (one or more) or --all\n'],
      [['purge', '--queue', path], 'fluxion-edge dead-letter purge: dead-letter purge needs exactly one of --id N, --older-than DURATION, --all\n'],
      [['purge', '--queue', path, '--all', '--id', '1'], 'fluxion-edge dead-letter purge: dead-letter purge needs exactly one of --id N, --older-than DURATION, --all\n'],
      [['purge', '--queue', path, '--older-than', 'soon'], "fluxion-edge dead-letter purge: --older-than: cannot read 'soon' as a duration; use e.g. 90s, 30m, 2h, 7d or 1h30m\n"],
      [['purge', '--queue', path, '--id', 'x'], "fluxion-edge dead-letter purge: --id must be a positive integer, got 'x'\n"],
      [['list', '--queue', path, '--all'], "fluxion-edge dead-letter list: Unknown option '--all'\n"],
      [['list'], 'fluxion-edge dead-letter list: missing required option --queue\n'],
    ];
    for (const [args, stderr] of cases) {
      const r = await dl(args);
      expect(r.code, args.join(' ')).toBe(64);
      expect(r.stderr).toBe(stderr);
    }
    const unknown = await dl(['resurrect']);
    expect(unknown.code).toBe(64);
    const missingFile = join(dir.path, 'nope.db');
    const missing = await dl(['purge', '--queue', missingFile, '--all']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toBe(`fluxion-edge dead-letter purge: EDGE_ERR_QUEUE_IO: no queue file at ${missingFile}\n`);
  });
});
