/**
 * `fluxion-edge replay`: sends again the retained sent rows of a queue file, for when the
 * server lost what it had acked (it writes to disk every 15 s; SIGKILL loses the rest).
 * It reads the file through a read-only connection, so it runs beside a live agent, and it
 * marks nothing: the server's inserts are idempotent, so replaying twice is harmless.
 */
import { setImmediate as nextTurn, setTimeout as sleep } from 'node:timers/promises';
import { FluxionClient, FluxionErrorCodes, backoffDelay, isFluxionError, type FluxionRecord, type TlsOptions } from '../client/index.js';
import { resolveApiKey } from '../config/secrets.js';
import { AgentError, ErrorCodes, isAgentError } from '../errors.js';
import { openQueueReadOnly, type SentRecord } from '../queue/index.js';
import { TokenBucket } from '../sender/token-bucket.js';
import { ExitCodes, type CommandIo } from './process-io.js';
import { intOption, parseCommandArgs, stringOption, type OptionSpec } from './args.js';
import { parseWhen } from './duration.js';
import { Progress } from './progress.js';

const USAGE = `usage: fluxion-edge replay --queue FILE --since WHEN [options]

Sends again the records the server acked that the queue still retains (sent rows are kept
for retain_sent, 24 h by default), enqueued in [--since, --until). Use it when the server
lost data: it acks before it writes to disk. Nothing in the queue changes, inserts are
idempotent, and it runs fine beside a running agent.

options:
  --queue FILE           the agent's queue file (required)
  --since WHEN           start of the window (required): 90s, 30m, 2h, 7d (that long ago),
                         an ISO 8601 time with a zone (2024-05-01T12:00:00Z), or epoch ms
  --until WHEN           end of the window, exclusive (default: when the replay starts)
  --col C                only records of collection C
  --doc D                only records of document D
  --url URL              server, default $FLUXION_URL or ws://127.0.0.1:8080
  --api-key-file FILE    read the API key from FILE (else --api-key KEY, else $FLUXION_API_KEY)
  --batch N              records per insert, default 1000 (and 1 MiB at most)
  --rate N               at most N records/s, default 0 (no cap)
  --timeout MS           time allowed for each batch's ack, default 10000
  --dry-run              count what would be sent; connects to nothing
  -h, --help             show this help

exit codes: 0 done, 1 failed (one line with the error code), 64 usage error
`;

