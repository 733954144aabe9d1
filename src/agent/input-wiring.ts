/**
 * The agent's input side, wired by the composition root (agent.ts): the rule set every input
 * shares, the report stage, the ingest sink, the embedded broker, the MQTT, serial and Modbus
 * inputs and the Sparkplug host. Starts them after the queue, sender and metadata sync are up,
 * swaps rules live on a reload, and stops them as steps of the agent's stop, in its order.
 */
import { isDeepStrictEqual } from 'node:util';
import type { Logger } from 'pino';
import { ModbusInput, type ModbusBusOptions } from '../inputs/modbus/index.js';
import { EmbeddedBroker, MqttInput, type EmbeddedBrokerOptions, type MqttInputOptions } from '../inputs/mqtt/index.js';
import { SerialInput, type SerialPortOptions } from '../inputs/serial/index.js';
import type { InputStatus } from '../inputs/types.js';
import { compileRules, RECENT_READINGS, type MappingContext, type RuleSet } from '../mapping/index.js';
import type { MapResult, MappingCounters, MappingOptions, MappingRuleSpec, RawMessage } from '../mapping/types.js';
import { ReportStage, type RuleReportCounters } from '../mapping/report/index.js';
import type { MetadataSync } from '../metadata/metadata-sync.js';
import { IngestReport } from '../pipeline/ingest-report.js';
import { IngestSink, type IngestCounters } from '../pipeline/ingest-sink.js';
import type { SqliteQueue } from '../queue/index.js';
import type { RateLimitedLog } from '../shared/rate-limited-log.js';
import { displayUrl, type Secrets } from '../shared/secrets.js';
import { replayContext } from '../sparkplug/replay-context.js';
import { SparkplugHost } from '../sparkplug/sparkplug-host.js';
import type { SparkplugHostOptions, SparkplugStatus } from '../sparkplug/types.js';

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

/**
 * Every input's rules in the one order the agent compiles them (MQTT, serial, Modbus), so that
 * rule indexes agree wherever rules are compiled again (`map`, `dead-letter retry --config`).
 */
export function allRules(inputs: Pick<AgentInputSettings, 'mqtt' | 'serial' | 'modbus'>): MappingRuleSpec[] {
  return [...(inputs.mqtt?.rules ?? []), ...(inputs.serial ?? []).flatMap((s) => s.rules), ...(inputs.modbus ?? []).flatMap((m) => m.rules)];
}

/** One step of the agent's stop: runs `run`, logs and records it when it throws, never rejects. */
export type StopStep = (name: string, run: () => unknown) => Promise<void>;

/** What the input side uses of the components the agent built before it. */
export interface InputWiringDeps {
  queue: SqliteQueue;
  /** Wakes the sender for `n` newly queued records. */
  notify: (n: number) => void;
  /** True while the sender has no connection to FluxionDB (inputs may then gather bigger commits). */
  linkDown: () => boolean;
  metadata: MetadataSync | null;
  logger: Logger;
  /** The agent's rate-limited warnings. */
  warnings: RateLimitedLog;
  /** What must never leave the process: kept out of MQTT errors. */
  secrets: Secrets;
}

export class InputWiring {
  private rules: RuleSet | null = null;
  private sink: IngestSink | null = null;
  private report: IngestReport | null = null;
  private broker: EmbeddedBroker | null = null;
  private mqtt: MqttInput | null = null;
  /** The MQTT input's options as started (the embedded broker's URL filled in). */
  private mqttOptions: MqttInputOptions | null = null;
  /** MQTT filters that reloads removed (see reload). */
  private readonly removedFilters = new Set<string>();
  private serial: SerialInput[] = [];
  private modbus: ModbusInput[] = [];
  /** Sparkplug B host side (alias tables persisted, rebirths, STATE); null without Sparkplug rules. */
  private sparkplug: SparkplugHost | null = null;

  constructor(
    /** The settings in force (replaced by a reload). */
    private inputs: AgentInputSettings,
    private readonly deps: InputWiringDeps,
  ) {}

  /** The input settings in force. */
  get settings(): AgentInputSettings {
    return this.inputs;
  }

  async start(): Promise<void> {
    const { queue, logger } = this.deps;
    const mqtt = this.inputs.mqtt;
    const serial = this.inputs.serial ?? [];
    const modbus = this.inputs.modbus ?? [];
    if (mqtt === undefined && serial.length === 0 && modbus.length === 0) return;
    if (mqtt?.sparkplug !== undefined) {
      this.sparkplug = new SparkplugHost(mqtt.sparkplug, { queue, logger: logger.child({ component: 'sparkplug' }) });
      this.sparkplug.start();
    }
    // One rule set for every input, so one sink (and one collision guard) serves them all.
    const specs = allRules(this.inputs);
    this.rules = compileRules(specs, this.inputs.mapping, this.mappingContext());
    // What the broker may redeliver after a crash is among the newest rows: a redelivery is then the same reading.
    this.rules.remember(queue.newestRecords(RECENT_READINGS));
    this.report = this.startReport(specs, this.inputs.mapping);
    this.sink = new IngestSink(
      this.rules,
      queue,
      logger.child({ component: 'ingest' }),
      (n) => this.deps.notify(n),
      (pairs) => {
        if (this.deps.metadata !== null) this.deps.metadata.onMetadata(pairs);
        else this.deps.warnings.warn('metadata-unsynced', { component: 'metadata', pairs: pairs.length }, 'metadata rules matched, but this agent runs without metadata sync; pairs were not stored');
      },
      this.report,
      this.deps.linkDown,
    );
    if (mqtt !== undefined) await this.startMqtt(mqtt, this.sink);
    for (const s of serial) {
      const input = new SerialInput(s.input, { sink: this.sink, logger: logger.child({ component: 'serial' }) });
      this.serial.push(input);
      await input.start();
    }
    for (const m of modbus) {
      const input = new ModbusInput(m.input, {
        sink: this.sink,
        logger: logger.child({ component: 'modbus', bus: m.input.name }),
        metadata: (pairs) => this.deps.metadata?.onMetadata(pairs),
      });
      this.modbus.push(input);
      await input.start();
    }
  }

