/**
 * The composition root: the one place that builds the agent's components from validated
 * settings and orders their start and stop. Components receive their options and their
 * collaborators here; none of them reaches for a global. The input side (rule set, ingest
 * sink, report stage, inputs, Sparkplug host) is wired by agent/input-wiring.ts, which this
 * file builds, starts and stops in its place in the order.
 *
 * Start order: queue, sender, metadata, embedded broker, inputs; stop in reverse, so that
 * nothing is taken in that cannot be committed, and nothing committed is lost.
 */
import type { Logger } from 'pino';
import { allRules, InputWiring, type AgentInputSettings } from './agent/input-wiring.js';
import { FluxionClient } from './client/index.js';
import type { FluxionClientOptions } from './client/types.js';
import type { InputStatus } from './inputs/types.js';
import type { MapResult, MappingCounters, MetadataPair, RawMessage } from './mapping/types.js';
import type { RuleReportCounters } from './mapping/report/index.js';
import { MetadataSync } from './metadata/metadata-sync.js';
import type { MetadataOptions, MetadataStatus } from './metadata/types.js';
import { remapper } from './pipeline/dead-letter-remap.js';
import type { IngestCounters } from './pipeline/ingest-sink.js';
import { capWarning, DEFAULT_DECODED_BLOCKS, SqliteQueue, type DiskStatus, type QueueOptions, type QueueStats, type RetryDeadLettersResult } from './queue/index.js';
import { Sender } from './sender/sender.js';
import type { SenderOptions, SenderStatus } from './sender/types.js';
import { RateLimitedLog } from './shared/rate-limited-log.js';
import { displayUrl, Secrets } from './shared/secrets.js';
import { replayContext } from './sparkplug/replay-context.js';
import type { SparkplugStatus } from './sparkplug/types.js';
import { version } from './version.js';

export { allRules, type AgentInputSettings } from './agent/input-wiring.js';

export interface AgentSettings {
  /** How the agent reaches FluxionDB. */
  fluxiondb: FluxionClientOptions;
  queue: QueueOptions;
  sender: SenderOptions;
  /** How often the queue prunes retained rows and aged readings, in ms. Default 10000. */
  housekeepingIntervalMs: number;
  /** How long a stop waits for batches in flight, in ms. Default 10000. */
  stopDeadlineMs: number;
}

export interface AgentStatus {
  queue: QueueStats;
  sender: SenderStatus;
  inputs: InputStatus[];
  ingest: IngestCounters;
  mapping: MappingCounters | null;
  /** Report by exception and windows, per rule that has them (empty when none has). */
  report?: RuleReportCounters[];
  /** Metadata sync; absent when the agent runs without it. */
  metadata?: MetadataStatus;
  /** The queue's filesystem (free space, full or not); absent before the queue started. */
  disk?: DiskStatus;
  /** Sparkplug B edge nodes and STATE; absent without `format: sparkplug_b` rules. */
  sparkplug?: SparkplugStatus;
}

export class Agent {
  readonly queue: SqliteQueue;
  readonly sender: Sender;
  private readonly client: FluxionClient;
  private readonly warnings: RateLimitedLog;
  private housekeeping: NodeJS.Timeout | null = null;
  private state: 'new' | 'started' | 'stopped' = 'new';
  /** The rule set, ingest sink, report stage, inputs and Sparkplug host (input-wiring.ts). */
  private readonly inputs: InputWiring;
  /** Device metadata in the KV store, on a connection of its own; null without metadata settings. */
  readonly metadata: MetadataSync | null;