const OPTIONS: OptionSpec = {
  queue: { type: 'string' },
  since: { type: 'string' },
  until: { type: 'string' },
  col: { type: 'string' },
  doc: { type: 'string' },
  url: { type: 'string' },
  'api-key': { type: 'string' },
  'api-key-file': { type: 'string' },
  batch: { type: 'string' },
  rate: { type: 'string' },
  timeout: { type: 'string' },
  'dry-run': { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
};

/** Largest `--batch`: the server blocks about 0.5 s on a 100,000-record frame. */
const MAX_BATCH = 10_000;
/** Attempts per batch when the link fails (timeout, close, refused connection). */
const SEND_ATTEMPTS = 3;

export interface ReplayOptions {
  /** Path of the agent's queue file; opened read-only. Required. */
  queuePath: string;
  /** FluxionDB `ws://` or `wss://` URL. Unused with `dryRun`. */
  url: string;
  /** API key (needs read_write). Unused with `dryRun`. Never printed. */
  apiKey: string;
  /** TLS settings for `wss://`. Default none. */
  tls?: TlsOptions;
  /** Replays rows enqueued at or after this time, ms since the epoch. Required. */
  sinceMs: number;
  /** ...and before this time, ms. Default: no bound (rows appended after the start are left out anyway). */
  untilMs?: number;
  /** Only this collection. Default all. */
  col?: string;
  /** Only this document. Default all. */
  doc?: string;
  /** Most records per `ins` frame. Default 1000. */
  batchMaxRecords?: number;
  /** Most bytes of records per frame (as the queue counts them). Default 1 MiB. */
  batchMaxBytes?: number;
  /** Batches in flight at once. Default 4. */
  window?: number;
  /** Most records per second; 0 = no cap. Default 0. */
  ratePerSecond?: number;
  /** Time allowed for one batch's ack, in ms. Default 10000. */
  requestTimeoutMs?: number;
  /** Count what would be sent without connecting. Default false. */
  dryRun?: boolean;
}

export interface ReplayDeps {
  /** Called once the total is known; the replay reports to what it returns. */
  progress?: (total: number) => { update(done: number): void };
  /** Stops the replay between batches; it then rejects with EDGE_ERR_STOPPED. */
  signal?: AbortSignal;
  /** Clock in ms. Default `Date.now`. */
  now?: () => number;
}

export interface ReplayResult {
  /** Records the server acked (or, dry run, would have been sent). */
  records: number;
  batches: number;
  /** Rows that matched when the replay began (a prune during the replay can lower `records`). */
  total: number;
  elapsedMs: number;
}

const DEFAULTS = { batchMaxRecords: 1000, batchMaxBytes: 1024 * 1024, window: 4, ratePerSecond: 0, requestTimeoutMs: 10_000 };

/**
 * Replays retained sent rows: counts them, then pages through them in id order and sends
 * batches with up to `window` in flight, paced by `ratePerSecond`. Only rows that existed
 * when it began are considered. Rejects with the first error that retries did not cure.
 */
export async function replayQueue(options: ReplayOptions, deps: ReplayDeps = {}): Promise<ReplayResult> {
  const o = { ...DEFAULTS, ...definedOnly(options) };
  const now = deps.now ?? Date.now;
  const started = now();
  const ro = openQueueReadOnly(o.queuePath);
  let client: FluxionClient | undefined;
  try {
    const filter = { sinceMs: o.sinceMs, untilMs: o.untilMs, col: o.col, doc: o.doc, maxId: ro.newestId() };
    if (o.dryRun !== true) {
      client = new FluxionClient({
        url: o.url,
        apiKey: o.apiKey,
        tls: o.tls,
        connectionName: 'fluxion-edge-replay',
        requestTimeoutMs: o.requestTimeoutMs,
        reconnect: false,
      });
      // A refused key or an unreachable server should fail before the count scans the file.
      await client.connect({ signal: deps.signal });
    }
    const total = ro.countSent(filter);
    const progress = deps.progress?.(total);
    const bucket = new TokenBucket(o.ratePerSecond, now);
    const inflight = new Set<Promise<void>>();
    let failure: { err: unknown } | undefined;
    let records = 0;
    let batches = 0;

    const dispatch = async (batch: FluxionRecord[]): Promise<void> => {
      const wait = bucket.delayMs();
      if (wait > 0) await sleep(wait, undefined, { signal: deps.signal }).catch(() => undefined);
      checkStopped(deps.signal, records, total);
      bucket.take(batch.length);
      batches += 1;
      if (!client) {
        records += batch.length;
        progress?.update(records);
        return;
      }
      const p = sendWithRetry(client, batch).then(
        () => {
          records += batch.length;
          progress?.update(records);
        },
        (err: unknown) => {
          failure ??= { err };
        },
      );
      inflight.add(p);
      void p.then(() => inflight.delete(p));
      while (inflight.size >= o.window && !failure) await Promise.race(inflight);
      if (failure) throw failure.err;
    };

    let batch: FluxionRecord[] = [];
    let batchBytes = 0;
    for (let afterId = 0, done = false; !done; ) {
      checkStopped(deps.signal, records, total);
      const page = ro.sentPage({ ...filter, afterId, limit: o.batchMaxRecords });
      for (const row of page.rows) {
        if (batch.length > 0 && batchBytes + row.bytes > o.batchMaxBytes) {
          await dispatch(batch);
          batch = [];
          batchBytes = 0;
        }
        batch.push(toRecord(row));
        batchBytes += row.bytes;
        if (batch.length >= o.batchMaxRecords) {
          await dispatch(batch);
          batch = [];
          batchBytes = 0;
        }
      }
      afterId = page.nextAfterId;
      done = page.done;
      // Pages are read synchronously: let signals and socket events in between them.
      await nextTurn();
    }
    if (batch.length > 0) await dispatch(batch);
    await Promise.all(inflight);
    if (failure) throw failure.err;
    return { records, batches, total, elapsedMs: now() - started };
  } finally {
    ro.close();
    await client?.close();
  }
}

/** Resends a batch after link failures (the next send opens a new connection); anything else is final. */
async function sendWithRetry(client: FluxionClient, batch: FluxionRecord[]): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await client.insertMultipleRecords(batch);
      return;
    } catch (err) {
      const transient =
        isFluxionError(err, FluxionErrorCodes.TIMEOUT) ||
        isFluxionError(err, FluxionErrorCodes.CONNECTION_CLOSED) ||
        isFluxionError(err, FluxionErrorCodes.CONNECT);
      if (!transient || attempt >= SEND_ATTEMPTS) throw err;
      await sleep(backoffDelay(attempt, { baseMs: 250, capMs: 2000 }));
    }
  }
}

