/**
 * The composition root: the one place that builds the agent's components from validated
 * settings and orders their start and stop. Components receive their options and their
 * collaborators here; none of them reaches for a global.
 *
 * Start order: queue, sender, metadata, embedded broker, inputs; stop in reverse, so that
 * nothing is taken in that cannot be committed, and nothing committed is lost.
 */
import { isDeepStrictEqual } from 'node:util';
import type { Logger } from 'pino';
import { FluxionClient } from './client/index.js';
import type { FluxionClientOptions, FluxionRecord } from './client/types.js';
import { IngestReport } from './ingest-report.js';
import { IngestSink, type IngestCounters } from './ingest-sink.js';
import { EmbeddedBroker, MqttInput, type EmbeddedBrokerOptions, type MqttInputOptions } from './inputs/mqtt/index.js';
import { SerialInput, type SerialPortOptions } from './inputs/serial/index.js';
import type { InputStatus } from './inputs/types.js';
import { compileRules, type RuleSet } from './mapping/index.js';
import { ReportStage, type RuleReportCounters } from './mapping/report/index.js';
import type { MappingCounters, MappingOptions, MappingRuleSpec } from './mapping/types.js';
import { MetadataSync } from './metadata/metadata-sync.js';
import type { MetadataOptions, MetadataStatus } from './metadata/types.js';
import { SqliteQueue, type AppendResult, type QueueOptions, type QueueStats } from './queue/index.js';
import { Sender } from './sender/sender.js';
import type { SenderOptions, SenderStatus } from './sender/types.js';
import { RateLimitedLog } from './service/logger.js';
import { version } from './version.js';

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

/** What feeds the agent: the mapping engine's options and the inputs that are configured. */
export interface AgentInputSettings {
  mapping: MappingOptions;
  mqtt?: {
    input: MqttInputOptions;
    /** Start an in-process broker first and point the input at it. */
    embeddedBroker?: EmbeddedBrokerOptions;
    rules: MappingRuleSpec[];
  };
  /** One entry per serial port; its rules carry `port: <name>`. */
  serial?: Array<{ input: SerialPortOptions; rules: MappingRuleSpec[] }>;
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
}

export class Agent {
  readonly queue: SqliteQueue;
  readonly sender: Sender;
  private readonly client: FluxionClient;
  private readonly warnings: RateLimitedLog;
  private housekeeping: NodeJS.Timeout | null = null;
  private state: 'new' | 'started' | 'stopped' = 'new';
  private rules: RuleSet | null = null;
  private sink: IngestSink | null = null;
  private report: IngestReport | null = null;
  private broker: EmbeddedBroker | null = null;
  private mqtt: MqttInput | null = null;
  /** The MQTT input's options as started (the embedded broker's URL filled in). */
  private mqttOptions: MqttInputOptions | null = null;
  /** MQTT filters that reloads removed (see reloadInputs). */
  private readonly removedFilters = new Set<string>();
  private serial: SerialInput[] = [];
  /** Device metadata in the KV store, on a connection of its own; null without metadata settings. */
  readonly metadata: MetadataSync | null;

  constructor(
    private readonly settings: AgentSettings,
    private readonly logger: Logger,
    private inputs: AgentInputSettings = { mapping: {} },
    metadata?: MetadataOptions,
  ) {
    this.warnings = new RateLimitedLog(logger);
    this.queue = new SqliteQueue(settings.queue, { logger: logger.child({ component: 'queue' }) });
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
            secrets: [settings.fluxiondb.apiKey, inputs.mqtt?.input.password ?? ''],
            retry: {
              backoffBaseMs: s.backoffBaseMs,
              backoffCapMs: s.backoffCapMs,
              backoffResetAfterMs: s.backoffResetAfterMs,
              authRetryMs: s.authRetryMs,
              requestTimeoutMs: s.requestTimeoutMs,
            },
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
    const stats = this.queue.stats();
    this.logger.info({ component: 'queue', path: this.settings.queue.path, depth: stats.depth, schema: info.schemaVersion, migratedFrom: info.migratedFrom }, 'queue ready');
    this.sender.start();
    this.logger.info({ component: 'sender', url: redactedUrl(this.settings.fluxiondb.url) }, 'sender started');
    this.housekeeping = setInterval(() => this.prune(), this.settings.housekeepingIntervalMs);
    this.housekeeping.unref();
    if (this.metadata !== null) {
      this.metadata.start();
      this.logger.info({ component: 'metadata', collection: this.metadata.status().collection }, 'metadata sync started');
    }
    await this.startInputs();
  }

