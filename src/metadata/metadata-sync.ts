/**
 * Device metadata in FluxionDB's key/value store, writing only what changed.
 *
 * Every wanted value (static from the config, dynamic from `kind: metadata` rules, the
 * gateway heartbeat) goes through the durable outbox in the queue file (src/queue/
 * kv-outbox.ts) and is sent from there in order, on a connection of its own (KV writes
 * are rare; the sender's pipeline stays untouched). A full resync (`getValues`, then write
 * what differs) runs on a node-cron schedule and after every (re)connect, which also puts
 * back values someone edited by hand on the server.
 */
import cron, { type ScheduledTask } from 'node-cron';
import type { Logger } from 'pino';
import type { FluxionClient } from '../client/index.js';
import { ErrorCodes } from '../errors.js';
import type { MetadataPair } from '../mapping/types.js';
import { KvOutbox, type KvEntry, type KvKey, type KvWrite, type SqliteQueue } from '../queue/index.js';
import { RateLimitedLog } from '../shared/rate-limited-log.js';
import { ReconnectLoop, type SessionEnd } from '../shared/reconnect-loop.js';
import { heartbeatKeys, heartbeatPairs } from './heartbeat.js';
import { Secrets } from '../shared/secrets.js';
import { metadataKey, staticPairs } from './static-metadata.js';
import type { MetadataOptions, MetadataRetryOptions, MetadataState, MetadataStatus } from './types.js';
import { classify, WriteVerdicts, type WriteOutcome } from './write-verdicts.js';

/** Writes in flight at once (pipelined: the server answers in order). */
const WINDOW = 8;

type PumpOutcome = Exclude<SessionEnd, 'again'>;

export interface MetadataSyncDeps {
  /** The started queue: the outbox lives in its file; the heartbeat reads its stats. */
  queue: SqliteQueue;
  /** A client of its own, with `reconnect: false` (this component owns retries). */
  client: FluxionClient;
  logger: Logger;
  /** The agent's version, for the heartbeat. */
  version: string;
  retry: MetadataRetryOptions;
  /** Values never written (the API key, the MQTT password): a pair holding one is skipped and counted. Default none. */
  secrets?: Secrets;
  /** Run the resync and heartbeat schedules. Default true; a one-shot sync (the CLI) turns them off. */
  schedules?: boolean;
  now?: () => number;
}

export class MetadataSync {
  private readonly client: FluxionClient;
  private readonly logger: Logger;
  private readonly warnings: RateLimitedLog;
  private readonly now: () => number;
  private readonly secrets: Secrets;
  private outbox: KvOutbox | null = null;
  private tasks: ScheduledTask[] = [];
  private readonly link: ReconnectLoop;
  private resyncWanted = false;
  private readonly verdicts = new WriteVerdicts();
  private readonly counters = { written: 0, deleted: 0, skipped: 0, resyncs: 0, heartbeats: 0 };
  /**
   * Keys `metadata.devices` sets. The config wins over a device's own report of the same key
   * (a `kind: metadata` rule): otherwise the value would flip on every report and resync.
   */
  private configKeys = new Set<string>();
  private lastResyncAt: number | null = null;
  private lastCounts = { acked: 0, pending: 0, failed: 0 };
  /** Waiters of `whenIdle()`: resolved when nothing is pending after a resync. */
  private idleWaiters: Array<() => void> = [];

  constructor(
    private options: MetadataOptions,
    private readonly deps: MetadataSyncDeps,
  ) {
    this.client = deps.client;
    this.logger = deps.logger;
    this.warnings = new RateLimitedLog(deps.logger);
    this.now = deps.now ?? Date.now;
    this.secrets = deps.secrets ?? Secrets.none;
    this.link = new ReconnectLoop(
      {
        retry: deps.retry,
        fallbackCode: ErrorCodes.METADATA,
        target: 'FluxionDB for metadata',
        authRefusedMessage: 'FluxionDB refused the API key or its scope for metadata writes: metadata stays queued until this is fixed',
      },
      { client: this.client, logger: this.logger, session: () => this.session(), now: this.now },
    );
  }

  /** Opens the outbox, records the static metadata, starts the schedules and the connection. Safe to call twice. */
  start(): void {
    if (this.link.started) return;
    this.outbox = new KvOutbox(this.deps.queue.database, this.now);
    this.applyDesired();
    this.schedule();
    this.link.start();
  }

  /**
   * Stops the schedules and the connection; whatever is not acknowledged stays in the
   * outbox and goes out after a restart. Safe to call twice.
   */
  async stop(): Promise<void> {
    if (!this.link.stopping) this.unschedule();
    await this.link.stop();
    for (const w of this.idleWaiters.splice(0)) w();
  }

  /**
   * The metadata pairs of `kind: metadata` rules (IngestSink's `onMetadata`). Called after
   * the readings of the same messages were committed; never throws (a write failure, e.g.
   * a full disk, loses these pairs and is logged).
   */
  onMetadata(pairs: readonly MetadataPair[]): void {
    if (this.outbox === null || this.link.stopping) return;
    const writes: KvWrite[] = [];
    for (const p of pairs) {
      const key = metadataKey(this.options.keyTemplate, p.device, p.key);
      if (p.value.length === 0 || this.secrets.heldBy(p.value) || this.configKeys.has(key)) {
        this.counters.skipped++;
        continue;
      }
      writes.push({ col: this.options.collection, key, value: p.value, source: 'dynamic' });
    }
    this.enqueue(writes, 'dynamic');
  }

