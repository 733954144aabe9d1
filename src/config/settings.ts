/**
 * Maps the resolved config (snake_case, as written) onto each component's own options
 * (camelCase): the one place that knows both shapes.
 */
import type { TlsOptions } from '../client/types.js';
import { passwordInUrl, Secrets } from '../shared/secrets.js';
import { mqttSubscriptions } from '../mapping/index.js';
import type { MappingOptions, MappingRuleSpec } from '../mapping/types.js';
import type { FileContents, PemFiles } from './files.js';
import { modbusSettings } from './modbus-settings.js';
import { METADATA_DEFAULTS } from './schema/metadata.js';
import { serialPortName } from './schema/serial.js';
import type { EdgeConfig, EdgeSettings } from './types.js';
import type { MqttInputOptions } from '../inputs/mqtt/types.js';
import type { SparkplugHostOptions } from '../sparkplug/types.js';

export function buildSettings(config: EdgeConfig, files: FileContents): EdgeSettings {
  const db = config.fluxiondb;
  const q = config.queue;
  const s = config.sender;
  const mapping = structuredClone(config.mapping) as MappingOptions;
  const md = config.metadata ?? METADATA_DEFAULTS;
  const apiKey = db.api_key ?? files.apiKey ?? '';
  const mqttPassword = config.mqtt?.password ?? files.mqttPassword;
  const settings: EdgeSettings = {
    gateway: { id: config.gateway.id },
    log: { level: config.log.level },
    agent: {
      fluxiondb: {
        url: db.url,
        apiKey,
        connectionName: db.connection_name,
        requestTimeoutMs: db.request_timeout,
        connectTimeoutMs: db.connect_timeout,
        maxFrameBytes: db.max_frame_bytes,
        compression: db.compression,
        ...(db.tls !== undefined ? { tls: tlsOptions(files.fluxiondbTls, db.tls.reject_unauthorized) as TlsOptions } : {}),
      },
      queue: {
        path: q.path,
        synchronous: q.synchronous,
        maxBytes: q.max_bytes,
        maxRows: q.max_rows,
        maxAgeMs: q.max_age,
        stageFlushMs: q.stage_flush,
        onFull: q.on_full,
        retainSentMs: q.retain_sent,
        retainSentBytes: q.retain_sent_bytes,
        deadLetterMaxRows: q.dead_letter_max_rows,
        ...(q.max_file_bytes !== undefined ? { maxFileBytes: q.max_file_bytes } : {}),
        startupCheck: q.startup_check,
      },
      sender: {
        batchMaxRecords: s.batch_max_records,
        batchMaxBytes: s.batch_max_bytes,
        lingerMs: s.linger,
        window: s.window,
        requestTimeoutMs: s.request_timeout,
        backoffBaseMs: s.backoff.base,
        backoffCapMs: s.backoff.cap,
        backoffResetAfterMs: s.backoff.reset_after,
        authRetryMs: s.auth_retry,
        maxRecordsPerSecond: s.max_records_per_second,
        maxBytesPerSecond: s.max_bytes_per_second,
        order: s.order,
        resendAfterReconnectMs: s.resend_after_reconnect,
      },
      housekeepingIntervalMs: s.housekeeping_interval,
      stopDeadlineMs: s.stop_deadline,
    },
    mapping,
    metadata: {
      collection: md.collection,
      keyTemplate: md.key_template,
      devices: structuredClone(md.devices) as Record<string, Record<string, unknown>>,
      prune: md.prune,
      resyncSchedule: md.resync,
      heartbeat: { enabled: md.heartbeat.enabled, schedule: md.heartbeat.schedule },
      gatewayId: config.gateway.id,
    },
    health: {
      server: config.health.enabled ? { host: config.health.host, port: config.health.port } : null,
      // With max_bytes: auto the health rule reads the cap the queue chose (status.disk.maxBytes).
      rule: { staleAfterMs: config.health.stale_after, ...(q.max_bytes !== 'auto' ? { queueMaxBytes: q.max_bytes } : {}), queueMaxRows: q.max_rows },
    },
    console:
      config.console.enabled && config.health.enabled
        ? {
            token: files.consoleToken ?? null,
            sampleIntervalMs: config.console.sample_interval,
            sessionTtlMs: config.console.session_ttl,
          }
        : null,
    // Built here once, the one place that knows where secrets are; passed to all that prints or stores text.
    secrets: new Secrets([apiKey, mqttPassword, config.mqtt === undefined ? undefined : passwordInUrl(config.mqtt.url), files.consoleToken]),
  };
  const m = config.mqtt;
  if (m !== undefined) {
    const rules = structuredClone(m.subscriptions) as MappingRuleSpec[];
    const password = mqttPassword;
    settings.mqtt = {
      input: withDerivedSubscriptions(rules, {
        url: m.url,
        clientId: m.client_id,
        ...(m.username !== undefined ? { username: m.username } : {}),
        ...(password !== undefined ? { password } : {}),
        protocolVersion: m.protocol_version,
        keepaliveS: m.keepalive / 1000,
        clean: m.clean,
        reconnectBaseMs: m.reconnect.base,
        reconnectCapMs: m.reconnect.cap,
        ...(m.tls !== undefined ? { tls: tlsOptions(files.mqttTls, m.tls.reject_unauthorized) } : {}),
        groupCommit: { maxMessages: m.group_commit.max_messages, maxDelayMs: m.group_commit.max_delay, backlogDelayMs: m.group_commit.max_delay_offline },
      }),
      ...(m.embedded_broker !== undefined ? { embeddedBroker: { host: m.embedded_broker.host, port: m.embedded_broker.port } } : {}),
      rules,
      ...(rules.some((r) => r.format === 'sparkplug_b') ? { sparkplug: sparkplugHost(m.sparkplug) } : {}),
    };
  }
  if (config.serial !== undefined) settings.serial = config.serial.map((p) => serialPort(p));
  if (config.modbus !== undefined) settings.modbus = modbusSettings(config.modbus);
  return settings;
}