  private async startInputs(): Promise<void> {
    const mqtt = this.inputs.mqtt;
    const serial = this.inputs.serial ?? [];
    if (mqtt === undefined && serial.length === 0) return;
    // One rule set for every input, so one sink (and one collision guard) serves them all.
    const specs = [...(mqtt?.rules ?? []), ...serial.flatMap((s) => s.rules)];
    this.rules = compileRules(specs, this.inputs.mapping);
    this.report = this.startReport(specs, this.inputs.mapping);
    this.sink = new IngestSink(
      this.rules,
      this.queue,
      this.logger.child({ component: 'ingest' }),
      (n) => this.sender.notify(n),
      (pairs) => {
        if (this.metadata !== null) this.metadata.onMetadata(pairs);
        else this.warnings.warn('metadata-unsynced', { component: 'metadata', pairs: pairs.length }, 'metadata rules matched, but this agent runs without metadata sync; pairs were not stored');
      },
      this.report,
    );
    if (mqtt !== undefined) await this.startMqtt(mqtt, this.sink);
    for (const s of serial) {
      const input = new SerialInput(s.input, { sink: this.sink, logger: this.logger.child({ component: 'serial', port: s.input.name }) });
      this.serial.push(input);
      await input.start();
    }
  }

  private async startMqtt(mqtt: NonNullable<AgentInputSettings['mqtt']>, sink: IngestSink): Promise<void> {
    let input = mqtt.input;
    if (mqtt.embeddedBroker !== undefined) {
      this.broker = new EmbeddedBroker(mqtt.embeddedBroker, { logger: this.logger.child({ component: 'embedded-broker' }) });
      await this.broker.start();
      input = { ...input, url: this.broker.url };
      this.logger.info({ component: 'embedded-broker', url: this.broker.url }, 'embedded MQTT broker listening');
    }
    const subscriptions = this.rules!.mqttFilters();
    this.mqttOptions = input;
    this.mqtt = new MqttInput({ ...input, subscriptions }, { sink, logger: this.logger.child({ component: 'mqtt' }) });
    await this.mqtt.start();
    this.logger.info({ component: 'mqtt', url: redactedUrl(input.url), subscriptions: subscriptions.map((s) => s.filter) }, 'MQTT input started');
  }

  /**
   * The inputs' sink: commits records to the queue in one transaction and wakes the sender.
   * Returns only after the commit, so the caller may then acknowledge its source. Throws
   * `EDGE_ERR_QUEUE_FULL` (on_full: block) or `EDGE_ERR_QUEUE_DISK_FULL`: nothing was stored.
   */
  ingest(records: readonly FluxionRecord[]): AppendResult {
    const result = this.queue.append(records);
    if (result.accepted > 0) this.sender.notify(result.accepted);
    return result;
  }