  constructor(
    private readonly settings: AgentSettings,
    private readonly logger: Logger,
    inputs: AgentInputSettings = { mapping: {} },
    metadata?: MetadataOptions,
    /** What must never leave the process (EdgeSettings.secrets): kept out of metadata and MQTT errors. */
    secrets: Secrets = Secrets.none,
  ) {
    this.warnings = new RateLimitedLog(logger);
    // The block cache outlasts the sender's window, so that acks find their blocks decoded.
    const decodedBlocks = settings.queue.decodedBlocks ?? Math.max(DEFAULT_DECODED_BLOCKS, 2 * settings.sender.window);
    this.queue = new SqliteQueue({ ...settings.queue, decodedBlocks }, { logger: logger.child({ component: 'queue' }) });
    // The sender owns reconnection (its backoff, its resend after every reconnect), so the
    // client tries each connection once.
    this.client = new FluxionClient({ ...settings.fluxiondb, reconnect: false });
    this.sender = new Sender(settings.sender, {
      queue: this.queue,
      client: this.client,
      logger: logger.child({ component: 'sender' }),
    });
    const s = settings.sender;
    this.metadata =
      metadata === undefined
        ? null
        : new MetadataSync(metadata, {
            queue: this.queue,
            // A second, light connection: KV writes are rare and must not wait behind a backlog of batches.
            client: new FluxionClient({
              ...settings.fluxiondb,
              connectionName: `${settings.fluxiondb.connectionName ?? 'fluxion-edge'}-metadata`,
              reconnect: false,
            }),
            logger: logger.child({ component: 'metadata' }),
            version,
            secrets,
            retry: {
              backoffBaseMs: s.backoffBaseMs,
              backoffCapMs: s.backoffCapMs,
              backoffResetAfterMs: s.backoffResetAfterMs,
              authRetryMs: s.authRetryMs,
              requestTimeoutMs: s.requestTimeoutMs,
            },
          });
    this.inputs = new InputWiring(inputs, {
      queue: this.queue,
      notify: (n) => this.sender.notify(n),
      linkDown: () => !this.sender.connected(),
      metadata: this.metadata,
      logger,
      warnings: this.warnings,
      secrets,
    });
  }

  async start(): Promise<void> {
    if (this.state !== 'new') return;
    this.state = 'started';
    const info = this.queue.start();
    if (info.corrupt !== null) {
      this.logger.error(
        { component: 'queue', movedTo: info.corrupt.movedTo, reason: info.corrupt.reason },
        'QUEUE FILE WAS CORRUPT: it was moved aside and a fresh queue started; readings it held were not sent (recover them from the moved file)',
      );
    }
    this.queue.on('dropped', (e: { reason: string; count: number }) =>
      this.warnings.warn(`dropped:${e.reason}`, { component: 'queue', reason: e.reason, count: e.count }, 'queue dropped readings'),
    );
    this.watchDisk();
    const stats = this.queue.stats();
    const disk = this.queue.diskStatus();
    this.logger.info(
      { component: 'queue', path: this.settings.queue.path, depth: stats.depth, schema: info.schemaVersion, migratedFrom: info.migratedFrom, maxBytes: disk.maxBytes, freeBytes: disk.freeBytes },
      'queue ready',
    );
    const tight = capWarning(this.settings.queue.path, this.settings.queue.maxBytes ?? 'auto');
    if (tight !== null) this.logger.warn({ component: 'queue', path: this.settings.queue.path }, tight);
    this.sender.start();
    this.logger.info({ component: 'sender', url: displayUrl(this.settings.fluxiondb.url) }, 'sender started');
    this.housekeeping = setInterval(() => this.prune(), this.settings.housekeepingIntervalMs);
    this.housekeeping.unref();
    if (this.metadata !== null) {
      this.metadata.start();
      this.logger.info({ component: 'metadata', collection: this.metadata.status().collection }, 'metadata sync started');
    }
    await this.inputs.start();
  }

  /**
   * Applies new mappings live (SIGHUP). The rule set is swapped under the inputs and the
   * queue is untouched. When the MQTT topic filters changed, the MQTT input is restarted
   * with the new subscriptions: held messages are committed and acknowledged first, and the
   * broker keeps what arrives meanwhile for the persistent session. Inputs, ports and
   * connections themselves change only with a restart (the caller reports that).
   */
  async reloadInputs(inputs: AgentInputSettings): Promise<{ resubscribed: boolean }> {
    if (this.state !== 'started') return { resubscribed: false };
    return this.inputs.reload(inputs);
  }

  /**
   * Applies new metadata settings live (SIGHUP): static fields, prune, collection, key
   * template and schedules; a resync follows. Without metadata sync it does nothing.
   */
  reloadMetadata(options: MetadataOptions): void {
    if (this.state === 'started') this.metadata?.reconfigure(options);
  }

  /**
   * Maps a message with the running rules, as `fluxion-edge map` does, and queues nothing.
   * A fresh rule set each time, so a trial touches neither the live counters nor the
   * collision guard (the same payload tried twice maps the same way twice).
   */
  previewMapping(message: RawMessage): MapResult {
    return this.inputs.previewMapping(message);
  }