function serialPort(p: NonNullable<EdgeConfig['serial']>[number]): NonNullable<EdgeSettings['serial']>[number] {
  const name = serialPortName(p);
  return {
    input: {
      name,
      path: p.path,
      baudRate: p.baud,
      dataBits: p.data_bits,
      parity: p.parity,
      stopBits: p.stop_bits,
      flowControl: p.flow_control,
      delimiter: p.delimiter,
      ...(p.frame_regex !== undefined ? { frameRegex: p.frame_regex } : {}),
      maxLineBytes: p.max_line_bytes,
      encoding: p.encoding,
      reopenBaseMs: p.reopen.base,
      reopenCapMs: p.reopen.cap,
      commitDelayMs: p.commit_delay,
      ...(p.poll !== undefined ? { poll: { command: p.poll.command, schedule: p.poll.schedule, responseTimeoutMs: p.poll.response_timeout } } : {}),
    },
    rules: p.rules.map((r) => ({ ...(structuredClone(r) as MappingRuleSpec), port: name })),
  };
}

/**
 * The MQTT input's `subscriptions`, derived from the rules each time they are read (for
 * display: check, status), never stored beside them; the agent takes them from the rule set
 * it compiles.
 */
function withDerivedSubscriptions(rules: readonly MappingRuleSpec[], input: Omit<MqttInputOptions, 'subscriptions'>): MqttInputOptions {
  return Object.defineProperty(input, 'subscriptions', { get: () => mqttSubscriptions(rules), enumerable: true }) as MqttInputOptions;
}

function sparkplugHost(sp: NonNullable<EdgeConfig['mqtt']>['sparkplug']): SparkplugHostOptions {
  const primaryHostId = sp.primary_host_id ?? null;
  return {
    primaryHostId,
    rebirthRequests: sp.rebirth_requests ?? primaryHostId !== null,
    rebirthIntervalMs: sp.rebirth_interval,
    onUnresolved: sp.on_unresolved,
    retainedBirths: sp.retained_births,
  };
}

function tlsOptions(pem: PemFiles, rejectUnauthorized: boolean): { ca?: string; cert?: string; key?: string; rejectUnauthorized: boolean } {
  return { ...pem, rejectUnauthorized };
}