  /**
   * Applies new mappings live (SIGHUP). The rule set is swapped under the inputs and the
   * queue is untouched. When the MQTT topic filters changed, the MQTT input is restarted
   * with the new subscriptions: held messages are committed and acknowledged first, and the
   * broker keeps what arrives meanwhile for the persistent session. Inputs, ports and
   * connections themselves change only with a restart (the caller reports that).
   */
  async reloadInputs(inputs: AgentInputSettings): Promise<{ resubscribed: boolean }> {
    if (this.state !== 'started' || this.sink === null || this.rules === null) return { resubscribed: false };
    const specs = [...(inputs.mqtt?.rules ?? []), ...(inputs.serial ?? []).flatMap((s) => s.rules)];
    const rules = compileRules(specs, inputs.mapping);
    const previous = this.rules.mqttFilters();
    const filtersChanged = !isDeepStrictEqual(previous, rules.mqttFilters());
    this.inputs = inputs;
    this.rules = rules;
    // Open windows are in the queue file as of the last commit: the new stage resumes them.
    this.report?.stop();
    this.report = this.startReport(specs, inputs.mapping);
    this.sink.replaceRules(rules, this.report);
    if (!filtersChanged || this.mqtt === null || this.mqttOptions === null) return { resubscribed: false };
    await this.mqtt.stop();
    const subscriptions = rules.mqttFilters();
    // Every filter ever dropped and not back: an input replaced before it connected never
    // sent its UNSUBSCRIBE, and sending one for a filter already gone costs nothing.
    for (const f of previous) this.removedFilters.add(f.filter);
    for (const f of subscriptions) this.removedFilters.delete(f.filter);
    const unsubscribe = [...this.removedFilters];
    this.mqtt = new MqttInput({ ...this.mqttOptions, subscriptions, unsubscribe }, { sink: this.sink, logger: this.logger.child({ component: 'mqtt' }) });
    await this.mqtt.start();
    this.logger.info({ component: 'mqtt', subscriptions: subscriptions.map((f) => f.filter) }, 'MQTT input resubscribed');
    return { resubscribed: true };
  }

  /**
   * Applies new metadata settings live (SIGHUP): static fields, prune, collection, key
   * template and schedules; a resync follows. Without metadata sync it does nothing.
   */
  reloadMetadata(options: MetadataOptions): void {
    if (this.state === 'started') this.metadata?.reconfigure(options);
  }

  /** The embedded broker's URL once started (devices publish there), else null. */
  get embeddedBrokerUrl(): string | null {
    return this.broker?.url ?? null;
  }

  status(): AgentStatus {
    return {
      queue: this.queue.stats(),
      sender: this.sender.status(),
      inputs: [...(this.mqtt === null ? [] : [this.mqtt.status()]), ...this.serial.map((s) => s.status())],
      ingest: this.sink?.counters ?? { received: 0, committed: 0, deadLettered: 0 },
      mapping: this.rules?.counters ?? null,
      report: this.report?.counters() ?? [],
      ...(this.metadata !== null ? { metadata: this.metadata.status() } : {}),
    };
  }

  async stop(): Promise<void> {
    if (this.state !== 'started') {
      this.state = 'stopped';
      return;
    }
    this.state = 'stopped';
    // Inputs first: no more acks upstream for anything that could not be committed.
    for (const s of this.serial) await s.stop();
    await this.mqtt?.stop();
    await this.broker?.stop();
    await this.metadata?.stop();
    this.report?.stop();
    if (this.housekeeping !== null) clearInterval(this.housekeeping);
    await this.sender.stop(this.settings.stopDeadlineMs);
    this.queue.stop();
    this.logger.info('agent stopped');
  }

  /** The report stage of the rules that have `report:` or `aggregate:`, started; null when none has. */
  private startReport(specs: MappingRuleSpec[], mapping: MappingOptions): IngestReport | null {
    const stage = ReportStage.build(specs, mapping);
    if (stage === null) return null;
    const report = new IngestReport(stage, this.queue, this.logger.child({ component: 'report' }), (n) => this.sender.notify(n));
    report.start();
    return report;
  }

  private prune(): void {
    try {
      this.queue.prune();
    } catch (err) {
      this.warnings.warn('prune', { component: 'queue', err: (err as Error).message }, 'queue housekeeping failed; will retry');
    }
  }
}

function redactedUrl(url: string): string {
  try {
    const u = new URL(url);
    u.search = '';
    return u.toString();
  } catch {
    return '(invalid url)';
  }
}