function checkStopped(signal: AbortSignal | undefined, records: number, total: number): void {
  if (signal?.aborted === true) {
    throw new AgentError(ErrorCodes.STOPPED, `interrupted after ${records} of ${total} records (nothing is marked: run it again to finish)`, {
      cause: signal.reason,
    });
  }
}

/** Exactly the protocol's four fields: the row also carries id, bytes and times. */
function toRecord(r: SentRecord): FluxionRecord {
  return { col: r.col, doc: r.doc, ts: r.ts, data: r.data };
}

function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ');
}

function definedOnly<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

function positive(value: number | undefined, name: string, max: number, min = 1): number | undefined {
  if (value !== undefined && (value < min || value > max)) {
    throw new AgentError(ErrorCodes.USAGE, `--${name} must be between ${min} and ${max}, got ${value}`);
  }
  return value;
}

export async function run(args: string[], io: CommandIo): Promise<number> {
  let progress: Progress | undefined;
  const stopper = new AbortController();
  try {
    const parsed = parseCommandArgs(args, OPTIONS);
    if (parsed.values.help === true) {
      io.stdout.write(USAGE);
      return ExitCodes.OK;
    }
    const now = Date.now();
    const sinceMs = parseWhen(stringOption(parsed, 'since', true), '--since', now);
    const untilText = stringOption(parsed, 'until');
    const untilMs = untilText === undefined ? undefined : parseWhen(untilText, '--until', now);
    if (untilMs !== undefined && untilMs <= sinceMs) {
      throw new AgentError(ErrorCodes.USAGE, `--until (${new Date(untilMs).toISOString()}) must be after --since (${new Date(sinceMs).toISOString()})`);
    }
    const dryRun = parsed.values['dry-run'] === true;
    const options: ReplayOptions = {
      queuePath: stringOption(parsed, 'queue', true),
      url: stringOption(parsed, 'url') ?? io.env.FLUXION_URL ?? 'ws://127.0.0.1:8080',
      apiKey: dryRun ? '' : resolveApiKey({ apiKey: stringOption(parsed, 'api-key'), apiKeyFile: stringOption(parsed, 'api-key-file') }, io.env),
      sinceMs,
      untilMs,
      col: stringOption(parsed, 'col'),
      doc: stringOption(parsed, 'doc'),
      batchMaxRecords: positive(intOption(parsed, 'batch'), 'batch', MAX_BATCH),
      ratePerSecond: positive(intOption(parsed, 'rate'), 'rate', Number.MAX_SAFE_INTEGER, 0),
      requestTimeoutMs: positive(intOption(parsed, 'timeout'), 'timeout', 3_600_000),
      dryRun,
    };
    void io.shutdownSignal().then((sig) => stopper.abort(sig));
    const result = await replayQueue(options, {
      signal: stopper.signal,
      progress: (total) =>
        (progress = new Progress({ label: 'replay', unit: 'records', total, stream: io.stderr, isTTY: io.stderr.isTTY === true })),
    });
    progress?.finish();
    const seconds = (result.elapsedMs / 1000).toFixed(1);
    io.stdout.write(
      dryRun
        ? `dry run: would replay ${result.records} records (${result.batches} batches); nothing was sent\n`
        : `replayed ${result.records} records (${result.batches} batches) in ${seconds} s\n`,
    );
    return ExitCodes.OK;
  } catch (err) {
    progress?.finish();
    if (isAgentError(err, ErrorCodes.USAGE)) {
      io.stderr.write(`fluxion-edge replay: ${err.message}\n`);
      return ExitCodes.USAGE;
    }
    const code = isFluxionError(err) || isAgentError(err) ? `${err.code}: ` : '';
    io.stderr.write(`fluxion-edge replay: ${code}${oneLine(err instanceof Error ? err.message : String(err))}\n`);
    return ExitCodes.FAILURE;
  }
}
