import type { GroupCommitOptions } from './group-commit.js';

/** Options of the MQTT input (camelCase; the config layer maps the YAML `mqtt:` section onto them). */
export interface MqttInputOptions {
  /** Broker URL: `mqtt://`, `mqtts://`, `ws://` or `wss://`. */
  url: string;
  /** Fixed client id, so the broker keeps the persistent session across restarts. */
  clientId: string;
  username?: string;
  /** Never logged. */
  password?: string;
  /** 4 = MQTT 3.1.1, 5 = MQTT 5. Default 4. */
  protocolVersion: 4 | 5;
  /** Keepalive interval in seconds. Default 30. */
  keepaliveS: number;
  /**
   * false = persistent session (the broker holds QoS 1 messages while the agent is down).
   * With MQTT 5 the session is asked never to expire (Session Expiry Interval 0xFFFFFFFF);
   * the broker may still bound it (Mosquitto: `persistent_client_expiration`). Default false.
   */
  clean: boolean;
  /** Reconnect delay ceiling for the first retry, in ms (full jitter). Default 500. */
  reconnectBaseMs: number;
  /** Largest reconnect delay ceiling, in ms. Default 30000. */
  reconnectCapMs: number;
  /** For mqtts:// and wss://: PEM contents, not paths (the config layer reads the files). */
  tls?: { ca?: string; cert?: string; key?: string; rejectUnauthorized: boolean };
  /** What to subscribe to (MQTT filters, wildcards already turned into + and #). */
  subscriptions: Array<{ filter: string; qos: 0 | 1 | 2 }>;
  /**
   * Filters to take out of the persistent session at the first connection (a reload
   * removed them): without the UNSUBSCRIBE the broker would keep delivering to them.
   */
  unsubscribe?: string[];
  /**
   * Group commit: messages whose acknowledgements wait for one shared queue commit. The
   * group closes when `maxMessages` await an acknowledgement (`auto`: the broker's in-flight
   * window, learnt; a number must stay at or below that window) or `maxDelayMs` after its
   * first message, whichever comes first (group-commit.ts). Defaults `auto` and 100 ms.
   * `backlogDelayMs` (default 500 ms in the config) replaces `maxDelayMs` for groups of
   * QoS 1/2 messages while the sink is backlogged (FluxionDB unreachable).
   */
  groupCommit: GroupCommitOptions;
  /**
   * How long stop() waits for the broker to take the DISCONNECT before dropping the
   * connection, in ms. Default 5000.
   */
  stopDeadlineMs?: number;
}

/** The embedded broker (aedes) for gateways that need nothing else. */
export interface EmbeddedBrokerOptions {
  /** Address to listen on. Default 127.0.0.1. */
  host: string;
  /** TCP port; 0 picks a free one (read it from `EmbeddedBroker.port`). Default 1883. */
  port: number;
}