  /** MQTT filters and serial ports the running rules listen to. */
  mappingTargets(): { topics: string[]; ports: string[] } {
    return this.inputs.mappingTargets();
  }

  /**
   * Queues dead letters again: a stored record as it is, a raw MQTT or serial payload mapped
   * by the running rules (one that still maps to nothing stays where it is). Removal and
   * append share one transaction. Metadata pairs the mapping yields go to the metadata sync.
   */
  retryDeadLetters(ids: readonly number[]): RetryDeadLettersResult {
    // Pairs go to the metadata sync after the transaction, so that its outbox write is its own.
    const pairs: MetadataPair[] = [];
    const settings = this.inputs.settings;
    const { remap } = remapper({ rules: allRules(settings), mapping: settings.mapping, context: replayContext(this.queue), onMetadata: (p) => pairs.push(...p) });
    const result = this.queue.retryDeadLetters({ ids, remap });
    if (result.records > 0) this.sender.notify(result.records);
    if (pairs.length > 0) this.metadata?.onMetadata(pairs);
    return result;
  }


  /** The embedded broker's URL once started (devices publish there), else null. */
  get embeddedBrokerUrl(): string | null {
    return this.inputs.embeddedBrokerUrl;
  }

  status(): AgentStatus {
    return {
      queue: this.queue.stats(),
      sender: this.sender.status(),
      inputs: this.inputs.inputStatuses(),
      ingest: this.inputs.ingestCounters(),
      mapping: this.inputs.mappingCounters(),
      report: this.inputs.reportCounters(),
      ...(this.metadata !== null ? { metadata: this.metadata.status() } : {}),
      disk: this.queue.diskStatus(),
      ...this.inputs.sparkplugStatus(),
    };
  }

  /**
   * Stops everything in the reverse order of start. Each step stops on its own: one that
   * throws is logged and the next one runs all the same, so a failing input never keeps the
   * sender from draining, and the queue (SQLite) is closed last whatever happened. Never
   * rejects; the steps that failed are in the log (and in the 'agent stopped' line).
   */
  async stop(): Promise<void> {
    if (this.state !== 'started') {
      this.state = 'stopped';
      return;
    }
    this.state = 'stopped';
    const failed: string[] = [];
    const step = async (name: string, run: () => unknown): Promise<void> => {
      try {
        await run();
      } catch (err) {
        failed.push(name);
        this.logger.error({ step: name, err: err instanceof Error ? err.message : String(err) }, 'a stop step failed; stopping the rest');
      }
    };
    // Inputs first: no more acks upstream for anything that could not be committed.
    await this.inputs.stopInputs(step);
    await step('metadata', () => this.metadata?.stop());
    await step('report', () => this.inputs.stopReport());
    if (this.housekeeping !== null) clearInterval(this.housekeeping);
    await step('sender', () => this.sender.stop(this.settings.stopDeadlineMs));
    await step('queue', () => this.queue.stop());
    if (failed.length === 0) this.logger.info('agent stopped');
    else this.logger.warn({ failed }, 'agent stopped; some steps failed');
  }

  private prune(): void {
    try {
      this.queue.prune();
    } catch (err) {
      this.warnings.warn('prune', { component: 'queue', err: (err as Error).message }, 'queue housekeeping failed; will retry');
    }
    const disk = this.queue.diskStatus();
    if (disk.full) {
      this.warnings.warn(
        'disk-full',
        { component: 'queue', freeBytes: disk.freeBytes, pendingAcks: disk.pendingAcks, depth: this.queue.stats().depth },
        'DISK FULL: still no room on the queue\'s filesystem; sending goes on, new readings are held back (MQTT) or dropped (serial) as on_full says',
      );
    }
  }

  /** Says when the queue's disk fills and when it has room again (bounded: one line per change, at most every 10 s). */
  private watchDisk(): void {
    this.queue.on('disk', (e) => {
      const fields = { component: 'queue', why: e.why, freeBytes: e.status.freeBytes, fileCapBytes: e.status.maxBytes, pendingAcks: e.status.pendingAcks };
      if (e.full) {
        this.warnings.warn(
          'disk-full',
          fields,
          'DISK FULL: the queue freed its reserve, pruned sent readings and confined its file; new readings are held back or dropped as on_full says until there is room (free space on the queue\'s filesystem)',
        );
      } else {
        this.logger.info(fields, 'disk has room again: the queue takes new readings');
      }
    });
  }
}
