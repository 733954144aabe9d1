/**
 * The MQTT input: one mqtt.js client with a fixed client id and a persistent session, whose
 * messages are committed to the sink in groups and acknowledged only after their group's
 * commit (group-commit.ts, deferred-acks.ts).
 *
 * Reconnection is driven here, not by mqtt.js (its `reconnectPeriod` is a fixed interval):
 * exponential backoff with full jitter between `reconnectBaseMs` and `reconnectCapMs`
 * (shared/reconnect-backoff.ts), so a fleet of gateways does not reconnect in lockstep after
 * a broker restart.
 *
 * QoS 2 subscriptions work, but mqtt.js sends the PUBREC before the message is handed over
 * and keeps it in memory until the PUBREL: a crash in between loses it. QoS 1 (the default)
 * is the one that survives a crash of the agent.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import mqtt, { type IClientOptions, type IConnackPacket, type IPublishPacket, type MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import { AgentError, ErrorCodes } from '../../errors.js';
import { RateLimitedLog } from '../../shared/rate-limited-log.js';
import { ReconnectBackoff } from '../../shared/reconnect-backoff.js';
import { displayUrl, Secrets } from '../../shared/secrets.js';
import type { Input, InputStatus, MessageSink, RawMessage } from '../types.js';
import { DeferredAcks, type HeldAck } from './deferred-acks.js';
import { GroupCommit } from './group-commit.js';
import type { MqttInputOptions } from './types.js';

/** How long a connection attempt may wait for the CONNACK, in ms. */
const CONNECT_TIMEOUT_MS = 10_000;
const DEFAULT_STOP_DEADLINE_MS = 5000;
/** Least time between two log lines about connection errors, in ms. */
const ERROR_LOG_INTERVAL_MS = 10_000;
const SCHEMES = new Set(['mqtt:', 'mqtts:', 'ws:', 'wss:']);

export interface MqttInputDeps {
  sink: MessageSink;
  logger: Logger;
  /** Scrubbed from every error message the input keeps or logs (the password). Default none. */
  secrets?: Secrets;
  /** Clock in ms since the epoch. Default `Date.now`. */
  now?: () => number;
  /** The last will to register, asked again before every connection attempt (e.g. a Sparkplug STATE with a fresh timestamp). */
  will?: () => MqttWill;
  /** Called once connected and subscribed (after every connection): e.g. publish a birth. */
  onReady?: () => void;
}

export interface MqttWill {
  topic: string;
  payload: string | Buffer;
  qos: 0 | 1 | 2;
  retain: boolean;
}

/** What the input needs of the transport to turn Nagle off. */
interface NoDelaySocket {
  setNoDelay?: (noDelay?: boolean) => unknown;
}

export class MqttInput implements Input {
  private client: MqttClient | null = null;
  private acks: DeferredAcks | null = null;
  private commit: GroupCommit<HeldAck> | null = null;
  private lifecycle: 'new' | 'started' | 'stopping' | 'stopped' = 'new';
  private connected = false;
  /** A connection was made or an attempt failed: the state is no longer `starting`. */
  private triedOnce = false;
  private subscribedOnce = false;
  private unsubscribedOnce = false;
  private readonly backoff: ReconnectBackoff;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private stopping: Promise<void> | null = null;
  private received = 0;
  private lastMessageAt: number | null = null;
  private lastError: { message: string; at: number } | null = null;
  private readonly errorLog: RateLimitedLog;
  private readonly now: () => number;

  constructor(
    private readonly options: MqttInputOptions,
    private readonly deps: MqttInputDeps,
  ) {
    this.now = deps.now ?? Date.now;
    // Started over at each connection (reset() in onConnect), however short it was.
    this.backoff = new ReconnectBackoff({ baseMs: options.reconnectBaseMs, capMs: options.reconnectCapMs, resetAfterMs: 0 });
    this.errorLog = new RateLimitedLog(deps.logger, ERROR_LOG_INTERVAL_MS, this.now);
  }

