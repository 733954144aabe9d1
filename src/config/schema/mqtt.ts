import { z } from 'zod';
import { ruleSchema } from '../../mapping/rule-schema.js';
import { sparkplugSection } from './sparkplug.js';
import { tlsSection } from './tls.js';
import { duration, int } from './units.js';
import { LIVE_ON_RELOAD } from './reload.js';

export const mqttSection = z
  .strictObject({
    url: z
      .string()
      .regex(/^(mqtts?|wss?):\/\/[^/?#\s]+/i, { error: 'must be an mqtt://, mqtts://, ws:// or wss:// URL, e.g. mqtt://broker.local:1883' })
      .optional()
      .meta({ description: 'Broker URL: `mqtt://`, `mqtts://`, `ws://` or `wss://`. Required unless embedded_broker is set (it then defaults to that broker).' }),
    client_id: z.string().min(1).max(128).optional().meta({
      description: 'Fixed client id, so the broker keeps the persistent session across restarts. Default: `fluxion-edge-<gateway.id>`.',
    }),
    username: z.string().min(1).optional().meta({ description: 'User name for the broker.' }),
    password: z.string().min(1).optional().meta({
      description: 'Password for the broker. Prefer `password_file` or `${MQTT_PASSWORD}`. Not with password_file.',
      'x-secret': true,
    }),
    password_file: z.string().min(1).optional().meta({
      description: 'File holding the broker password (trailing newlines ignored). Relative paths are relative to the config file.',
    }),
    protocol_version: z.literal([4, 5]).default(4).meta({ description: 'MQTT protocol: 4 (3.1.1) or 5.' }),
    keepalive: duration({ min: 1000, max: 65_535_000 }).prefault('30s').meta({
      description: 'Keepalive interval, in whole seconds (the protocol counts seconds).',
    }),
    clean: z.boolean().default(false).meta({
      description: '`false` keeps a persistent session: the broker holds QoS 1 messages while the agent is down. `true` loses them.',
    }),
    reconnect: z
      .strictObject({
        base: duration({ min: 1 }).prefault('500ms').meta({ description: 'First reconnect delay ceiling (full jitter).' }),
        cap: duration({ min: 1 }).prefault('30s').meta({ description: 'Largest reconnect delay ceiling.' }),
      })
      .prefault({})
      .meta({ description: 'Reconnection to the broker: exponential backoff with full jitter.' }),
    tls: tlsSection('MQTT broker', 'mqtts:// and wss://'),
    group_commit: z
      .strictObject({
        max_messages: z.union([z.literal('auto'), int(1, 65_535)]).default('auto').meta({
          description: 'Messages awaiting a PUBACK that close a commit group. `auto`: the broker\'s in-flight window (Mosquitto max_inflight_messages, 20 by default), learnt by the agent: it starts at 20 and, every 10 s, holds one full group open until max_delay to see whether the broker sends more. A number must stay at or below the broker\'s window, or the broker stalls until max_delay.',
        }),
        max_delay: duration().prefault('100ms').meta({
          description: 'Longest a commit group waits for more messages after its first one: the latency a reading may gain when traffic is light, traded for flash wear (every commit writes at least one whole 4 KiB page; a 2 ms delay wrote about 5,000 bytes per reading at 1,000 readings/s, 50 ms about 100 behind a window of 100, 100 ms about 60). QoS 0 readings, which the broker does not keep, are lost if the agent dies within this time.',
        }),
        max_delay_offline: duration().prefault('500ms').meta({
          description: 'Longest a commit group of QoS 1/2 messages waits while FluxionDB is unreachable (no batch has left for `queue.stage_flush` and the queue stages its commits): nothing leaves then, so the latency costs nothing, and bigger groups write fewer pages (at 1,000 readings/s behind a window of 1,000: about 23 bytes a reading against 55 at 100 ms). The broker keeps the messages until their PUBACK. At or below max_delay: groups never wait longer than max_delay. Groups holding a QoS 0 message close at max_delay.',
        }),
      })
      .prefault({})
      .meta({ description: 'Group commit: PUBACKs wait for one shared commit, so a QoS 1 stream runs at the broker\'s speed.' }),
    embedded_broker: z
      .strictObject({
        host: z.string().min(1).default('127.0.0.1').meta({ description: 'Address the embedded broker listens on (0.0.0.0: every interface).' }),
        port: int(0, 65_535).default(1883).meta({ description: 'TCP port of the embedded broker; 0 picks a free one (demos, tests).' }),
      })
      .optional()
      .meta({ description: 'Start an MQTT broker inside the agent, for gateways that have none. Absent: no broker is started.' }),
    sparkplug: sparkplugSection,
    subscriptions: z.array(ruleSchema).min(1, { error: 'must list at least one subscription (a topic and how to map it)' }).meta({
      ...LIVE_ON_RELOAD,
      description: 'Mapping rules: what to subscribe to and how each message becomes readings. At least one.',
    }),
  })
  .optional()
  .meta({ description: 'MQTT input. Absent: no MQTT input. When present it needs url or embedded_broker, and subscriptions.' });
