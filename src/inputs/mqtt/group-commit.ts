/**
 * Group commit: many received messages share one `sink.commit`, and their acknowledgements
 * wait for it. One commit per message (a synchronous SQLite insert before each PUBACK) halves
 * the rate a local Mosquitto can deliver (about 12,000 instead of 25,000 msgs/s, 40-byte
 * JSON), and an fsync per message on an SD card would be far worse.
 *
 * A group closes when `maxMessages` of its messages wait for an acknowledgement (the broker
 * stops sending once its in-flight window of unacknowledged QoS 1 messages is full:
 * Mosquitto's `max_inflight_messages`, 20 by default, so waiting for more would only wait for
 * the timer), when it holds MAX_GROUP_MESSAGES in all (QoS 0 messages take no in-flight slot),
 * or `maxDelayMs` after its first message, whichever comes first. Groups commit in arrival
 * order, and a group's acknowledgements are released, in arrival order, only after its
 * commit returned.
 *
 * A commit refused for a full queue or a full disk keeps the group, unacknowledged, and
 * retries the same group (after `waitForRoom()`, or after a pause): meanwhile the broker
 * stops sending, which is the backpressure. Any other error is a bug: it is logged loudly and
 * the group is retried too; nothing is acknowledged before it is committed.
 */
import { setImmediate as nextTurn, setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { ErrorCodes, isAgentError } from '../../errors.js';
import { RateLimitedLog } from '../../shared/rate-limited-log.js';
import type { MessageSink, RawMessage } from '../types.js';

/** Most messages in one group, acknowledged or not. */
export const MAX_GROUP_MESSAGES = 1000;
/** Pause before retrying a commit refused for a full disk, in ms. */
const DISK_FULL_RETRY_MS = 1000;
/** Pause before retrying a commit that failed for an unexpected reason, in ms. */
const FAILED_RETRY_MS = 1000;
/** Least time between two log lines about the same kind of refused commit, in ms. */
const LOG_INTERVAL_MS = 10_000;

export interface GroupCommitOptions {
  /** Messages waiting for an acknowledgement that close a group. */
  maxMessages: number;
  /** Time after its first message that closes a group, in ms. */
  maxDelayMs: number;
}

export interface GroupCommitDeps<A> {
  sink: MessageSink;
  logger: Logger;
  /** Sends the acknowledgements of a committed group, in arrival order. */
  release(acks: readonly A[]): void;
  /** Called after each commit: fewer messages are held. */
  onCommitted(): void;
  now: () => number;
}

/** Messages committed together; `A` is whatever acknowledges one of them. */
export class Group<A> {
  readonly messages: RawMessage[] = [];
  readonly acks: A[] = [];
  /** Messages that will be acknowledged (QoS > 0). */
  awaitingAck = 0;
  committed = false;
}

export class GroupCommit<A> {
  /** Messages committed since start. */
  committed = 0;
  /** True while a commit is refused for a full queue or disk. */
  waiting = false;
  lastError: { message: string; at: number } | null = null;
  private open: Group<A> | null = null;
  private readonly ready: Array<Group<A>> = [];
  private held = 0;
  private timer: NodeJS.Timeout | null = null;
  private running = false;
  private current: Promise<void> = Promise.resolve();
  private stopping = false;
  private readonly aborter = new AbortController();
  private readonly logs: RateLimitedLog;

  constructor(
    private readonly options: GroupCommitOptions,
    private readonly deps: GroupCommitDeps<A>,
  ) {
    this.logs = new RateLimitedLog(deps.logger, LOG_INTERVAL_MS, deps.now);
  }

  /** Adds a message to the open group and returns that group (to attach its acknowledgement). */
  add(message: RawMessage, awaitsAck: boolean): Group<A> {
    let group = this.open;
    if (group === null) {
      group = this.open = new Group<A>();
      this.timer = setTimeout(this.onTimer, this.options.maxDelayMs);
    }
    group.messages.push(message);
    this.held++;
    if (awaitsAck) group.awaitingAck++;
    if (group.awaitingAck >= this.options.maxMessages || group.messages.length >= MAX_GROUP_MESSAGES) {
      this.closeOpen();
      // Not from inside mqtt.js's packet handler: the acknowledgement of this message is
      // attached only after the handler returns.
      queueMicrotask(this.kick);
    }
    return group;
  }

  /** Attaches an acknowledgement to its group; sent at once if the group is already committed. */
  attachAck(group: Group<A>, ack: A): void {
    if (group.committed) this.deps.release([ack]);
    else group.acks.push(ack);
  }

  /** Messages received but not committed yet. */
  uncommitted(): number {
    return this.held;
  }

  /**
   * Stops waiting for room, commits what is held if the sink accepts it now (one try per
   * group, in order) and releases those acknowledgements. Groups the sink refuses stay
   * unacknowledged: the broker delivers them again next session. Safe to call twice.
   */
  async stop(): Promise<void> {
    if (this.stopping) return this.current;
    this.stopping = true;
    this.aborter.abort();
    await this.current;
    this.closeOpen();
    this.kick();
    await this.current;
    if (this.held > 0) {
      this.deps.logger.warn({ messages: this.held }, 'mqtt input stopped with uncommitted messages; they were not acknowledged and the broker will deliver them again');
    }
  }

  /** Drops what is held, committing and acknowledging nothing more (a crash would). */
  abort(): void {
    this.stopping = true;
    this.aborter.abort();
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.open = null;
    this.ready.length = 0;
    this.held = 0;
  }

  private readonly onTimer = (): void => {
    this.timer = null;
    this.closeOpen();
    this.kick();
  };

  private closeOpen(): void {
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    if (this.open === null) return;
    this.ready.push(this.open);
    this.open = null;
  }

  private readonly kick = (): void => {
    if (this.running || this.ready.length === 0) return;
    this.current = this.drain();
  };

  /** Commits ready groups in order. Awaits only when a commit is refused. */
  private async drain(): Promise<void> {
    this.running = true;
    try {
      while (this.ready.length > 0) {
        const group = this.ready[0]!;
        if (!(await this.commit(group))) return;
        this.ready.shift();
        group.committed = true;
        this.held -= group.messages.length;
        this.committed += group.messages.length;
        this.deps.release(group.acks);
        group.acks.length = 0;
        this.deps.onCommitted();
      }
    } finally {
      this.running = false;
    }
  }

  private async commit(group: Group<A>): Promise<boolean> {
    for (;;) {
      try {
        this.deps.sink.commit(group.messages);
        if (this.waiting) {
          this.waiting = false;
          this.deps.logger.info({ messages: this.held }, 'queue accepts messages again; acknowledging held messages');
        }
        return true;
      } catch (err) {
        this.lastError = { message: (err as Error).message, at: this.deps.now() };
        if (this.stopping) return false;
        await this.pause(err);
        if (this.stopping) return false;
      }
    }
  }

  private async pause(err: unknown): Promise<void> {
    const signal = this.aborter.signal;
    try {
      if (isAgentError(err, ErrorCodes.QUEUE_FULL)) {
        this.waiting = true;
        this.logs.warn('full', { messages: this.held }, 'queue full: holding messages unacknowledged, the broker stops sending until there is room');
        await this.deps.sink.waitForRoom(signal);
      } else if (isAgentError(err, ErrorCodes.QUEUE_DISK_FULL)) {
        this.waiting = true;
        this.logs.warn('disk', { messages: this.held }, 'disk full: holding messages unacknowledged, retrying');
        await sleep(DISK_FULL_RETRY_MS, undefined, { signal });
      } else {
        // A bug in the sink or the queue: never acknowledge, never drop, never crash.
        const e = err as Error & { code?: unknown };
        this.logs.error('bug', { messages: this.held, err: e.message, code: e.code, stack: e.stack }, 'COMMIT FAILED UNEXPECTEDLY: holding messages unacknowledged and retrying (this is a bug)');
        await sleep(FAILED_RETRY_MS, undefined, { signal });
      }
    } catch {
      // Aborted by stop(): the caller sees `stopping` and gives up.
    }
    // Whatever the wait, the retry goes through the event loop: a wait that resolves at once
    // must never turn retries into a loop of microtasks that starves timers and sockets.
    await nextTurn();
  }
}
