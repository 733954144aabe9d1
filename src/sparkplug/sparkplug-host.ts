/**
 * The host side of Sparkplug B: what the pure decoder (mapping/sparkplug/) cannot do
 * itself because it needs the queue file or the broker.
 * - Persists alias tables after each commit that changed them (before the input sends its
 *   PUBACKs), and loads them at start, so aliases resolve after a restart.
 * - Publishes rebirth requests (NCMD `Node Control/Rebirth`), at most one per node per
 *   `rebirthIntervalMs`, when allowed.
 * - `hold`: maps held messages (dead letters with reason `unresolved`) again once their
 *   node's birth is committed, and removes them with their records in one transaction.
 * - With a primary host id, publishes the Sparkplug 3.0 STATE (retained, will `online:false`)
 *   while the queue takes messages, and `online:false` when it does not or the agent stops.
 */
import type { Logger } from 'pino';
import type { FluxionRecord } from '../client/types.js';
import type { MqttWill } from '../inputs/mqtt/mqtt-input.js';
import type { CommitOutcome, MessageSink, RawMessage } from '../inputs/types.js';
import {
  CERTIFICATES_PREFIX,
  commandTopic,
  encodeRebirthRequest,
  SparkplugDecoder,
  SparkplugState,
  stateTopic,
  type RuleSet,
} from '../mapping/index.js';
import { SparkplugBirths, type DeadLetter, type SqliteQueue } from '../queue/index.js';
import { RateLimitedLog } from '../shared/rate-limited-log.js';
import type { SparkplugHostOptions, SparkplugStatus } from './types.js';

/** What the host needs of the MQTT input. */
export interface SparkplugPublisher {
  publish(topic: string, payload: string | Uint8Array, opts: { qos: 0 | 1 | 2; retain: boolean }): Promise<boolean>;
}

export interface SparkplugHostDeps {
  queue: SqliteQueue;
  logger: Logger;
  now?: () => number;
}

/** How often the STATE follows the queue's writability, in ms. */
const STATE_CHECK_MS = 1000;
/** Dead letters read per page when looking for held messages. */
const SCAN_PAGE = 500;
const UNRESOLVED_PREFIX = 'unresolved: ';

export class SparkplugHost {
  readonly state = new SparkplugState();
  readonly decoder: SparkplugDecoder;
  private births: SparkplugBirths | null = null;
  private publisher: SparkplugPublisher | null = null;
  private rules: (() => RuleSet | null) | null = null;
  private writable: () => boolean = () => true;
  private readonly lastRebirth = new Map<string, number>();
  /** Held messages (dead letter ids) by node, from the dead letters read so far. */
  private readonly heldIds = new Map<string, Set<number>>();
  /** Dead letters up to this id were read into heldIds. */
  private scannedUpTo = 0;
  private resolved = 0;
  private stateTs = 0;
  private stateOnline: boolean | null = null;
  /** The STATE being published (set before the broker acknowledged it). */
  private stateWanted: boolean | null = null;
  private statePublishedAt: number | null = null;
  private stateTimer: NodeJS.Timeout | null = null;
  private stopped = false;
  private readonly warnings: RateLimitedLog;
  private readonly now: () => number;

  constructor(
    readonly options: SparkplugHostOptions,
    private readonly deps: SparkplugHostDeps,
  ) {
    this.now = deps.now ?? Date.now;
    this.warnings = new RateLimitedLog(deps.logger);
    // Holding data after a gap only helps when a rebirth will come to resolve it.
    this.decoder = new SparkplugDecoder(this.state, { holdAfterGap: options.rebirthRequests });
  }

  /** Loads the persisted alias tables (the queue is started). */
  start(): void {
    this.births = new SparkplugBirths(this.deps.queue.database, this.now);
    const rows = this.births.load();
    this.state.load(rows);
    this.deps.logger.info({ tables: rows.length, primaryHostId: this.options.primaryHostId, rebirthRequests: this.options.rebirthRequests }, 'sparkplug alias tables loaded');
  }

  /** Connects the host to the MQTT input, the current rule set and the queue's writability. */
  attach(publisher: SparkplugPublisher, rules: () => RuleSet | null, writable: () => boolean): void {
    this.publisher = publisher;
    this.rules = rules;
    this.writable = writable;
    if (this.options.primaryHostId !== null && this.stateTimer === null) {
      this.stateTimer = setInterval(() => this.followWritability(), STATE_CHECK_MS);
      this.stateTimer.unref();
    }
  }