  private async startMqtt(mqtt: NonNullable<AgentInputSettings['mqtt']>, sink: IngestSink): Promise<void> {
    const { logger } = this.deps;
    let input = mqtt.input;
    if (mqtt.embeddedBroker !== undefined) {
      this.broker = new EmbeddedBroker(mqtt.embeddedBroker, { logger: logger.child({ component: 'embedded-broker' }) });
      await this.broker.start();
      input = { ...input, url: this.broker.url };
      logger.info({ component: 'embedded-broker', url: this.broker.url }, 'embedded MQTT broker listening');
    }
    const subscriptions = this.mqttSubscriptions(this.rules!);
    this.mqttOptions = input;
    this.mqtt = new MqttInput({ ...input, subscriptions }, this.mqttDeps(sink));
    await this.mqtt.start();
    logger.info({ component: 'mqtt', url: displayUrl(input.url), subscriptions: subscriptions.map((s) => s.filter) }, 'MQTT input started');
  }

  /** Agent.reloadInputs once the agent runs: see there. */
  async reload(inputs: AgentInputSettings): Promise<{ resubscribed: boolean }> {
    if (this.sink === null || this.rules === null) return { resubscribed: false };
    const specs = allRules(inputs);
    const rules = compileRules(specs, inputs.mapping, this.mappingContext());
    rules.remember(this.deps.queue.newestRecords(RECENT_READINGS));
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
    this.deps.logger.info({ component: 'mqtt', subscriptions: subscriptions.map((f) => f.filter) }, 'MQTT input resubscribed');
    return { resubscribed: true };
  }

  /** Agent.previewMapping: see there. */
  previewMapping(message: RawMessage): MapResult {
    return compileRules(allRules(this.inputs), this.inputs.mapping, replayContext(this.deps.queue)).map({ ...message, replayed: true });
  }

  /** MQTT filters and serial ports the running rules listen to. */
  mappingTargets(): { topics: string[]; ports: string[] } {
    if (this.rules === null) return { topics: [], ports: [] };
    return { topics: this.rules.mqttFilters().map((f) => f.filter), ports: this.rules.serialPorts() };
  }

  /** The embedded broker's URL once started, else null. */
  get embeddedBrokerUrl(): string | null {
    return this.broker?.url ?? null;
  }

  /** Each input's status: MQTT, serial ports, Modbus buses. */
  inputStatuses(): InputStatus[] {
    return [...(this.mqtt === null ? [] : [this.mqtt.status()]), ...this.serial.map((s) => s.status()), ...this.modbus.map((m) => m.status())];
  }

  ingestCounters(): IngestCounters {
    return this.sink?.counters ?? { received: 0, committed: 0, deadLettered: 0 };
  }

  mappingCounters(): MappingCounters | null {
    return this.rules?.counters ?? null;
  }

  reportCounters(): RuleReportCounters[] {
    return this.report?.counters() ?? [];
  }

  /** The Sparkplug host's status as the agent status's field; empty without Sparkplug rules. */
  sparkplugStatus(): { sparkplug?: SparkplugStatus } {
    return this.sparkplug !== null ? { sparkplug: this.sparkplug.status() } : {};
  }

  /** Stops the inputs (Modbus, serial, Sparkplug, MQTT, embedded broker), each as its own step. */
  async stopInputs(step: StopStep): Promise<void> {
    for (const m of this.modbus) await step(m.status().name, () => m.stop());
    for (const s of this.serial) await step(s.status().name, () => s.stop());
    await step('sparkplug', () => this.sparkplug?.stop());
    await step('mqtt', () => this.mqtt?.stop());
    await step('embedded-broker', () => this.broker?.stop());
  }

  /** Stops the report stage (after the inputs and the metadata sync). */
  stopReport(): void {
    this.report?.stop();
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
    const logger = this.deps.logger.child({ component: 'mqtt' });
    const sp = this.sparkplug;
    if (sp === null) return { sink, logger, secrets: this.deps.secrets };
    const queue = this.deps.queue;
    sp.attach(
      { publish: (topic, payload, opts) => this.mqtt?.publish(topic, payload, opts) ?? Promise.resolve(false) },
      () => this.rules,
      // Writable: the input is not waiting for room, and a blocking queue has room.
      () => this.mqtt?.status().state !== 'waiting' && (queue.options.onFull !== 'block' || queue.hasRoom()),
    );
    const deps = { sink: sp.wrap(sink), logger, secrets: this.deps.secrets, onReady: () => sp.onReady() };
    return sp.options.primaryHostId === null ? deps : { ...deps, will: () => sp.will()! };
  }

  /** The report stage of the rules that have `report:` or `aggregate:`, started; null when none has. */
  private startReport(specs: MappingRuleSpec[], mapping: MappingOptions): IngestReport | null {
    const stage = ReportStage.build(specs, mapping);
    if (stage === null) return null;
    const report = new IngestReport(stage, this.deps.queue, this.deps.logger.child({ component: 'report' }), (n) => this.deps.notify(n));
    report.start();
    return report;
  }
}
