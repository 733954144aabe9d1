/**
 * `fluxion-edge dead-letter list|retry|purge`: look at, re-queue and delete what the agent
 * could not deliver. `list` reads through a read-only connection; `purge` writes in short
 * transactions and is safe beside a running agent; `retry` appends rows, and refuses while
 * another process has the file open (a running agent hands out row ids from memory, so
 * rows appended behind its back would collide with its next append).
 */
import { existsSync } from 'node:fs';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { formatProblems, loadConfig, problemsOf, type EdgeSettings } from '../config/index.js';
import { AgentError, ErrorCodes, isAgentError } from '../errors.js';
import { KvOutbox, SqliteQueue, openQueueReadOnly, type DeadLetter, type KvWrite } from '../queue/index.js';
import { queueFileInUse } from '../queue/read-only.js';
import { ExitCodes, type CommandIo } from './process-io.js';
import { intOption, parseCommandArgs, stringOption, type OptionSpec, type ParsedArgs } from './args.js';
import { allRules } from '../agent.js';
import { remapper } from '../pipeline/dead-letter-remap.js';
import { replayContext } from '../sparkplug/replay-context.js';
import { metadataKey } from '../metadata/static-metadata.js';
import { pickSubcommand } from './subcommands.js';
import { parseDuration } from './duration.js';
import { Progress } from './progress.js';

const USAGE = `usage: fluxion-edge dead-letter <list|retry|purge> --queue FILE [options]

Dead letters are what the agent could not deliver: raw messages that no mapping rule took
(they hold the payload) and records the server refused (they hold the record).

commands:
  list [--limit N] [--json]      the oldest N (default 50, 0 = all), then the total;
                                 --json: one JSON object per line on stdout, the total on stderr
  retry (--id N ... | --all) [--config FILE]
                                 put their records back in the queue as unsent rows. With
                                 --config, raw messages (MQTT payloads, serial lines) are mapped
                                 again with that config's rules: what maps is queued, what does
                                 not stays with its new reason (lines a serial input cut, too
                                 long or incomplete, stay as they are); without it they are
                                 skipped.
                                 Stop the agent first: retry refuses while the file is open in
                                 another process.
  purge (--id N ... | --older-than DURATION | --all)
                                 delete them for good (DURATION: 90s, 30m, 2h, 7d); safe while
                                 the agent runs

options:
  --queue FILE                   the agent's queue file (required; retry --config: default
                                 queue.path of the config)
  --id N                         a dead letter's id; repeat it or separate ids with commas
  -h, --help                     show this help

exit codes: 0 done, 1 failed or an --id not found, 64 usage error
`;

const COMMON: OptionSpec = { queue: { type: 'string' }, help: { type: 'boolean', short: 'h' } };
const ID: OptionSpec = { id: { type: 'string', multiple: true }, all: { type: 'boolean' } };

/** Dead letters per retry transaction and per page read: short transactions beside a live agent. */
const CHUNK = 1000;
/** Characters of payload or record shown by `list`. */
const PREVIEW_CHARS = 60;

const usageError = (message: string): AgentError => new AgentError(ErrorCodes.USAGE, message);

type Handler = (path: string, parsed: ParsedArgs, io: CommandIo) => Promise<number>;

const list: Handler = async (path, parsed, io) => {
  const limit = intOption(parsed, 'limit', 50)!;
  if (limit < 0) throw usageError(`--limit must be 0 or more, got ${limit}`);
  const ro = openQueueReadOnly(path);
  try {
    const items: DeadLetter[] = [];
    for (let afterId = 0; limit === 0 || items.length < limit; ) {
      const page = ro.listDeadLetters({ afterId, limit: limit === 0 ? CHUNK : Math.min(CHUNK, limit - items.length) });
      items.push(...page);
      if (page.length === 0) break;
      afterId = page[page.length - 1]!.id;
    }
    const total = ro.countDeadLetters();
    if (parsed.values.json === true) {
      for (const d of items) io.stdout.write(`${JSON.stringify(toJson(d))}\n`);
      io.stderr.write(`${total} dead letters in total\n`);
    } else {
      if (items.length > 0) io.stdout.write(table(items));
      const shown = items.length < total ? ` (showing the oldest ${items.length}; --limit N shows more)` : '';
      io.stdout.write(`${total} dead letters in total${shown}\n`);
    }
    return ExitCodes.OK;
  } finally {
    ro.close();
  }
};