  /** What the host subscribes to besides the rules: its own STATE topic (QoS 0), to answer a stale `online:false`. */
  filters(): Array<{ filter: string; qos: 0 }> {
    const id = this.options.primaryHostId;
    return id === null ? [] : [{ filter: stateTopic(id), qos: 0 }];
  }

  /** The MQTT input's sink, with the host's work after each commit. */
  wrap(sink: MessageSink): MessageSink {
    const own = this.options.primaryHostId === null ? null : stateTopic(this.options.primaryHostId);
    return {
      commit: (messages: readonly RawMessage[]): CommitOutcome | void => {
        const out = sink.commit(messages);
        this.afterCommit();
        if (own !== null) for (const m of messages) if (m.topic === own) this.ownState(m.payload);
        return out;
      },
      waitForRoom: (signal) => sink.waitForRoom(signal),
      ...(sink.backlogged !== undefined ? { backlogged: () => sink.backlogged!() } : {}),
      ...(sink.deadLetter !== undefined ? { deadLetter: (m: RawMessage, r: string) => sink.deadLetter!(m, r) } : {}),
    };
  }

  /** The STATE last will for the next connection (fresh timestamp); undefined without primary host id. */
  will(): MqttWill | undefined {
    const id = this.options.primaryHostId;
    if (id === null) return undefined;
    this.stateTs = this.now();
    return { topic: stateTopic(id), payload: stateJson(false, this.stateTs), qos: 1, retain: true };
  }

  /** Connected and subscribed: announce the host (when the queue takes messages). */
  onReady(): void {
    this.stateOnline = null;
    this.followWritability();
  }

  /**
   * After a commit: persist alias table changes, publish rebirth requests, resolve held
   * messages of nodes just born. Never throws (the group is committed already).
   */
  afterCommit(): void {
    try {
      this.births?.apply(this.state.takeChanges());
    } catch (err) {
      this.warnings.warn('sparkplug-births', { err: (err as Error).message }, 'cannot persist Sparkplug alias tables; they are kept in memory');
    }
    this.requestRebirths();
    if (this.options.onUnresolved === 'hold') {
      for (const e of this.state.takeBirths()) this.resolveHeld(e.key);
    } else {
      this.state.takeBirths();
    }
  }

  status(): SparkplugStatus {
    const id = this.options.primaryHostId;
    return {
      state: id === null ? null : { hostId: id, online: this.stateOnline === true, publishedAt: this.statePublishedAt },
      resolved: this.resolved,
      nodes: this.state.counters(),
    };
  }