  /**
   * Applies new options live (config reload): static metadata, prune, collection, key
   * template, schedules. A resync follows at once.
   */
  reconfigure(options: MetadataOptions): void {
    const schedulesChanged =
      options.resyncSchedule !== this.options.resyncSchedule ||
      options.heartbeat.enabled !== this.options.heartbeat.enabled ||
      options.heartbeat.schedule !== this.options.heartbeat.schedule;
    this.options = options;
    if (this.outbox === null || this.link.stopping) return;
    if (schedulesChanged) {
      this.unschedule();
      this.schedule();
    }
    this.applyDesired();
    this.requestResync();
  }

  /** Asks for a full resync as soon as the connection allows. */
  requestResync(): void {
    this.resyncWanted = true;
    this.wake();
  }

  /** Writes the heartbeat keys (through the outbox). */
  heartbeat(): void {
    if (this.outbox === null || this.link.stopping) return;
    let facts;
    try {
      const q = this.deps.queue.stats();
      facts = { now: this.now(), version: this.deps.version, queueDepth: q.depth, oldestUnsentAgeMs: q.oldestUnsentAgeMs };
    } catch (err) {
      this.warnings.warn('heartbeat', { err: (err as Error).message }, 'metadata heartbeat skipped: queue stats unavailable');
      return;
    }
    this.counters.heartbeats++;
    const col = this.options.collection;
    const pairs = heartbeatPairs(this.options.keyTemplate, this.options.gatewayId, facts);
    this.enqueue(pairs.map((p) => ({ col, key: p.key, value: p.value, source: 'heartbeat' as const })), 'heartbeat');
  }

