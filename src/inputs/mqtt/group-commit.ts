/**
 * Group commit: many received messages share one `sink.commit`, and their acknowledgements
 * wait for it. One commit per message (a synchronous SQLite insert before each PUBACK) halves
 * the rate a local Mosquitto can deliver (about 12,000 instead of 25,000 msgs/s, 40-byte
 * JSON), and an fsync per message on an SD card would be far worse.
 *
 * A group closes when as many of its messages wait for an acknowledgement as the broker's
 * in-flight window holds (the broker stops sending once that many QoS 1 messages are
 * unacknowledged: Mosquitto's `max_inflight_messages`, 20 by default, so waiting for more
 * would only wait for the timer), when it holds MAX_GROUP_MESSAGES in all (QoS 0 messages
 * take no in-flight slot), or `maxDelayMs` after its first message, whichever comes first.
 * Groups commit in arrival order, and a group's acknowledgements are released, in arrival
 * order, only after its commit returned.
 *
 * Flash wear decides the sizes: every commit writes whole 4 KiB pages (two or three WAL
 * frames, fsynced), whatever the group holds. At 1,000 readings/s a 2 ms delay made groups of
 * one or two readings (about 5,000 bytes written per reading); a group that waits for the
 * window to fill, or for `maxDelayMs` (100 ms by default) when traffic is light, writes a
 * fraction of that for a few tens of ms of latency (bench/flash-wear.bench.mjs).
 *
 * The window (`maxMessages: 'auto'`, the default) is learnt, never configured: it starts at
 * INITIAL_WINDOW, and now and then (PROBE_INTERVAL_MS) a group that reached it is held open
 * until its timer to see whether the broker sends more. The most messages ever seen waiting
 * at once is the window: the broker let that many be in flight, so it never overshoots and a
 * group never waits for a message the broker will not send. A new connection starts over
 * (the broker may have been reconfigured).
 *
 * While FluxionDB is unreachable (`sink.backlogged()`: the queue stages its commits, no
 * batch has left for a while) nothing committed leaves anyway, so a group of messages the
 * broker keeps (all QoS 1 or 2) may wait longer: at `maxDelayMs` its timer runs on to
 * `backlogDelayMs` after its first message. At 1,000 readings/s behind a window of 1,000 that
 * makes groups of about 500 instead of 100, and every group costs at least one fsynced page
 * (bench/flash-wear.bench.mjs). A QoS 0 message, which the broker does not keep, never waits
 * past `maxDelayMs`: it closes a group that ran past it.
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
/** The in-flight window assumed until a larger one is seen: Mosquitto's default. */
export const INITIAL_WINDOW = 20;
/** Least time between two groups held open past the window to look for a larger one, in ms. */
export const PROBE_INTERVAL_MS = 10_000;
/** Pause before retrying a commit refused for a full disk, in ms. */
const DISK_FULL_RETRY_MS = 1000;
/** Pause before retrying a commit that failed for an unexpected reason, in ms. */
const FAILED_RETRY_MS = 1000;
/** Least time between two log lines about the same kind of refused commit, in ms. */
const LOG_INTERVAL_MS = 10_000;

export interface GroupCommitOptions {
  /** Messages waiting for an acknowledgement that close a group; `auto`: the broker's window, learnt. */
  maxMessages: number | 'auto';
  /** Time after its first message that closes a group, in ms. */
  maxDelayMs: number;
  /**
   * Time after its first message that closes a group of kept (QoS > 0) messages while the
   * sink is backlogged, in ms; at or below `maxDelayMs`: never longer than that.
   */
  backlogDelayMs?: number;
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
  /** Held open past the window, to see whether the broker sends more. */
  probing = false;
  /** The window when the probe began: a probe that saw no more than that waits no longer than max_delay. */
  probeFrom = 0;
  /** Held open past max_delay: the sink is backlogged and the broker keeps every message of it. */
  extended = false;
}

export class GroupCommit<A> {
  /** Messages committed since start. */
  committed = 0;
  /** True while a commit is refused for a full queue or disk. */
  waiting = false;
  lastError: { message: string; at: number } | null = null;
  /** The broker's in-flight window as far as seen (the fixed `maxMessages` when one is set). */
  window: number;
  private lastProbeAt = -Infinity;
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
    this.window = options.maxMessages === 'auto' ? INITIAL_WINDOW : options.maxMessages;
    this.logs = new RateLimitedLog(deps.logger, LOG_INTERVAL_MS, deps.now);
  }

  /** A new broker connection: its window is learnt again. */
  connectionChanged(): void {
    if (this.options.maxMessages === 'auto') this.window = INITIAL_WINDOW;
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
    // A message the broker does not keep never waits past max_delay.
    const unkept = !awaitsAck && group.extended;
    if ((group.awaitingAck >= this.window && this.windowFull(group)) || group.messages.length >= MAX_GROUP_MESSAGES || unkept) {
      this.closeOpen();
      // Not from inside mqtt.js's packet handler: the acknowledgement of this message is
      // attached only after the handler returns.
      queueMicrotask(this.kick);
    }
    return group;
  }

  /**
   * Called when `group` holds as many messages awaiting acknowledgement as the window: true
   * when it is to close now, false while it is held open to see whether the window is larger.
   */
  private windowFull(group: Group<A>): boolean {
    if (this.options.maxMessages !== 'auto') return true;
    if (group.probing) {
      // The broker sent more than the window we knew: that many fit in flight.
      this.window = group.awaitingAck;
      return false;
    }
    const now = this.deps.now();
    if (now - this.lastProbeAt < PROBE_INTERVAL_MS) return true;
    this.lastProbeAt = now;
    group.probing = true;
    group.probeFrom = this.window;
    return false;
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
    const group = this.open;
    if (group !== null && this.mayWaitLonger(group)) {
      const longer = (this.options.backlogDelayMs ?? 0) - this.options.maxDelayMs;
      group.extended = true;
      this.timer = setTimeout(this.onTimer, longer);
      return;
    }
    this.closeOpen();
    this.kick();
  };

  /**
   * At max_delay: true when `group` may wait on to backlogDelayMs. Only once, only for a group
   * the broker keeps whole (no QoS 0), only while the sink is backlogged, and not for a probe
   * that found the window full (the broker sends no more: waiting would only stall the stream).
   */
  private mayWaitLonger(group: Group<A>): boolean {
    if (group.extended || (this.options.backlogDelayMs ?? 0) <= this.options.maxDelayMs) return false;
    if (group.awaitingAck !== group.messages.length) return false;
    if (group.probing && group.awaitingAck <= group.probeFrom) return false;
    return this.deps.sink.backlogged?.() === true;
  }

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