const retry: Handler = async (path, parsed, io) => {
  const ids = idsOption(parsed);
  if ((ids === undefined) === (parsed.values.all !== true)) throw usageError('dead-letter retry needs --id N (one or more) or --all');
  const configPath = stringOption(parsed, 'config');
  let settings: EdgeSettings | null = null;
  if (configPath !== undefined) {
    try {
      settings = loadConfig(configPath, io.env).settings;
    } catch (err) {
      if (!isAgentError(err, ErrorCodes.CONFIG_INVALID)) throw err;
      io.stderr.write(`fluxion-edge dead-letter retry: invalid configuration ${configPath}:\n${formatProblems(problemsOf(err))}\n`);
      return ExitCodes.CONFIG;
    }
  }
  if (queueFileInUse(path)) {
    throw new AgentError(
      ErrorCodes.QUEUE_BUSY,
      `${path} is open in another process (a running agent?): stop it, then retry. Re-queued rows would take ids the running agent hands out too`,
    );
  }
  return withQueue(path, async (queue) => {
    const remap = settings === null ? null : cliRemapper(settings, queue);
    const targets = ids ?? allIds(queue);
    const progress = new Progress({
      label: 'dead-letter retry',
      unit: 'dead letters',
      total: targets.length,
      stream: io.stderr,
      isTTY: io.stderr.isTTY === true,
    });
    const sum = { retried: 0, records: 0, skipped: 0, reasonsUpdated: 0 };
    try {
      for (let i = 0; i < targets.length; i += CHUNK) {
        const chunk = targets.slice(i, i + CHUNK);
        const r = queue.retryDeadLetters({ ids: chunk, limit: chunk.length, ...(remap !== null ? { remap: (dl) => remap.remap(dl) } : {}) });
        sum.retried += r.retried;
        sum.records += r.records;
        sum.skipped += r.skipped;
        sum.reasonsUpdated += r.reasonsUpdated ?? 0;
        progress.update(i + chunk.length);
        await nextTurn();
      }
    } finally {
      progress.finish();
    }
    io.stdout.write(`retried ${sum.retried}, re-queued ${sum.records} records, skipped ${sum.skipped}\n`);
    if (remap !== null && remap.metadataPairs > 0) io.stdout.write(`${remap.metadataPairs} metadata pairs recorded for the metadata sync\n`);
    if (remap !== null && sum.reasonsUpdated > 0) {
      io.stdout.write(`still unmapped ${sum.reasonsUpdated}: kept with the reason the current rules give (fluxion-edge dead-letter list)\n`);
    }
    if (remap === null && sum.skipped > 0) {
      io.stdout.write(`skipped ${sum.skipped}: raw messages without a record; give --config FILE to map them again with its rules\n`);
    }
    return notFound(io, 'retry', targets.length - sum.retried - sum.skipped);
  });
};

const purge: Handler = async (path, parsed, io) => {
  const ids = idsOption(parsed);
  const olderThan = stringOption(parsed, 'older-than');
  const chosen = [ids !== undefined, olderThan !== undefined, parsed.values.all === true].filter(Boolean).length;
  if (chosen !== 1) throw usageError('dead-letter purge needs exactly one of --id N, --older-than DURATION, --all');
  const olderThanMs = olderThan === undefined ? undefined : parseDuration(olderThan, '--older-than');
  return withQueue(path, async (queue) => {
    let purged = 0;
    if (ids) {
      for (let i = 0; i < ids.length; i += CHUNK) purged += queue.purgeDeadLetters({ ids: ids.slice(i, i + CHUNK) });
    } else {
      purged = queue.purgeDeadLetters({ olderThanMs });
    }
    io.stdout.write(`purged ${purged} dead letters\n`);
    return notFound(io, 'purge', ids ? ids.length - purged : 0);
  });
};

