import type { FluxionRecord } from '../client/types.js';
import type { WireStats } from './wire-meter.js';

/** A queued record as the sender sees it: the record plus its queue row id. */
export interface QueuedRow extends FluxionRecord {
  id: number;
}

/** A batch of rows the queue handed out; held in memory only, so a crash forgets it. */
export interface SenderLease {
  /** The rows (an encoded lease reads them from the queue on first use). */
  readonly records: readonly QueuedRow[];
  readonly count: number;
  /**
   * The rows' `ins` JSON array escaped as the inside of the frame's `data` string, in UTF-8
   * parts, when the queue built it; null to send `records`.
   */
  readonly escaped: readonly Buffer[] | null;
  /** The newest record of the lease. */
  readonly last: FluxionRecord;
}

/**
 * What the sender needs from the queue (the SQLite queue implements it as is), so the
 * sender can be reasoned about on its own.
 */
export interface SenderQueue<L extends SenderLease = SenderLease> {
  /**
   * Leases the oldest unsent, unleased rows with id >= minId; with `olderToo`, fills the
   * rest of the batch with the oldest rows below minId (sent after them). Null when there are none.
   * Every row passes validateRecord: the queue refuses (dead-letters) the others at append.
   */
  lease(req: { maxRecords: number; maxBytes: number; minId?: number; olderToo?: boolean }): L | null;
  /** Marks the lease's rows sent (all, or only `ids`): the server acked them. */
  ack(lease: L, ids?: readonly number[]): unknown;
  /** Gives the lease's remaining rows back to the pool, to be leased again. */
  release(lease: L): void;
  /** Moves leased rows to the dead-letter table with a reason. */
  deadLetterLeased(lease: L, ids: readonly number[], reason: string): unknown;
  /** The highest row id appended so far (0 for an empty queue). */
  newestId(): number;
  /** When the newest ack on file was recorded, ms since the epoch; null when none is retained. */
  lastAckedAt(): number | null;
  /** Rows acked at or after `sentSinceMs`, ascending by id, in pages (a page may be empty and not done). */
  resendCandidates(
    sentSinceMs: number,
    opts: { afterId?: number; limit: number },
  ): { rows: readonly QueuedRow[]; nextAfterId: number; done: boolean };
}

/** What the sender needs from the FluxionDB client. */
export interface SenderClient {
  connect(opts?: { signal?: AbortSignal }): Promise<void>;
  insertMultipleRecords(records: FluxionRecord[], opts?: { timeoutMs?: number }): Promise<void>;
  /** `ins` with the records' JSON array already escaped as the inside of the frame's `data` string, in UTF-8 parts. */
  insertEscapedRecords(parts: readonly Buffer[], opts?: { timeoutMs?: number }): Promise<void>;
  close(): Promise<void> | void;
  /** Bytes the client's sockets wrote so far (after compression); absent: not counted. */
  readonly bytesSent?: number;
  /** `open` fires each time a connection becomes ready, `close` each time one ends. */
  on(event: 'open' | 'close', listener: (info: unknown) => void): unknown;
  off(event: 'open' | 'close', listener: (info: unknown) => void): unknown;
}

export type SendOrder = 'live_first' | 'oldest_first';

export interface SenderOptions {
  /** Most records in one `ins` frame. Default 1000. */
  batchMaxRecords: number;
  /** Most bytes of records in one frame (approximate). Default 1 MiB. */
  batchMaxBytes: number;
  /** How long a partial batch may wait for more readings when traffic is light, in ms. Default 20. */
  lingerMs: number;
  /** Batches in flight at once on the connection. Default 8. */
  window: number;
  /** Time allowed for the server's ack of one batch, in ms. Default 15000. */
  requestTimeoutMs: number;
  /** First reconnect delay ceiling, in ms (full jitter). Default 500. */
  backoffBaseMs: number;
  /** Largest reconnect delay ceiling, in ms. Default 30000. */
  backoffCapMs: number;
  /** A connection that stayed up this long resets the backoff, in ms. Default 60000. */
  backoffResetAfterMs: number;
  /** Delay between retries after authentication or permission was refused, in ms. Default 60000. */
  authRetryMs: number;
  /** Records per second cap for sending (replay pacing); 0 means no cap. Default 0. */
  maxRecordsPerSecond: number;
  /**
   * Cap on bytes per second on the wire (after compression, as the client's socket counts
   * them); 0 means no cap. Default 0.
   */
  maxBytesPerSecond: number;
  /** `live_first` sends fresh readings ahead of a backlog; `oldest_first` drains strictly in order. Default live_first. */
  order: SendOrder;
  /**
   * After every (re)connect that may have followed a server crash, re-send what was acked in
   * this many ms before the last ack preceding the lost link (not before the reconnect: an
   * outage's length must not matter). Default 30000.
   */
  resendAfterReconnectMs: number;
}

export const DEFAULT_SENDER_OPTIONS: Readonly<SenderOptions> = Object.freeze({
  batchMaxRecords: 1000,
  batchMaxBytes: 1024 * 1024,
  lingerMs: 20,
  window: 8,
  requestTimeoutMs: 15_000,
  backoffBaseMs: 500,
  backoffCapMs: 30_000,
  backoffResetAfterMs: 60_000,
  authRetryMs: 60_000,
  maxRecordsPerSecond: 0,
  maxBytesPerSecond: 0,
  order: 'live_first',
  resendAfterReconnectMs: 30_000,
});

export type SenderState = 'idle' | 'connecting' | 'connected' | 'backoff' | 'auth_failed' | 'stopped';

export interface SenderStatus {
  state: SenderState;
  /** Connections that reached `ready`. */
  connections: number;
  /** Connection attempts that failed or connections that dropped. */
  reconnects: number;
  inFlightBatches: number;
  sentRecords: number;
  sentBatches: number;
  /** Records sent again after reconnects (acked before, possibly lost by a server that died). */
  resentRecords: number;
  /** Reconnects after which the server still held the newest ack, so nothing was re-sent. */
  resendsSkipped: number;
  deadLettered: number;
  /** Batches held back while a poison record is being isolated. */
  isolating: number;
  lastAckAt: number | null;
  lastError: { code: string; message: string; at: number } | null;
  /** Bytes on the wire (see WireMeter); absent in statuses written by older agents. */
  wire?: WireStats;
}
