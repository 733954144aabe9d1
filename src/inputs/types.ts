/**
 * What every input (MQTT, serial) hands its readings to. Inputs know nothing of FluxionDB
 * or of the queue: they turn the outside world into raw messages and acknowledge their
 * source only after `commit` returned.
 */
import type { RawMessage } from '../mapping/types.js';

export type { RawMessage };

export interface MessageSink {
  /**
   * Maps a group of raw messages and commits the resulting records (and the dead letters
   * of messages that could not be mapped) to the queue. Synchronous: when it returns, the
   * group is durable and the input may acknowledge it upstream (e.g. send the PUBACKs).
   *
   * Throws an AgentError with code `EDGE_ERR_QUEUE_FULL` (queue full, `on_full: block`) or
   * `EDGE_ERR_QUEUE_DISK_FULL`: nothing of the group was stored; the input must keep the
   * messages unacknowledged and call `commit` again with the same group later (after
   * `waitForRoom()` resolves, or after a short delay).
   */
  commit(messages: readonly (RawMessage | RejectedMessage)[]): CommitOutcome | void;
  /**
   * Gives up a group the sink refused with `EDGE_ERR_QUEUE_DISK_FULL`, counting its readings
   * as dropped with reason `disk_full`: for inputs that cannot hold readings back (a serial
   * device does not resend). Returns how many readings were counted. Optional.
   */
  dropRefused?(messages: readonly RawMessage[]): number;
  /**
   * True while committed readings are not leaving (FluxionDB unreachable: the queue stages
   * its commits, no batch has left for `queue.stage_flush`): an input whose source keeps
   * unacknowledged messages (an MQTT broker, QoS 1) may then gather bigger commit groups, as
   * the latency of a reading that waits in the queue anyway does not matter. Optional.
   */
  backlogged?(): boolean;
  /** Resolves when the queue may have room again (after a QUEUE_FULL); `signal` aborts the wait. */
  waitForRoom(signal?: AbortSignal): Promise<void>;
  /**
   * Files a raw message that never reaches the mapping (a serial line too long to frame, bytes
   * outside any frame) as a dead letter with `reason` (e.g. `too_large: ...`), and counts it.
   * Never throws: a dead letter that cannot be written now is kept and written later.
   * Optional: an input whose sink lacks it drops such messages, counted as rejected.
   */
  deadLetter?(message: RawMessage, reason: string): void;
  /**
   * The source `origin` (a serial port name, a topic) came back after being away, e.g. a
   * port reopened after an unplug: report by exception then sends the next reading of each
   * document it feeds, changed or not. Optional.
   */
  sourceOnline?(source: RawMessage['source'], origin: string): void;
}

/**
 * A message its input rejected before any mapping (an over-long serial line, bytes outside
 * any frame), handed to `commit` among the others in arrival order: the sink files it as a
 * dead letter with `rejection` (e.g. `too_large: ...`), in its place.
 */
export interface RejectedMessage extends RawMessage {
  rejection: string;
}

/** What a sink may report about a committed group (serial inputs count their rejected lines). */
export interface CommitOutcome {
  /** Messages of the group filed as dead letters (not mapped, or mapped only in part). */
  deadLettered: number;
}

/** One input's state, for status and metrics. */
export interface InputStatus {
  /** `mqtt` or `serial:<port name>`. */
  name: string;
  state: 'starting' | 'connected' | 'disconnected' | 'waiting' | 'stopped';
  /** Messages or lines received since start. */
  received: number;
  /** Messages committed to the queue (mapped or dead-lettered) since start. */
  committed: number;
  lastMessageAt: number | null;
  lastError: { message: string; at: number } | null;
}

/** The start/stop contract every input follows. */
export interface Input {
  start(): Promise<void>;
  /** Stops taking new messages; commits and acknowledges what it holds; safe to call twice. */
  stop(): Promise<void>;
  status(): InputStatus;
}