/** Subcommands: their own options (beside --queue and --help) and what they do. */
const COMMANDS: Record<string, { options: OptionSpec; handler: Handler }> = {
  list: { options: { limit: { type: 'string' }, json: { type: 'boolean' } }, handler: list },
  retry: { options: { ...ID, config: { type: 'string', short: 'c' } }, handler: retry },
  purge: { options: { ...ID, 'older-than': { type: 'string' } }, handler: purge },
};

/**
 * Opens the queue for writing without the start-up quick_check: it reads every page (slow
 * on a big file) and, were it to fail, would move the file aside under a running agent.
 * The file must exist: a typo must not create an empty queue.
 */
async function withQueue(path: string, fn: (queue: SqliteQueue) => Promise<number>): Promise<number> {
  if (!existsSync(path)) throw new AgentError(ErrorCodes.QUEUE_IO, `no queue file at ${path}`);
  const queue = new SqliteQueue({ path, startupCheck: 'off', synchronous: 'full', stageFlushMs: 0 });
  queue.start();
  try {
    return await fn(queue);
  } finally {
    queue.stop();
  }
}

function allIds(queue: SqliteQueue): number[] {
  const ids: number[] = [];
  for (let page = queue.listDeadLetters({ limit: CHUNK }); page.length > 0; ) {
    for (const d of page) ids.push(d.id);
    page = queue.listDeadLetters({ afterId: ids[ids.length - 1]!, limit: CHUNK });
  }
  return ids;
}

/** --queue, or (retry --config) the config's queue.path. */
function queuePath(parsed: ParsedArgs, io: CommandIo): string {
  const queue = stringOption(parsed, 'queue');
  if (queue !== undefined) return queue;
  const config = stringOption(parsed, 'config');
  if (config === undefined) return stringOption(parsed, 'queue', true);
  try {
    return loadConfig(config, io.env).settings.agent.queue.path;
  } catch {
    // The handler loads it again and reports its problems.
    return '';
  }
}

/** `--id 3 --id 5,7` -> [3, 5, 7] (deduplicated), or undefined when absent. */
function idsOption(parsed: ParsedArgs): number[] | undefined {
  const raw = parsed.values.id;
  if (raw === undefined) return undefined;
  const ids = new Set<number>();
  for (const part of (raw as string[]).flatMap((v) => v.split(','))) {
    if (!/^\s*\d+\s*$/.test(part) || Number(part) < 1) throw usageError(`--id must be a positive integer, got '${part}'`);
    ids.add(Number(part));
  }
  return [...ids];
}

function notFound(io: CommandIo, command: string, missing: number): number {
  if (missing <= 0) return ExitCodes.OK;
  io.stderr.write(`fluxion-edge dead-letter ${command}: ${missing} of the given ids ${missing === 1 ? 'is' : 'are'} not a dead letter\n`);
  return ExitCodes.FAILURE;
}

/** One JSON object per dead letter: a payload that is not UTF-8 travels as base64. */
function toJson(d: DeadLetter): Record<string, unknown> {
  const text = payloadText(d.payload);
  return {
    id: d.id,
    at: d.at,
    time: new Date(d.at).toISOString(),
    source: d.source,
    origin: d.origin,
    reason: d.reason,
    record: d.record,
    payload: text ?? (Buffer.isBuffer(d.payload) ? d.payload.toString('base64') : null),
    payloadEncoding: d.payload === null ? null : text === null ? 'base64' : 'utf8',
  };
}

/** The payload as text when it is valid UTF-8 (or already a string), else null. */
function payloadText(payload: Buffer | string | null): string | null {
  if (payload === null || typeof payload === 'string') return payload;
  const text = payload.toString('utf8');
  return Buffer.from(text, 'utf8').equals(payload) ? text : null;
}