  /**
   * Resolves once a resync ran and nothing is pending (failed writes do not count), or
   * when stopped. For `fluxion-edge metadata sync` and tests.
   */
  whenIdle(): Promise<void> {
    if (this.link.stopping) return Promise.resolve();
    this.requestResync();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Every key of the outbox with its state (synced, pending, failed), for the console. */
  entries(): KvEntry[] {
    return this.outbox?.entries(this.options.collection) ?? [];
  }

  status(): MetadataStatus {
    if (this.outbox !== null) {
      try {
        this.lastCounts = this.outbox.counts();
      } catch {
        // The queue is closed (stopping): the last counts stand.
      }
    }
    return {
      state: this.link.state as MetadataState,
      collection: this.options.collection,
      inSync: this.lastCounts.acked,
      pending: this.lastCounts.pending,
      failed: this.lastCounts.failed,
      ...this.counters,
      lastResyncAt: this.lastResyncAt,
      lastError: this.link.lastError,
    };
  }

  // ---- desired state ---------------------------------------------------------------

  /**
   * Records the static metadata; keys the agent wrote that are no longer wanted are pruned
   * or retired. `announce`: count and log the fields left out (once per config, not per resync).
   */
  private applyDesired(announce = true): void {
    const o = this.options;
    this.configKeys = new Set(Object.entries(o.devices).flatMap(([device, fields]) => Object.keys(fields).map((f) => metadataKey(o.keyTemplate, device, f))));
    const { pairs, skipped } = staticPairs(o.devices, o.keyTemplate, this.secrets);
    if (announce) this.counters.skipped += skipped.length;
    for (const s of announce ? skipped : []) {
      this.logger.warn({ device: s.device, field: s.field, reason: s.reason }, s.reason === 'empty'
        ? 'static metadata field left out: empty values cannot be stored in FluxionDB'
        : 'static metadata field left out: its value holds a secret of the config');
    }
    this.enqueue(pairs.map((p) => ({ col: o.collection, key: p.key, value: p.value, source: 'static' as const })), 'static');
    const wanted = new Set(pairs.map((p) => p.key));
    if (o.heartbeat.enabled) for (const k of heartbeatKeys(o.keyTemplate, o.gatewayId)) wanted.add(k);
    const stale: KvKey[] = [];
    try {
      for (const e of this.outbox!.entries()) {
        if (e.source === 'dynamic' || e.op === 'delete') continue;
        if (e.col !== o.collection || !wanted.has(e.key)) stale.push({ col: e.col, key: e.key });
      }
      const n = this.outbox!.remove(stale, o.prune);
      if (n > 0) {
        this.logger.info({ keys: stale.map((k) => k.key), prune: o.prune }, o.prune
          ? 'metadata keys no longer in the config will be deleted (prune: true)'
          : 'metadata keys no longer in the config are left on the server (prune: false)');
      }
    } catch (err) {
      this.noteError(err);
      this.logger.error({ err: (err as Error).message }, 'cannot record metadata changes in the queue file; will retry at the next resync');
    }
  }

  private enqueue(writes: KvWrite[], what: string): void {
    if (writes.length === 0) return;
    try {
      if (this.outbox!.set(writes) > 0) this.wake();
    } catch (err) {
      this.noteError(err);
      this.warnings.warn(`enqueue:${what}`, { err: (err as Error).message, pairs: writes.length }, 'cannot record metadata in the queue file; these values were not stored');
    }
  }

  private schedule(): void {
    if (this.deps.schedules === false) return;
    const o = this.options;
    this.tasks.push(cron.schedule(o.resyncSchedule, () => this.requestResync()));
    if (o.heartbeat.enabled) this.tasks.push(cron.schedule(o.heartbeat.schedule, () => this.heartbeat()));
  }

  private unschedule(): void {
    // destroy() also removes the task from node-cron's registry.
    for (const t of this.tasks.splice(0)) void Promise.resolve(t.destroy()).catch(() => undefined);
  }

  // ---- connection ------------------------------------------------------------------

  /** What the sync does on a live connection (the loop around it: shared/reconnect-loop.ts). */
  private session(): Promise<PumpOutcome> {
    this.resyncWanted = true;
    return this.pump();
  }

  private async pump(): Promise<PumpOutcome> {
    for (;;) {
      if (this.link.stopping) return 'stopping';
      if (this.link.connectionLost) return 'lost';
      if (this.resyncWanted) {
        this.resyncWanted = false;
        const r = await this.resync();
        if (r !== 'ok') return r;
        continue;
      }
      let batch: KvEntry[];
      try {
        batch = this.outbox!.pending(WINDOW);
      } catch (err) {
        this.noteError(err);
        return 'stopping';
      }
      if (batch.length === 0) {
        for (const w of this.idleWaiters.splice(0)) w();
        await this.waitForWake();
        continue;
      }
      const outcomes = await Promise.all(batch.map((e) => this.write(e)));
      if (outcomes.includes('auth')) return 'auth';
      if (outcomes.includes('lost')) return this.link.stopping ? 'stopping' : 'lost';
    }
  }

  /** Compares the collection on the server with what is wanted and queues what differs. */
  private async resync(): Promise<'ok' | PumpOutcome> {
    const col = this.options.collection;
    let server: Record<string, string>;
    try {
      server = await this.client.getValues({ col }, { timeoutMs: this.deps.retry.requestTimeoutMs });
    } catch (err) {
      const o = classify(err);
      this.noteError(err);
      if (o === 'auth') return 'auth';
      if (o === 'lost' || o === 'retry') return this.link.stopping ? 'stopping' : 'lost';
      this.logger.error({ err: (err as Error).message }, 'metadata resync failed: FluxionDB refused getValues; will retry at the next resync');
      return 'ok';
    }
    try {
      // Again, in case recording them failed before (e.g. a full disk).
      this.applyDesired(false);
      this.outbox!.retryFailed();
      const differ = this.outbox!
        .entries(col)
        .filter((e) => e.op === 'set' && !e.retired && e.state === 'acked' && server[e.key] !== e.value)
        .map((e) => ({ col, key: e.key }));
      const n = this.outbox!.resend(differ);
      if (n > 0) this.logger.info({ keys: differ.map((k) => k.key) }, 'metadata resync: server values differ; writing them again');
    } catch (err) {
      this.noteError(err);
      this.logger.error({ err: (err as Error).message }, 'metadata resync could not update the outbox');
    }
    this.counters.resyncs++;
    this.lastResyncAt = this.now();
    return 'ok';
  }

  private async write(e: KvEntry): Promise<WriteOutcome> {
    const opts = { timeoutMs: this.deps.retry.requestTimeoutMs };
    try {
      if (e.op === 'set') await this.client.setValue({ col: e.col, key: e.key, value: e.value! }, opts);
      else await this.client.deleteValue({ col: e.col, key: e.key }, opts);
    } catch (err) {
      return this.onWriteFailure(e, err);
    }
    this.verdicts.succeeded(e);
    if (e.op === 'set') this.counters.written++;
    else this.counters.deleted++;
    try {
      this.outbox!.ack(e);
    } catch (err) {
      // Still pending in the file: it is written again later, which is harmless.
      this.noteError(err);
    }
    return 'ok';
  }

  private onWriteFailure(e: KvEntry, err: unknown): WriteOutcome {
    this.noteError(err);
    const v = this.verdicts.judge(e, err, this.link.stopping);
    if (v.setAside !== null) this.safeFail(e, v.setAside);
    if (v.poison) this.logger.error({ key: e.key, op: e.op }, 'metadata write set aside: the connection closed each time it was sent');
    else if (v.outcome === 'failed') this.logger.error({ key: e.key, op: e.op, err: v.setAside }, 'FluxionDB refused a metadata write; retried at the next resync');
    return v.outcome;
  }

  private safeFail(e: KvEntry, message: string): void {
    try {
      this.outbox!.fail(e, message);
    } catch (err) {
      this.noteError(err);
    }
  }

  private noteError(err: unknown): void {
    this.link.noteError(err);
  }

  private wake(): void {
    this.link.wake();
  }

  private waitForWake(): Promise<void> {
    return this.link.waitForWake();
  }
}
