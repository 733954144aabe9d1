/**
 * The durable queue: the only owner of the SQLite file.
 *
 * Contract for other components:
 * - inputs call `append(records)` (one transaction, synchronous) and acknowledge their source
 *   only after it returned; `EDGE_ERR_QUEUE_FULL` (onFull 'block') and
 *   `EDGE_ERR_QUEUE_DISK_FULL` mean nothing was stored: hold the acknowledgement, retry after
 *   `waitForRoom()` or a delay.
 * - the sender calls `lease()` for a batch, then `ack(lease)` once the server answered, or
 *   `release(lease)` after a failure; `deadLetterLeased()` isolates a poison record;
 *   `newestId()` + `minId` (+ `olderToo`) give live_first; `resendCandidates()` and `leaseSent()` page
 *   through retained sent rows.
 * - the agent calls `start()`, `prune()` every few seconds, `stats()` for metrics, `stop()`.
 * - `fluxion-edge status` uses `openQueueReadOnly(path)`.
 * - new tables come as a new entry appended to QUEUE_MIGRATIONS; the metadata outbox
 *   (`KvOutbox`, migration 2) lives on `queue.database`, `readKvOutbox(path)` reads it read-only.
 */
export { DEFAULT_DECODED_BLOCKS } from './block-store.js';
export { SqliteQueue } from './sqlite-queue.js';
export { sqliteError } from './sqlite-errors.js';
export { openQueueReadOnly, type ReadOnlyQueue } from './read-only.js';
export { KvOutbox, readKvOutbox, type KvCounts, type KvEntry, type KvKey, type KvOp, type KvSource, type KvState, type KvWrite } from './kv-outbox.js';
export { SparkplugBirths } from './sparkplug-births.js';
export { QUEUE_MIGRATIONS, applyMigrations, latestVersion, MetaKeys, type QueueMigration } from './schema.js';
export { capWarning, DISK_PLAN, filesystemSpace, planDisk, type DiskPlan } from './disk-space.js';
export { QUEUE_DEFAULTS, resolveQueueOptions, type ResolvedQueueOptions } from './caps.js';
export { isCorruptionError } from './open-queue-file.js';
export { recordBytes, PAGE_SCAN_SPAN } from './record-store.js';
export { WindowStore, type StoredWindow } from './window-store.js';
export * from './types.js';
