/** The loader's results: the resolved config tree and the component settings built from it. */
import type { AgentInputSettings, AgentSettings } from '../agent.js';
import type { HealthOptions } from '../service/health.js';
import type { MappingOptions } from '../mapping/types.js';
import type { MetadataOptions } from '../metadata/types.js';
import type { Secrets } from '../shared/secrets.js';
import type { FileContents } from './files.js';
import type { ConfigWarning } from './problems.js';
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
  /**
   * Present when the config has an `mqtt` section: `embeddedBroker` when
   * `mqtt.embedded_broker` is set, the subscriptions as mapping rules (defaults of qos, kind
   * and format applied), `sparkplug` when a subscription has `format: sparkplug_b`.
   */
  mqtt?: AgentInputSettings['mqtt'];
  /** One entry per port of the `serial` section (absent when there is none); rules carry `port`. */
  serial?: AgentInputSettings['serial'];
  /** One entry per bus of the `modbus` section (absent when there is none). */
  modbus?: ModbusSettings[];
  /** Device metadata sync (static fields, dynamic rules' collection, heartbeat, schedules). */
  metadata: MetadataOptions;
  /** The health rule (for /healthz and the systemd watchdog) and the HTTP endpoint. */
  health: {
    /** Where to serve /healthz, /metrics and /status; null when `health.enabled` is false. */
    server: { host: string; port: number } | null;
    /** The health rule's options; `startedAt` is the agent's start, known only at run time. */
    rule: Omit<HealthOptions, 'startedAt'>;
  };
  /** The web console on the health listener; null when off (or when health is off). */
  console: {
    /** The access token; null on loopback without `token_file` (no login then). */
    token: string | null;
    /** Chart sampling interval, in ms. Default 5000. */
    sampleIntervalMs: number;
    /** Idle lifetime of a login session, in ms. Default 12 h. */
    sessionTtlMs: number;
  } | null;
  /** The values that must never leave the process (the API key, the MQTT password, one in the MQTT URL). */
  secrets: Secrets;
}

/** One Modbus bus: the input's options and the rules generated for its devices. */
export type ModbusSettings = NonNullable<AgentInputSettings['modbus']>[number];

export interface LoadedConfig {
  config: EdgeConfig;
  settings: EdgeSettings;
  /** Valid but risky choices (world-readable secrets, clean sessions, synchronous: off). */
  warnings: ConfigWarning[];
  /** What the files the config names held (secrets, PEM): a reload compares them too. */
  files: FileContents;
}