  /** Creates the client and starts connecting; resolves without waiting for the broker. */
  async start(): Promise<void> {
    if (this.lifecycle !== 'new') return;
    const o = this.options;
    const scheme = schemeOf(o.url);
    if (!SCHEMES.has(scheme)) {
      throw new AgentError(ErrorCodes.CONFIG_INVALID, `mqtt.url must start with mqtt://, mqtts://, ws:// or wss:// (got ${JSON.stringify(this.safeUrl())})`);
    }
    this.lifecycle = 'started';
    const clientOptions: IClientOptions = {
      clientId: o.clientId,
      protocolVersion: o.protocolVersion,
      keepalive: o.keepaliveS,
      clean: o.clean,
      // Reconnection is ours (full jitter); subscriptions are ours (only when the session is new).
      reconnectPeriod: 0,
      resubscribe: false,
      connectTimeout: CONNECT_TIMEOUT_MS,
      manualConnect: true,
      queueQoSZero: false,
    };
    // MQTT 5 ends a session at disconnect unless told otherwise (Session Expiry Interval 0);
    // 0xFFFFFFFF keeps it until the broker's own limit (Mosquitto: persistent_client_expiration).
    if (o.protocolVersion === 5 && !o.clean) clientOptions.properties = { sessionExpiryInterval: 0xffffffff };
    if (this.deps.will !== undefined) clientOptions.will = this.deps.will();
    if (o.username !== undefined) clientOptions.username = o.username;
    if (o.password !== undefined) clientOptions.password = o.password;
    if (o.tls !== undefined) {
      clientOptions.rejectUnauthorized = o.tls.rejectUnauthorized;
      if (o.tls.ca !== undefined) clientOptions.ca = o.tls.ca;
      if (o.tls.cert !== undefined) clientOptions.cert = o.tls.cert;
      if (o.tls.key !== undefined) clientOptions.key = o.tls.key;
    }
    let client: MqttClient;
    try {
      client = mqtt.connect(o.url, clientOptions);
    } catch (err) {
      this.lifecycle = 'stopped';
      throw new AgentError(ErrorCodes.CONFIG_INVALID, `mqtt: cannot create the client for ${this.safeUrl()}: ${this.scrub((err as Error).message)}`);
    }
    this.client = client;
    const acks = new DeferredAcks(client, (packet) => this.toMessage(packet));
    const commit = new GroupCommit<HeldAck>(o.groupCommit, {
      sink: this.deps.sink,
      logger: this.deps.logger,
      release: (held) => acks.release(held),
      onCommitted: () => acks.resume(),
      now: this.now,
    });
    acks.install(commit);
    this.acks = acks;
    this.commit = commit;
    client.on('connect', (connack) => this.onConnect(client, connack));
    client.on('close', () => this.onClose());
    client.on('error', (err) => this.onError(err));
    this.deps.logger.info({ url: this.safeUrl(), clientId: o.clientId, protocolVersion: o.protocolVersion }, 'mqtt input connecting');
    client.connect();
  }

  /**
   * Stops taking messages, commits and acknowledges what it holds (if the sink accepts it
   * now), then disconnects within `stopDeadlineMs`. Nothing uncommitted is acknowledged.
   */
  stop(): Promise<void> {
    if (this.stopping !== null) return this.stopping;
    this.stopping = this.shutdown(false);
    return this.stopping;
  }

  /**
   * Aborts: drops the connection at once, commits nothing more and acknowledges nothing
   * more (as a crash of the agent would). Safe to call twice, and after stop().
   */
  destroy(): void {
    if (this.stopping !== null) {
      this.client?.stream?.destroy();
      return;
    }
    this.stopping = this.shutdown(true);
  }

  status(): InputStatus {
    let state: InputStatus['state'];
    if (this.lifecycle === 'new' || this.lifecycle === 'stopped') state = 'stopped';
    else if (this.commit?.waiting === true) state = 'waiting';
    else if (this.connected) state = 'connected';
    else state = this.triedOnce ? 'disconnected' : 'starting';
    const commitError = this.commit?.lastError ?? null;
    const lastError = commitError !== null && (this.lastError === null || commitError.at >= this.lastError.at) ? commitError : this.lastError;
    return {
      name: 'mqtt',
      state,
      received: this.received,
      committed: this.commit?.committed ?? 0,
      lastMessageAt: this.lastMessageAt,
      lastError: lastError === null ? null : { ...lastError },
    };
  }

  /**
   * Publishes a message on the input's connection (Sparkplug rebirth requests, STATE).
   * Resolves true once handed over (QoS 0) or acknowledged (QoS 1, 2); false when not
   * connected now: nothing is queued for later, the caller decides whether to try again.
   */
  async publish(topic: string, payload: string | Uint8Array, opts: { qos: 0 | 1 | 2; retain: boolean }): Promise<boolean> {
    const client = this.client;
    if (client === null || !this.connected || this.lifecycle !== 'started') return false;
    try {
      await client.publishAsync(topic, Buffer.from(payload), { qos: opts.qos, retain: opts.retain });
      return true;
    } catch (err) {
      this.recordError(`publish to ${topic} failed: ${(err as Error).message}`);
      return false;
    }
  }

  /**
   * The current transport stream (a net.Socket for mqtt://, a TLSSocket for mqtts://, a
   * WebSocket stream for ws:// and wss://), or null. For diagnostics and tests.
   */
  transport(): unknown {
    return this.client?.stream ?? null;
  }

  private async shutdown(abort: boolean): Promise<void> {
    const wasStarted = this.lifecycle === 'started';
    this.lifecycle = 'stopping';
    if (this.reconnectTimer !== null) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    this.acks?.close();
    const client = this.client;
    if (!wasStarted || client === null) {
      this.lifecycle = 'stopped';
      return;
    }
    if (abort) {
      // Drop the connection before anything else can commit and acknowledge.
      this.commit?.abort();
      client.stream?.destroy();
      client.end(true);
    } else {
      await this.commit?.stop();
      await endWithin(client, this.options.stopDeadlineMs ?? DEFAULT_STOP_DEADLINE_MS);
    }
    client.stream?.destroy();
    this.connected = false;
    this.lifecycle = 'stopped';
    this.deps.logger.info({ received: this.received, committed: this.commit?.committed ?? 0 }, abort ? 'mqtt input destroyed' : 'mqtt input stopped');
  }

