import type { FluxionRecord } from '../client/types.js';
import type { QueueMigration } from './schema.js';
import type { DiskStatus } from './disk-space.js';

export type { DiskStatus };

/** What the queue does when an append would exceed `maxBytes` or `maxRows` (after pruning sent rows). */
export type OnFullPolicy = 'drop_oldest' | 'drop_newest' | 'block';

/** SQLite `synchronous` in WAL mode. */
export type SynchronousMode = 'full' | 'normal' | 'off';

export interface QueueOptions {
  /** Path of the SQLite file. Its directory is created if missing. Required. */
  path: string;
  /**
   * How hard a commit waits for the disk. Default `'full'`.
   * - `'full'`: every commit fsyncs the WAL, so a committed append survives a power loss.
   *   Cost: one fsync per transaction (about 1-20 ms on SD cards), which is why inputs
   *   group many readings per append.
   * - `'normal'`: fsync only at checkpoints. Never corrupts the file, but a power loss can
   *   lose the last transactions committed before it (a crash of the agent alone loses nothing).
   * - `'off'`: no fsync at all; a power loss can corrupt the file. Tests and tmpfs only.
   */
  synchronous?: SynchronousMode;
  /**
   * Cap on the sum of row sizes (unsent + retained sent rows), in bytes. Default `'auto'`:
   * half of the space the queue's filesystem has at start (its free space plus the queue's
   * own files), at least 1 MiB and at most 4 GiB (disk-space.ts).
   */
  maxBytes?: number | 'auto';
  /**
   * Cap on the number of rows (unsent + retained sent rows). Default 10,000,000 (about
   * 1 GiB of 100-byte readings, a week of a busy gateway's backlog).
   */
  maxRows?: number;
  /**
   * Unsent rows older than this are dropped by `prune()` (reason `max_age`), in ms.
   * Default 0 = no age limit: the age comes from the wall clock, and a gateway that booted
   * in 1970 and then synced NTP would see every queued reading as 55 years old. The byte
   * and row caps bound the disk anyway.
   */
  maxAgeMs?: number;
  /**
   * Store queued rows many to a row, compressed (compaction.ts), at `prune()`. Default true;
   * false keeps one row per reading (the layout before schema 6), e.g. to compare them.
   */
  compact?: boolean;
  /**
   * The newest this many ids stay plain rows (compaction leaves them): a short outage
   * drains at SQLite's own encoding speed, and a small disk fills as before. Default 100,000
   * (about 9 MB of rows, 0.1 byte a reading over a day-long outage of 86.4 million).
   */
  compactTailRows?: number;
  /**
   * Commit groups are staged in a log beside the file (`<path>-stage`, one page per group)
   * while no sender leases, and moved into the file as blocks at most this often, in ms
   * (staging.ts). Default 5,000; 0: appends go straight to SQLite (a log left by a crash is
   * still recovered at start when no other process has the file open). Needs `compact`.
   */
  stageFlushMs?: number;
  /** Policy when a cap is reached after sent rows were pruned. Default `'drop_oldest'`. */
  onFull?: OnFullPolicy;
  /** How long sent rows are kept for replay and resend, in ms. Default 86,400,000 (24 h). */
  retainSentMs?: number;
  /** Cap on the bytes of retained sent rows. Default 25 % of `maxBytes`. */
  retainSentBytes?: number;
  /** Cap on stored dead letters; the oldest are purged first (counted as `dead_letter_cap`). Default 100,000. */
  deadLetterMaxRows?: number;
  /**
   * Hard ceiling on the database file size in bytes (SQLite `max_page_count`); a write that
   * would grow the file beyond it fails like a full disk (`EDGE_ERR_QUEUE_DISK_FULL`).
   * Default: none. Useful to keep a shared partition's last bytes free.
   */
  maxFileBytes?: number;
  /**
   * Decoded blocks kept in memory (about 0.3 MB each). A batch in flight holds a block or
   * two, and its ack reads them again once the later batches' leases have read theirs: the
   * cache must outlast the sender's window, or acks inflate their blocks a second time.
   * Default 16, enough for 8 batches in flight (`sender.window`'s default); the agent sets
   * it to twice its window, at least 16. At most 256 (about 80 MB).
   */
  decodedBlocks?: number;
  /**
   * Check the file at start with `PRAGMA quick_check` and move a corrupt file aside.
   * `quick_check` reads every page (seconds per GiB on SD cards) but skips the index
   * cross-checks that make `integrity_check` take minutes on 10M rows. Default `'quick'`.
   */
  startupCheck?: 'quick' | 'off';
  /** Schema migrations, applied in order. Default `QUEUE_MIGRATIONS`. */
  migrations?: readonly QueueMigration[];
}

