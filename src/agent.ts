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
import type { FluxionClientOptions } from './client/types.js';
import { remapper } from './pipeline/dead-letter-remap.js';
import { IngestReport } from './pipeline/ingest-report.js';
import { IngestSink, type IngestCounters } from './pipeline/ingest-sink.js';
import { ModbusInput, type ModbusBusOptions } from './inputs/modbus/index.js';
import { EmbeddedBroker, MqttInput, type EmbeddedBrokerOptions, type MqttInputOptions } from './inputs/mqtt/index.js';
import { SerialInput, type SerialPortOptions } from './inputs/serial/index.js';
import type { InputStatus } from './inputs/types.js';
import { compileRules, RECENT_READINGS, type MappingContext, type RuleSet } from './mapping/index.js';
import type { MapResult, MappingCounters, MappingOptions, MappingRuleSpec, MetadataPair, RawMessage } from './mapping/types.js';
import { ReportStage, type RuleReportCounters } from './mapping/report/index.js';
import { MetadataSync } from './metadata/metadata-sync.js';
import type { MetadataOptions, MetadataStatus } from './metadata/types.js';
import { capWarning, SqliteQueue, type DiskStatus, type QueueOptions, type QueueStats, type RetryDeadLettersResult } from './queue/index.js';
import { Sender } from './sender/sender.js';
import type { SenderOptions, SenderStatus } from './sender/types.js';
import { RateLimitedLog } from './shared/rate-limited-log.js';
import { displayUrl, Secrets } from './shared/secrets.js';
import { replayContext } from './sparkplug/replay-context.js';
import { SparkplugHost } from './sparkplug/sparkplug-host.js';
import type { SparkplugHostOptions, SparkplugStatus } from './sparkplug/types.js';
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
    /** Sparkplug host settings, when a rule has `format: sparkplug_b`. */
    sparkplug?: SparkplugHostOptions;
  };
  /** One entry per serial port; its rules carry `port: <name>`. */
  serial?: Array<{ input: SerialPortOptions; rules: MappingRuleSpec[] }>;
  /** One entry per Modbus bus; its rules listen on each device's `modbus:<bus>:<device>`. */
  modbus?: Array<{ input: ModbusBusOptions; rules: MappingRuleSpec[] }>;
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
  private modbus: ModbusInput[] = [];
  /** Sparkplug B host side (alias tables persisted, rebirths, STATE); null without Sparkplug rules. */
  private sparkplug: SparkplugHost | null = null;
  /** Device metadata in the KV store, on a connection of its own; null without metadata settings. */
  readonly metadata: MetadataSync | null;

  constructor(
    private readonly settings: AgentSettings,
    private readonly logger: Logger,
    private inputs: AgentInputSettings = { mapping: {} },
    metadata?: MetadataOptions,
    /** What must never leave the process (EdgeSettings.secrets): kept out of metadata and MQTT errors. */
    private readonly secrets: Secrets = Secrets.none,
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
            secrets,
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
    await this.startInputs();
  }

  private async startInputs(): Promise<void> {
    const mqtt = this.inputs.mqtt;
    const serial = this.inputs.serial ?? [];
    const modbus = this.inputs.modbus ?? [];
    if (mqtt === undefined && serial.length === 0 && modbus.length === 0) return;
    if (mqtt?.sparkplug !== undefined) {
      this.sparkplug = new SparkplugHost(mqtt.sparkplug, { queue: this.queue, logger: this.logger.child({ component: 'sparkplug' }) });
      this.sparkplug.start();
    }
    // One rule set for every input, so one sink (and one collision guard) serves them all.
    const specs = allRules(this.inputs);
    this.rules = compileRules(specs, this.inputs.mapping, this.mappingContext());
    // What the broker may redeliver after a crash is among the newest rows: a redelivery is then the same reading.
    this.rules.remember(this.queue.newestRecords(RECENT_READINGS));
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
      const input = new SerialInput(s.input, { sink: this.sink, logger: this.logger.child({ component: 'serial' }) });
      this.serial.push(input);
      await input.start();
    }
    for (const m of modbus) {
      const input = new ModbusInput(m.input, {
        sink: this.sink,
        logger: this.logger.child({ component: 'modbus', bus: m.input.name }),
        metadata: (pairs) => this.metadata?.onMetadata(pairs),
      });
      this.modbus.push(input);
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
    const subscriptions = this.mqttSubscriptions(this.rules!);
    this.mqttOptions = input;
    this.mqtt = new MqttInput({ ...input, subscriptions }, this.mqttDeps(sink));
    await this.mqtt.start();
    this.logger.info({ component: 'mqtt', url: displayUrl(input.url), subscriptions: subscriptions.map((s) => s.filter) }, 'MQTT input started');
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
    const specs = allRules(inputs);
    const rules = compileRules(specs, inputs.mapping, this.mappingContext());
    rules.remember(this.queue.newestRecords(RECENT_READINGS));
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
    const subscriptions = this.mqttSubscriptions(rules);
    // Every filter ever dropped and not back: an input replaced before it connected never
    // sent its UNSUBSCRIBE, and sending one for a filter already gone costs nothing.
    for (const f of previous) this.removedFilters.add(f.filter);
    for (const f of subscriptions) this.removedFilters.delete(f.filter);
    const unsubscribe = [...this.removedFilters];
    this.mqtt = new MqttInput({ ...this.mqttOptions, subscriptions, unsubscribe }, this.mqttDeps(this.sink));
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

  /**
   * Maps a message with the running rules, as `fluxion-edge map` does, and queues nothing.
   * A fresh rule set each time, so a trial touches neither the live counters nor the
   * collision guard (the same payload tried twice maps the same way twice).
   */
  previewMapping(message: RawMessage): MapResult {
    return compileRules(allRules(this.inputs), this.inputs.mapping, replayContext(this.queue)).map({ ...message, replayed: true });
  }

  /** MQTT filters and serial ports the running rules listen to. */
  mappingTargets(): { topics: string[]; ports: string[] } {
    if (this.rules === null) return { topics: [], ports: [] };
    return { topics: this.rules.mqttFilters().map((f) => f.filter), ports: this.rules.serialPorts() };
  }

  /**
   * Queues dead letters again: a stored record as it is, a raw MQTT or serial payload mapped
   * by the running rules (one that still maps to nothing stays where it is). Removal and
   * append share one transaction. Metadata pairs the mapping yields go to the metadata sync.
   */
  retryDeadLetters(ids: readonly number[]): RetryDeadLettersResult {
    // Pairs go to the metadata sync after the transaction, so that its outbox write is its own.
    const pairs: MetadataPair[] = [];
    const { remap } = remapper({ rules: allRules(this.inputs), mapping: this.inputs.mapping, context: replayContext(this.queue), onMetadata: (p) => pairs.push(...p) });
    const result = this.queue.retryDeadLetters({ ids, remap });
    if (result.records > 0) this.sender.notify(result.records);
    if (pairs.length > 0) this.metadata?.onMetadata(pairs);
    return result;
  }


  /** The embedded broker's URL once started (devices publish there), else null. */
  get embeddedBrokerUrl(): string | null {
    return this.broker?.url ?? null;
  }

  status(): AgentStatus {
    return {
      queue: this.queue.stats(),
      sender: this.sender.status(),
      inputs: [...(this.mqtt === null ? [] : [this.mqtt.status()]), ...this.serial.map((s) => s.status()), ...this.modbus.map((m) => m.status())],
      ingest: this.sink?.counters ?? { received: 0, committed: 0, deadLettered: 0 },
      mapping: this.rules?.counters ?? null,
      report: this.report?.counters() ?? [],
      ...(this.metadata !== null ? { metadata: this.metadata.status() } : {}),
      disk: this.queue.diskStatus(),
      ...(this.sparkplug !== null ? { sparkplug: this.sparkplug.status() } : {}),
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
    for (const m of this.modbus) await step(m.status().name, () => m.stop());
    for (const s of this.serial) await step(s.status().name, () => s.stop());
    await step('sparkplug', () => this.sparkplug?.stop());
    await step('mqtt', () => this.mqtt?.stop());
    await step('embedded-broker', () => this.broker?.stop());
    await step('metadata', () => this.metadata?.stop());
    await step('report', () => this.report?.stop());
    if (this.housekeeping !== null) clearInterval(this.housekeeping);
    await step('sender', () => this.sender.stop(this.settings.stopDeadlineMs));
    await step('queue', () => this.queue.stop());
    if (failed.length === 0) this.logger.info('agent stopped');
    else this.logger.warn({ failed }, 'agent stopped; some steps failed');
  }

  /** The rules' MQTT filters, and the Sparkplug primary host's own STATE topic (it watches it). */
  private mqttSubscriptions(rules: RuleSet): Array<{ filter: string; qos: 0 | 1 | 2 }> {
    return [...rules.mqttFilters(), ...(this.sparkplug?.filters() ?? [])];
  }

  /** What stateful formats keep across reloads (the Sparkplug decoder and its node state). */
  private mappingContext(): MappingContext {
    const sp = this.sparkplug;
    return sp === null ? {} : { sparkplug: sp.decoder, sparkplugCertificates: sp.options.retainedBirths };
  }

  /** The MQTT input's collaborators; with Sparkplug, the host's work after each commit, its STATE will and birth. */
  private mqttDeps(sink: IngestSink): ConstructorParameters<typeof MqttInput>[1] {
    const logger = this.logger.child({ component: 'mqtt' });
    const sp = this.sparkplug;
    if (sp === null) return { sink, logger, secrets: this.secrets };
    const queue = this.queue;
    sp.attach(
      { publish: (topic, payload, opts) => this.mqtt?.publish(topic, payload, opts) ?? Promise.resolve(false) },
      () => this.rules,
      // Writable: the input is not waiting for room, and a blocking queue has room.
      () => this.mqtt?.status().state !== 'waiting' && (queue.options.onFull !== 'block' || queue.hasRoom()),
    );
    const deps = { sink: sp.wrap(sink), logger, secrets: this.secrets, onReady: () => sp.onReady() };
    return sp.options.primaryHostId === null ? deps : { ...deps, will: () => sp.will()! };
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

/**
 * Every input's rules in the one order the agent compiles them (MQTT, serial, Modbus), so that
 * rule indexes agree wherever rules are compiled again (`map`, `dead-letter retry --config`).
 */
export function allRules(inputs: Pick<AgentInputSettings, 'mqtt' | 'serial' | 'modbus'>): MappingRuleSpec[] {
  return [...(inputs.mqtt?.rules ?? []), ...(inputs.serial ?? []).flatMap((s) => s.rules), ...(inputs.modbus ?? []).flatMap((m) => m.rules)];
}
