import type { QueueOptions, OnFullPolicy, SynchronousMode } from './types.js';
import { QUEUE_MIGRATIONS, type QueueMigration } from './schema.js';
import { DEFAULT_DECODED_BLOCKS, MAX_DECODED_BLOCKS } from './block-store.js';

export const QUEUE_DEFAULTS = {
  synchronous: 'full' as SynchronousMode,
  /** Sized at start from the filesystem's free space (disk-space.ts). */
  maxBytes: 'auto' as const,
  /**
   * A day of a 1,000-device site at 1 Hz is 86.4 million readings: the row cap leaves room
   * for about three, so that the byte cap (what the queue takes on disk) binds. Nothing in
   * memory grows with the rows queued (leases and acks are bounded by the sender's window).
   */
  maxRows: 250_000_000,
  maxAgeMs: 0,
  onFull: 'drop_oldest' as OnFullPolicy,
  retainSentMs: 24 * 3600 * 1000,
  /** Share of maxBytes that retained sent rows may use. */
  retainSentShare: 0.25,
  deadLetterMaxRows: 100_000,
  startupCheck: 'quick' as const,
  /** Enough for 8 batches in flight (block-store.ts DEFAULT_DECODED_BLOCKS). */
  decodedBlocks: DEFAULT_DECODED_BLOCKS,
};

export interface ResolvedQueueOptions {
  path: string;
  synchronous: SynchronousMode;
  /** The byte cap in force: with `auto`, set by start() from the free space (2 GiB until then). */
  maxBytes: number;
  /** `maxBytes` was `auto`. */
  autoMaxBytes: boolean;
  /** `retainSentBytes` was not given: it follows `maxBytes` (retainSentShare). */
  autoRetainSentBytes: boolean;
  maxRows: number;
  maxAgeMs: number;
  compact: boolean;
  compactTailRows: number;
  onFull: OnFullPolicy;
  retainSentMs: number;
  retainSentBytes: number;
  deadLetterMaxRows: number;
  maxFileBytes: number | undefined;
  decodedBlocks: number;
  startupCheck: 'quick' | 'off';
  migrations: readonly QueueMigration[];
}

export function resolveQueueOptions(o: QueueOptions): ResolvedQueueOptions {
  const setting = o.maxBytes ?? QUEUE_DEFAULTS.maxBytes;
  const maxBytes = setting === 'auto' ? 2 * 1024 ** 3 : setting;
  return {
    path: o.path,
    synchronous: o.synchronous ?? QUEUE_DEFAULTS.synchronous,
    maxBytes,
    autoMaxBytes: setting === 'auto',
    autoRetainSentBytes: o.retainSentBytes === undefined,
    maxRows: o.maxRows ?? QUEUE_DEFAULTS.maxRows,
    maxAgeMs: o.maxAgeMs ?? QUEUE_DEFAULTS.maxAgeMs,
    compact: o.compact ?? true,
    compactTailRows: o.compactTailRows ?? 100_000,
    onFull: o.onFull ?? QUEUE_DEFAULTS.onFull,
    retainSentMs: o.retainSentMs ?? QUEUE_DEFAULTS.retainSentMs,
    retainSentBytes: o.retainSentBytes ?? Math.floor(maxBytes * QUEUE_DEFAULTS.retainSentShare),
    deadLetterMaxRows: o.deadLetterMaxRows ?? QUEUE_DEFAULTS.deadLetterMaxRows,
    maxFileBytes: o.maxFileBytes,
    decodedBlocks: Math.min(MAX_DECODED_BLOCKS, Math.max(1, Math.floor(o.decodedBlocks ?? QUEUE_DEFAULTS.decodedBlocks))),
    startupCheck: o.startupCheck ?? QUEUE_DEFAULTS.startupCheck,
    migrations: o.migrations ?? QUEUE_MIGRATIONS,
  };
}

/** Sets the byte cap once `auto` is resolved; retainSentBytes follows unless it was given. */
export function setMaxBytes(o: ResolvedQueueOptions, maxBytes: number): void {
  o.maxBytes = maxBytes;
  if (o.autoRetainSentBytes) o.retainSentBytes = Math.floor(maxBytes * QUEUE_DEFAULTS.retainSentShare);
}

/** Rows and bytes above the caps if `addRows`/`addBytes` were stored now (<= 0: fits). */
export interface Excess {
  rows: number;
  bytes: number;
}

export function excessOf(
  usedRows: number,
  usedBytes: number,
  addRows: number,
  addBytes: number,
  caps: { maxRows: number; maxBytes: number },
): Excess {
  return { rows: usedRows + addRows - caps.maxRows, bytes: usedBytes + addBytes - caps.maxBytes };
}

export function isOver(e: Excess): boolean {
  return e.rows > 0 || e.bytes > 0;
}

/** Takes a freed row off the excess. */
export function free(e: Excess, bytes: number): void {
  e.rows -= 1;
  e.bytes -= bytes;
}