/** A pino-compatible subset; the queue logs only rare events (corruption, disk full). */
export interface QueueLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface QueueDeps {
  logger?: QueueLogger;
  /** Clock in ms since the epoch. Default `Date.now`. */
  now?: () => number;
}

/** Why records left the queue without being sent. */
export const DropReasons = {
  MAX_AGE: 'max_age',
  FULL_DROP_OLDEST: 'queue_full_drop_oldest',
  FULL_DROP_NEWEST: 'queue_full_drop_newest',
  DEAD_LETTER_CAP: 'dead_letter_cap',
  /** Readings an input could not store nor hold back (serial, polled) while the disk was full. */
  DISK_FULL: 'disk_full',
} as const;
export type DropReason = (typeof DropReasons)[keyof typeof DropReasons];

/** A queued reading as handed out by `lease`, `leaseSent` and `resendCandidates`. */
export interface QueuedRecord extends FluxionRecord {
  /** Row id: ascending in append order within one process run. */
  id: number;
  /** Size counted against the caps: col, doc and data lengths in UTF-16 units, plus 16. */
  bytes: number;
  /** When the record was appended, ms since the epoch. */
  enqueuedAt: number;
}

export interface SentRecord extends QueuedRecord {
  /** When the batch holding it was acked, ms since the epoch. */
  sentAt: number;
}

export interface AppendResult {
  /** Records of this call now stored. */
  accepted: number;
  /** Records of this call not stored (`drop_newest`, or a batch larger than the cap). */
  rejected: number;
  /** All records this call dropped: rejected new ones plus evicted old ones. */
  dropped: number;
  droppedByReason: Partial<Record<DropReason, number>>;
  /** Records of this call that fail the record checks (validateRecord): dead-lettered. */
  invalid: number;
}

export interface LeaseRequest {
  /** Most rows in the batch. */
  maxRecords: number;
  /** Most bytes in the batch; the first row is taken even if larger. */
  maxBytes: number;
  /** Lease only rows with id >= minId. Default 0. */
  minId?: number;
  /**
   * With `minId`: after the rows at or above it, fill the batch with the oldest rows below
   * it (live_first: live readings first, topped up from the backlog). Default false.
   */
  olderToo?: boolean;
}

/** A batch handed to the sender; held in memory only, so a crash forgets it. */
export interface Lease {
  readonly leaseId: number;
  /**
   * The rows leased, in the order they are sent: ascending id (with `olderToo`, those at or
   * above `minId` first, then the older ones, each part ascending). An encoded lease reads
   * them from the file on first use.
   */
  readonly records: readonly QueuedRecord[];
  /** How many rows were leased. */
  readonly count: number;
  /** Sum of the records' `bytes`. */
  readonly bytes: number;
  /**
   * The rows as the JSON array an `ins` request carries, when every row passed the record
   * checks; null when the rows must be looked at one by one. Built from `escaped` when asked.
   */
  readonly payload: string | null;
  /**
   * `payload` JSON-escaped, as it goes inside the quotes of the frame's `data` string, in
   * UTF-8 parts (block rows are stored so: sent with no decoding or escaping); null with it.
   */
  readonly escaped: readonly Buffer[] | null;
  /** The newest record of the lease. */
  readonly last: FluxionRecord;
}

export interface SentQuery {
  /** Enqueued at or after this time, ms. */
  sinceMs: number;
  /** Enqueued before this time, ms. Default: no bound. */
  untilMs?: number;
  col?: string;
  doc?: string;
  /** Page cursor: return rows with id > afterId. Default 0. */
  afterId?: number;
  /** Most rows per page. */
  limit: number;
}

/** A page of rows; keep calling with `afterId: nextAfterId` until `done`. */
export interface RecordPage<T> {
  rows: T[];
  nextAfterId: number;
  done: boolean;
}

export interface DeadLetterInput {
  /** Why it failed, e.g. `mapping_no_rule`, `server_rejected`. */
  reason: string;
  /** Where it came from: `mqtt`, `serial`, `sender`. */
  source: string;
  /** Topic or port. */
  origin?: string | null;
  /** The raw message (bytes or text). */
  payload?: Buffer | string | null;
  /** The record, when one exists (it can then be re-queued as is). */
  record?: FluxionRecord | null;
}

