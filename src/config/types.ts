/** The loader's results: the resolved config tree and the component settings built from it. */
import type { AgentSettings } from '../agent.js';
import type { EmbeddedBrokerOptions, MqttInputOptions } from '../inputs/mqtt/types.js';
import type { SerialPortOptions } from '../inputs/serial/types.js';
import type { HealthOptions } from '../service/health.js';
import type { MappingOptions, MappingRuleSpec } from '../mapping/types.js';
import type { MetadataOptions } from '../metadata/types.js';
import type { ConfigWarning } from './problems.js';
import type { SparkplugHostOptions } from '../sparkplug/types.js';
import type { LOG_LEVELS, ParsedConfig } from './schema/index.js';

export type LogLevel = (typeof LOG_LEVELS)[number];

type DeepReadonly<T> = T extends (infer U)[]
  ? ReadonlyArray<DeepReadonly<U>>
  : T extends object
    ? { readonly [K in keyof T]: DeepReadonly<T[K]> }
    : T;

type P = ParsedConfig;
type Mqtt = NonNullable<P['mqtt']>;

/**
 * The validated config, snake_case as written, with every default applied: durations in ms,
 * sizes in bytes, file paths absolute, derived defaults (gateway.id, connection names,
 * retain_sent_bytes, the embedded broker's URL) filled in. Deeply frozen.
 */
export type EdgeConfig = DeepReadonly<
  Omit<P, 'gateway' | 'fluxiondb' | 'queue' | 'mqtt'> & {
    gateway: { id: string };
    fluxiondb: P['fluxiondb'] & { connection_name: string };
    queue: P['queue'] & { retain_sent_bytes: number };
    mqtt?: Omit<Mqtt, 'url' | 'client_id'> & { url: string; client_id: string };
  }
>;

/** Each component's own options, built from the config (secrets and PEM contents included). Deeply frozen. */
export interface EdgeSettings {
  gateway: { id: string };
  log: { level: LogLevel };
  agent: AgentSettings;
  mapping: MappingOptions;
  /** Present when the config has an `mqtt` section. */
  mqtt?: {
    input: MqttInputOptions;
    /** Present when `mqtt.embedded_broker` is set. */
    embeddedBroker?: EmbeddedBrokerOptions;
    /** The subscriptions, as mapping rules (defaults of qos, kind and format applied). */
    rules: MappingRuleSpec[];
    /** Sparkplug host settings; present when a subscription has `format: sparkplug_b`. */
    sparkplug?: SparkplugHostOptions;
  };
  /** One entry per port of the `serial` section (absent when there is none). */
  serial?: Array<{
    input: SerialPortOptions;
    /** The port's rules, each with `port` set to the port's name. */
    rules: MappingRuleSpec[];
  }>;
  /** Device metadata sync (static fields, dynamic rules' collection, heartbeat, schedules). */
  metadata: MetadataOptions;
  /** The health rule (for /healthz and the systemd watchdog) and the HTTP endpoint. */
  health: {
    /** Where to serve /healthz, /metrics and /status; null when `health.enabled` is false. */
    server: { host: string; port: number } | null;
    /** The health rule's options; `startedAt` is the agent's start, known only at run time. */
    rule: Omit<HealthOptions, 'startedAt'>;
  };
}

export interface LoadedConfig {
  config: EdgeConfig;
  settings: EdgeSettings;
  /** Valid but risky choices (world-readable secrets, clean sessions, synchronous: off). */
  warnings: ConfigWarning[];
}