  private toMessage(packet: IPublishPacket): RawMessage {
    const at = this.now();
    this.received++;
    this.lastMessageAt = at;
    // No topic alias can reach us: the client announces no topicAliasMaximum.
    return { source: 'mqtt', topic: packet.topic, payload: packet.payload as Buffer, receivedAt: at };
  }

  private onConnect(client: MqttClient, connack: IConnackPacket): void {
    if (this.lifecycle !== 'started') {
      client.stream?.destroy();
      return;
    }
    this.connected = true;
    this.triedOnce = true;
    this.backoff.reset();
    this.commit?.connectionChanged();
    // Nagle holds small writes (our PUBACKs) for 20-40 ms; mqtt.js never turns it off.
    // The WebSocket transport turns it off itself (ws does on its socket).
    (client.stream as NoDelaySocket).setNoDelay?.(true);
    const sessionPresent = connack.sessionPresent;
    this.deps.logger.info({ url: this.safeUrl(), sessionPresent }, 'mqtt input connected');
    this.unsubscribeRemoved(client, sessionPresent);
    const ready = (): void => {
      if (this.lifecycle === 'started' && this.client === client) this.deps.onReady?.();
    };
    if (this.subscribedOnce && sessionPresent) return ready();
    const subs: Record<string, { qos: 0 | 1 | 2 }> = {};
    for (const s of this.options.subscriptions) subs[s.filter] = { qos: s.qos };
    if (Object.keys(subs).length === 0) return ready();
    client.subscribe(subs, (err, granted) => {
      if (err) {
        this.recordError(`subscribe failed: ${err.message}`);
        return;
      }
      this.subscribedOnce = true;
      ready();
      const refused = (granted ?? []).filter((g) => g.qos === 128 || g.qos > 2).map((g) => g.topic);
      if (refused.length > 0) this.recordError(`broker refused subscriptions: ${refused.join(', ')}`, 'error');
      else this.deps.logger.info({ filters: Object.keys(subs) }, 'mqtt input subscribed');
    });
  }

  /** Sends the UNSUBSCRIBE for `options.unsubscribe` once (a new session has nothing to remove). */
  private unsubscribeRemoved(client: MqttClient, sessionPresent: boolean): void {
    const filters = this.options.unsubscribe ?? [];
    if (this.unsubscribedOnce || filters.length === 0) return;
    if (!sessionPresent) {
      this.unsubscribedOnce = true;
      return;
    }
    client.unsubscribe(filters, (err) => {
      if (err) {
        this.recordError(`unsubscribe failed: ${err.message}`);
        return;
      }
      this.unsubscribedOnce = true;
      this.deps.logger.info({ filters }, 'mqtt input unsubscribed');
    });
  }

  private onClose(): void {
    const was = this.connected;
    this.connected = false;
    this.triedOnce = true;
    if (this.lifecycle !== 'started') return;
    if (was) this.deps.logger.warn({ url: this.safeUrl() }, 'mqtt connection closed; reconnecting');
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.reconnectTimer !== null) return;
    const delay = this.backoff.next();
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      if (this.lifecycle !== 'started' || this.client === null) return;
      if (this.deps.will !== undefined) this.client.options.will = this.deps.will();
      this.client.reconnect();
    }, delay);
  }

  private onError(err: Error & { code?: unknown }): void {
    this.recordError(err.message, 'warn', err.code);
  }

  private recordError(message: string, level: 'warn' | 'error' = 'warn', code?: unknown): void {
    const safe = this.scrub(message);
    const at = this.now();
    this.lastError = { message: safe, at };
    const obj = { url: this.safeUrl(), err: safe, code };
    if (level === 'warn') this.errorLog.warn('error', obj, 'mqtt input error');
    else this.deps.logger.error(obj, 'mqtt input error');
  }

  /** Removes the secrets from any text that may reach a log or the status. */
  private scrub(text: string): string {
    return (this.deps.secrets ?? Secrets.none).scrub(text);
  }

  private safeUrl(): string {
    return displayUrl(this.options.url);
  }
}

function schemeOf(url: string): string {
  try {
    return new URL(url).protocol;
  } catch {
    return '';
  }
}

/** `client.end(false)`, or the connection dropped if the broker does not take the DISCONNECT in time. */
async function endWithin(client: MqttClient, deadlineMs: number): Promise<void> {
  const deadline = new AbortController();
  await Promise.race([client.endAsync(false).catch(() => undefined), sleep(deadlineMs, undefined, { signal: deadline.signal }).catch(() => undefined)]);
  deadline.abort();
}