function table(items: readonly DeadLetter[]): string {
  const rows = items.map((d) => [String(d.id), new Date(d.at).toISOString(), d.source, d.origin ?? '-', d.reason, preview(d)]);
  const header = ['ID', 'TIME', 'SOURCE', 'ORIGIN', 'REASON', 'PREVIEW'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]): string =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return `${[header, ...rows].map(line).join('\n')}\n`;
}

/** The record (`col/doc@ts data`) or the payload, escaped and cut to PREVIEW_CHARS. */
export function preview(d: Pick<DeadLetter, 'record' | 'payload'>): string {
  let text: string;
  if (d.record) text = escapeText(`${d.record.col}/${d.record.doc}@${d.record.ts} ${d.record.data}`);
  else if (d.payload === null) text = '-';
  else {
    const asText = payloadText(d.payload);
    text = asText !== null ? escapeText(asText) : escapeBytes(d.payload as Buffer);
  }
  const chars = [...text];
  return chars.length > PREVIEW_CHARS ? `${chars.slice(0, PREVIEW_CHARS - 1).join('')}…` : text;
}

const NAMED_ESCAPES: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t', '\\': '\\\\' };

/** Control and invisible characters become escapes, so one dead letter stays on one line. */
export function escapeText(text: string): string {
  return text.replace(/[\\\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/gu, (c) => {
    const named = NAMED_ESCAPES[c];
    if (named !== undefined) return named;
    const cp = c.codePointAt(0)!;
    return cp <= 0xff ? `\\x${cp.toString(16).padStart(2, '0')}` : `\\u{${cp.toString(16)}}`;
  });
}

/** Bytes that are not UTF-8: printable ASCII as is, every other byte as \xNN. */
export function escapeBytes(bytes: Buffer): string {
  let out = '';
  for (const b of bytes) {
    const c = String.fromCharCode(b);
    if (NAMED_ESCAPES[c] !== undefined) out += NAMED_ESCAPES[c];
    else out += b >= 0x20 && b < 0x7f ? c : `\\x${b.toString(16).padStart(2, '0')}`;
  }
  return out;
}

export async function run(args: string[], io: CommandIo): Promise<number> {
  const picked = pickSubcommand(args, COMMANDS, 'dead-letter', USAGE, io);
  if (typeof picked === 'number') return picked;
  const { name, entry: command, rest } = picked;
  try {
    const parsed = parseCommandArgs(rest, { ...COMMON, ...command.options });
    if (parsed.values.help === true) {
      io.stdout.write(USAGE);
      return ExitCodes.OK;
    }
    return await command.handler(queuePath(parsed, io), parsed, io);
  } catch (err) {
    if (isAgentError(err, ErrorCodes.USAGE)) {
      io.stderr.write(`fluxion-edge dead-letter ${name}: ${err.message}\n`);
      return ExitCodes.USAGE;
    }
    const code = isAgentError(err) ? `${err.code}: ` : '';
    io.stderr.write(`fluxion-edge dead-letter ${name}: ${code}${err instanceof Error ? err.message : String(err)}\n`);
    return ExitCodes.FAILURE;
  }
}

/**
 * The agent is stopped: metadata pairs of re-mapped messages go straight to the metadata
 * outbox in the queue file (empty values and secrets left out, as the agent's sync does),
 * and the agent writes them out when it runs.
 */
function cliRemapper(settings: EdgeSettings, queue: SqliteQueue): ReturnType<typeof remapper> {
  const md = settings.metadata;
  let outbox: KvOutbox | null = null;
  return remapper({
    rules: allRules(settings),
    mapping: settings.mapping,
    context: replayContext(queue),
    onMetadata: (pairs) => {
      const writes: KvWrite[] = pairs
        .filter((p) => p.value.length > 0 && !settings.secrets.heldBy(p.value))
        .map((p) => ({ col: md.collection, key: metadataKey(md.keyTemplate, p.device, p.key), value: p.value, source: 'dynamic' }));
      if (writes.length === 0) return;
      outbox ??= new KvOutbox(queue.database);
      outbox.set(writes);
    },
  });
}
