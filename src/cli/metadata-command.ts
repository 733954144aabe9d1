/**
 * `fluxion-edge metadata status|sync`: what the device metadata outbox holds (in sync,
 * pending, failed), and a forced full sync.
 * - `status` reads the queue file read-only: it works beside a running agent.
 * - `sync` runs the agent's own metadata sync once (static fields from the config, a full
 *   resync against the server, the outbox drained) and stops. It needs the queue file
 *   alone: a running agent already resyncs on its schedule and after every reconnect, and
 *   a reload (SIGHUP) makes it apply the config and resync at once.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { existsSync } from 'node:fs';
import pino from 'pino';
import { FluxionClient } from '../client/index.js';
import { formatProblems, loadConfig, problemsOf, type EdgeSettings } from '../config/index.js';
import { AgentError, ErrorCodes, isAgentError } from '../errors.js';
import { MetadataSync } from '../metadata/metadata-sync.js';
import type { MetadataStatus } from '../metadata/types.js';
import { SqliteQueue, readKvOutbox, type KvEntry } from '../queue/index.js';
import { queueFileInUse } from '../queue/read-only.js';
import { ExitCodes, type CommandIo } from './process-io.js';
import { version } from '../version.js';
import { parseCommandArgs, stringOption, type ParsedArgs } from './args.js';
import { parseDuration } from './duration.js';
import { pickSubcommand } from './subcommands.js';

const DEFAULT_CONFIG = '/etc/fluxion-edge/config.yaml';

const USAGE = `usage: fluxion-edge metadata <status|sync> [--config FILE] [options]

Device metadata lives in FluxionDB's key/value store; the agent writes it through an
outbox in its queue file and sends only what changed.

commands:
  status [--queue FILE] [--json]   keys in sync, pending and failed (read-only; works
                                   beside a running agent)
  sync [--timeout DURATION]        write the static metadata of the config, compare the
                                   collection with the server and write what differs, send
                                   everything pending; then stop (default timeout 30s).
                                   Needs the queue file alone: a running agent resyncs on its
                                   schedule, and at once on reload (systemctl reload fluxion-edge)

options:
  -c, --config FILE   the agent's config (default ${DEFAULT_CONFIG})
  -h, --help          show this help

exit codes: 0 in sync, 1 something pending or failed (or the agent holds the file), 64 usage, 78 invalid config
`;

type Handler = (parsed: ParsedArgs, io: CommandIo) => Promise<number>;

export async function run(args: string[], io: CommandIo): Promise<number> {
  const pick = pickSubcommand(args, { status, sync } as Record<string, Handler>, 'metadata', USAGE, io);
  if (typeof pick === 'number') return pick;
  const parsed = parseCommandArgs(pick.rest, {
    config: { type: 'string', short: 'c' },
    queue: { type: 'string' },
    json: { type: 'boolean' },
    timeout: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (parsed.values.help === true) {
    io.stdout.write(USAGE);
    return ExitCodes.OK;
  }
  try {
    return await pick.entry(parsed, io);
  } catch (err) {
    if (!isAgentError(err, ErrorCodes.CONFIG_INVALID)) throw err;
    io.stderr.write(`fluxion-edge metadata: invalid configuration:\n${formatProblems(problemsOf(err))}\n`);
    return ExitCodes.CONFIG;
  }
}

function settingsOf(parsed: ParsedArgs, io: CommandIo): EdgeSettings {
  return loadConfig(stringOption(parsed, 'config') ?? DEFAULT_CONFIG, io.env).settings;
}

const status: Handler = async (parsed, io) => {
  let path = stringOption(parsed, 'queue');
  let collection: string | undefined;
  if (path === undefined || stringOption(parsed, 'config') !== undefined) {
    const settings = settingsOf(parsed, io);
    path ??= settings.agent.queue.path;
    collection = settings.metadata.collection;
  }
  const entries = readKvOutbox(path);
  const summary = summarize(entries);
  if (parsed.values.json === true) {
    io.stdout.write(`${JSON.stringify({ queue: path, collection: collection ?? null, ...summary, entries }, null, 2)}\n`);
  } else {
    io.stdout.write(human(path, collection, summary, entries));
  }
  return summary.pending + summary.failed === 0 ? ExitCodes.OK : ExitCodes.FAILURE;
};

const sync: Handler = async (parsed, io) => {
  const settings = settingsOf(parsed, io);
  const timeout = stringOption(parsed, 'timeout');
  const timeoutMs = timeout === undefined ? 30_000 : parseDuration(timeout, '--timeout');
  const path = settings.agent.queue.path;
  try {
    if (existsSync(path) && queueFileInUse(path)) {
      throw new AgentError(
        ErrorCodes.QUEUE_BUSY,
        `${path} is open in another process (a running agent?): it resyncs on its schedule and after every reconnect; reload it (SIGHUP, systemctl reload fluxion-edge) to apply the config and resync now`,
      );
    }
  } catch (err) {
    if (!isAgentError(err)) throw err;
    io.stderr.write(`fluxion-edge metadata sync: ${err.message}\n`);
    return ExitCodes.FAILURE;
  }
  const logger = pino({ level: 'warn' }, pino.destination({ fd: 2, sync: true }));
  const queue = new SqliteQueue(settings.agent.queue);
  queue.start();
  const db = settings.agent.fluxiondb;
  const s = settings.agent.sender;
  const meta = new MetadataSync(settings.metadata, {
    queue,
    client: new FluxionClient({ ...db, connectionName: `${db.connectionName ?? 'fluxion-edge'}-metadata-sync`, reconnect: false }),
    logger,
    version,
    secrets: settings.secrets,
    schedules: false,
    retry: { backoffBaseMs: s.backoffBaseMs, backoffCapMs: Math.min(s.backoffCapMs, 2000), backoffResetAfterMs: s.backoffResetAfterMs, authRetryMs: timeoutMs, requestTimeoutMs: s.requestTimeoutMs },
  });
  let result: MetadataStatus;
  let timedOut = false;
  try {
    meta.start();
    const deadline = new AbortController();
    const giveUp = sleep(timeoutMs, undefined, { signal: deadline.signal }).then(() => void (timedOut = true), () => undefined);
    await Promise.race([meta.whenIdle(), giveUp]);
    deadline.abort();
    result = meta.status();
  } finally {
    await meta.stop();
    queue.stop();
  }
  const note = timedOut ? ` (gave up after ${timeout ?? '30s'}${result.lastError === null ? '' : `: ${result.lastError.message}`})` : '';
  io.stdout.write(
    `metadata sync: collection ${result.collection}: ${result.written} written, ${result.deleted} deleted; ` +
      `${result.inSync} in sync, ${result.pending} pending, ${result.failed} failed${note}\n`,
  );
  return result.pending + result.failed === 0 && !timedOut ? ExitCodes.OK : ExitCodes.FAILURE;
};

interface Summary {
  inSync: number;
  pending: number;
  failed: number;
  retired: number;
}

function summarize(entries: readonly KvEntry[]): Summary {
  const s: Summary = { inSync: 0, pending: 0, failed: 0, retired: 0 };
  for (const e of entries) {
    if (e.state === 'acked') s.inSync++;
    else s[e.state]++;
    if (e.retired) s.retired++;
  }
  return s;
}

function human(path: string, collection: string | undefined, s: Summary, entries: readonly KvEntry[]): string {
  const out = [`metadata outbox: ${path}${collection === undefined ? '' : ` (collection ${collection})`}`];
  out.push(`  in sync   ${s.inSync}${s.retired > 0 ? ` (${s.retired} no longer in the config, left on the server)` : ''}`);
  out.push(`  pending   ${s.pending}`);
  out.push(`  failed    ${s.failed}`);
  for (const e of entries) {
    if (e.state === 'acked') continue;
    const what = e.op === 'set' ? `set ${JSON.stringify(e.value)}` : 'delete';
    const err = e.lastError === null ? '' : `: ${e.lastError}`;
    out.push(`  ${e.state.toUpperCase().padEnd(8)} ${e.col}/${e.key} ${what} (${e.source})${err}`);
  }
  return `${out.join('\n')}\n`;
}