  /** Publishes STATE offline (graceful stop), before the MQTT input disconnects. Safe to call twice. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.stateTimer !== null) clearInterval(this.stateTimer);
    this.stateTimer = null;
    if (this.options.primaryHostId !== null && this.stateOnline === true) await this.publishState(false);
  }

  private requestRebirths(): void {
    const wanted = this.state.takeRebirths();
    if (wanted.length === 0 || !this.options.rebirthRequests || this.publisher === null || this.stopped) return;
    const now = this.now();
    for (const e of wanted) {
      const last = this.lastRebirth.get(e.key);
      if (last !== undefined && now - last < this.options.rebirthIntervalMs) continue;
      this.lastRebirth.set(e.key, now);
      const topic = commandTopic(e.group, e.node);
      void this.publisher.publish(topic, encodeRebirthRequest(now), { qos: 0, retain: false }).then((ok) => {
        if (ok) {
          e.stats.rebirthRequests++;
          this.deps.logger.info({ node: e.key, topic }, 'sparkplug rebirth requested');
        } else {
          this.lastRebirth.delete(e.key);
        }
      });
    }
  }

  /**
   * Maps the node's held messages again; those that now resolve leave the dead letters with
   * their records, in one transaction. Dead letters are read incrementally into an index of
   * held messages by node: a birth costs a look at the new ones only.
   */
  private resolveHeld(node: string): void {
    const rules = this.rules?.() ?? null;
    if (rules === null) return;
    const q = this.deps.queue;
    try {
      for (;;) {
        const page = q.listDeadLetters({ afterId: this.scannedUpTo, limit: SCAN_PAGE });
        if (page.length === 0) break;
        for (const dl of page) {
          const held = heldNode(dl);
          if (held === null) continue;
          let ids = this.heldIds.get(held);
          if (ids === undefined) this.heldIds.set(held, (ids = new Set()));
          ids.add(dl.id);
        }
        this.scannedUpTo = page[page.length - 1]!.id;
      }
      const ids = [...(this.heldIds.get(node) ?? [])];
      if (ids.length === 0) return;
      let resolved = 0;
      for (let i = 0; i < ids.length; i += SCAN_PAGE) {
        const chunk = ids.slice(i, i + SCAN_PAGE);
        const r = q.retryDeadLetters({ ids: chunk, limit: chunk.length, remap: (dl) => remap(rules, dl) });
        resolved += r.retried;
      }
      // Dead letter ids are rowids: once the newest rows are gone, new ones take their ids
      // again, so the next scan starts below what was just removed.
      this.scannedUpTo = Math.min(this.scannedUpTo, Math.min(...ids) - 1);
      // What is still there (not resolved, or purged meanwhile) is looked at again at the next birth.
      const left = new Set(ids.filter((id) => q.listDeadLetters({ afterId: id - 1, limit: 1 })[0]?.id === id));
      if (left.size === 0) this.heldIds.delete(node);
      else this.heldIds.set(node, left);
      this.resolved += resolved;
      this.deps.logger.info({ node, resolved, left: left.size }, 'sparkplug held messages mapped after the birth');
    } catch (err) {
      this.warnings.warn('sparkplug-held', { node, err: (err as Error).message }, 'cannot map held Sparkplug messages now; will try at the next birth');
    }
  }

  /**
   * Our own STATE as the broker has it now. Sparkplug 3.0: a primary host that sees itself
   * reported offline while it is online (a will of an older connection delivered late,
   * another client) publishes its online STATE again.
   */
  private ownState(payload: Uint8Array | string): void {
    let online: unknown;
    try {
      online = (JSON.parse(typeof payload === 'string' ? payload : Buffer.from(payload).toString('utf8')) as { online?: unknown }).online;
    } catch {
      return;
    }
    if (online === false && this.stateOnline === true && this.stateWanted === true && !this.stopped) {
      this.deps.logger.warn({ topic: stateTopic(this.options.primaryHostId!) }, 'sparkplug STATE reported offline by someone else while online: published online again');
      void this.publishState(true);
    }
  }

  private followWritability(): void {
    if (this.options.primaryHostId === null || this.stopped) return;
    const online = this.writable();
    if (online === this.stateOnline) return;
    void this.publishState(online);
  }

  private async publishState(online: boolean): Promise<void> {
    const id = this.options.primaryHostId!;
    this.stateWanted = online;
    const ok = (await this.publisher?.publish(stateTopic(id), stateJson(online, this.stateTs), { qos: 1, retain: true })) ?? false;
    if (!ok) return;
    this.stateOnline = online;
    this.statePublishedAt = this.now();
    this.deps.logger.info({ topic: stateTopic(id), online }, 'sparkplug STATE published');
  }
}

function stateJson(online: boolean, timestamp: number): string {
  return JSON.stringify({ online, timestamp });
}

/** The node (`<group>/<node>`) of a held message (reason `unresolved: <group>/<node>: ...`), or null. */
function heldNode(dl: DeadLetter): string | null {
  if (!dl.reason.startsWith(UNRESOLVED_PREFIX) || dl.origin === null || dl.payload === null) return null;
  const end = dl.reason.indexOf(': ', UNRESOLVED_PREFIX.length);
  return end < 0 ? null : dl.reason.slice(UNRESOLVED_PREFIX.length, end);
}

function remap(rules: RuleSet, dl: DeadLetter): FluxionRecord[] | null {
  const topic = dl.origin!.startsWith(CERTIFICATES_PREFIX) ? dl.origin!.slice(CERTIFICATES_PREFIX.length) : dl.origin!;
  const payload = typeof dl.payload === 'string' ? Buffer.from(dl.payload, 'utf8') : dl.payload!;
  const r = rules.map({ source: 'mqtt', topic, payload, receivedAt: dl.at, replayed: true });
  return r.ok && r.rejections.length === 0 ? r.records : null;
}