export interface DeadLetter {
  id: number;
  /** When it was dead-lettered, ms since the epoch. */
  at: number;
  reason: string;
  source: string;
  origin: string | null;
  payload: Buffer | string | null;
  record: FluxionRecord | null;
}

/** Which dead letters a listing returns. */
export interface DeadLetterFilter {
  /** Only ids above this (paging). Default 0. */
  afterId?: number;
  /** Most rows. Default 100. */
  limit?: number;
  /** Only this reason code: the part of `reason` before the first `:` (e.g. `no_rule`). */
  reason?: string;
  /** Only this source (`mqtt`, `serial`, `sender`, `queue`, ...). */
  source?: string;
}

/** Dead letters per reason code and source. */
export interface DeadLetterSummary {
  reason: string;
  source: string;
  count: number;
}

export interface RetryDeadLettersOptions {
  /** Dead letters to retry; default all (oldest first, up to `limit`). */
  ids?: readonly number[];
  /** Most dead letters per call. Default 1,000. */
  limit?: number;
  /**
   * Turns a dead letter into records (e.g. re-runs the mapping on its payload); return
   * null to leave it in place, or `{ reason }` to leave it in place with that new reason
   * (it still cannot be mapped, now for this reason). Default: its stored record, or null
   * if it has none. Runs inside the transaction: synchronous.
   */
  remap?: (dl: DeadLetter) => FluxionRecord[] | null | { reason: string };
}

export interface RetryDeadLettersResult {
  /** Dead letters removed because their records were queued again. */
  retried: number;
  /** Records appended. */
  records: number;
  /** Dead letters left in place (no record, or remap returned null or a new reason). */
  skipped: number;
  /** Of those skipped, the ones remap gave a new reason. */
  reasonsUpdated?: number;
}

export interface PruneResult {
  /** Retained sent rows deleted. */
  prunedSent: number;
  /** Unsent rows dropped for age. */
  droppedMaxAge: number;
  /** True if work was left for the next call (each call is bounded). */
  more: boolean;
}

export interface QueueStats {
  /** Unsent rows, leased included. */
  depth: number;
  /** Bytes of unsent rows: their logical size (collection, document and data lengths + 16). */
  bytes: number;
  retainedRows: number;
  /** Logical bytes of retained sent rows. */
  retainedBytes: number;
  /**
   * Bytes on disk (compressed) of unsent rows, which `maxBytes` counts: a plain row its
   * logical size, a row compacted into a block its share of the block's stored size.
   */
  storedBytes: number;
  /** Bytes on disk (compressed) of retained sent rows, which `retainSentBytes` and `maxBytes` count. */
  retainedStoredBytes: number;
  /** Enqueue time of the oldest unsent row, or null when none. */
  oldestUnsentEnqueuedAt: number | null;
  oldestUnsentAgeMs: number | null;
  /** Totals since the file was created (persisted). */
  appended: number;
  sent: number;
  prunedSent: number;
  dropped: number;
  droppedByReason: Record<string, number>;
  deadLettered: number;
  deadLetterDepth: number;
  /**
   * Estimated bytes written to the WAL since the file was created: pages dirtied per
   * transaction × (page size + 24-byte frame header). A checkpoint copies each page once
   * more into the main file, so the device sees up to about twice this.
   */
  bytesWritten: number;
  corruptFilesMovedAside: number;
  /** Rows currently leased (0 in read-only mode). */
  leased: number;
  leases: number;
  /** Highest row id appended so far (0 when empty). */
  newestId: number;
}

/** Facts about the open file, for status and tests. */
export interface QueueInfo {
  path: string;
  schemaVersion: number;
  journalMode: string;
  /** 0 off, 1 normal, 2 full (as SQLite reports it). */
  synchronous: number;
  pageSize: number;
  readonly: boolean;
}

export interface CorruptFileInfo {
  path: string;
  /** Where the file went (its -wal and -shm got the same name plus suffix). */
  movedTo: string;
  /** What the check or the open reported. */
  reason: string;
  at: number;
}

export interface QueueStartInfo {
  schemaVersion: number;
  /** Version before migrations ran (0 for a new file). */
  migratedFrom: number;
  /** Set when a corrupt file was moved aside and a fresh queue started. */
  corrupt: CorruptFileInfo | null;
}

export interface QueueEvents {
  dropped: [{ reason: DropReason; count: number }];
  /** The disk became full (`full: true`) or usable again, with why and the disk's state. */
  disk: [{ full: boolean; why: string; status: DiskStatus }];
  room: [];
  corrupt: [CorruptFileInfo];
}
