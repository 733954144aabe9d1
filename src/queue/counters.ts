import type { Database, Statement } from 'better-sqlite3';
import { MetaKeys } from './schema.js';
import type { QueueStats } from './types.js';

const STORED_FROM = [
  [MetaKeys.UNSENT_STORED, MetaKeys.UNSENT_BYTES],
  [MetaKeys.RETAINED_STORED, MetaKeys.RETAINED_BYTES],
] as const;

/**
 * The queue's counters, held in memory (stats() reads them for free) and written to `meta`
 * inside the transaction that changed them, so they stay exact across crashes and start
 * costs one small read instead of a COUNT over millions of rows. Only changed keys are
 * written; they all live on one page, so this adds one page per commit.
 */
export class QueueCounters {
  private values = new Map<string, number>();
  private dirty = new Set<string>();

  load(db: Database): void {
    this.values.clear();
    this.dirty.clear();
    const rows = db.prepare('SELECT key, value FROM meta').all() as Array<{ key: string; value: unknown }>;
    for (const r of rows) if (typeof r.value === 'number') this.values.set(r.key, r.value);
    // A file of an agent that counted logical bytes only: its rows take their logical size
    // (its blocks, format 1, too), so the stored counters start equal to the logical ones.
    for (const [stored, logical] of STORED_FROM) {
      if (!this.values.has(stored)) this.set(stored, this.get(logical));
    }
  }

  get(key: string): number {
    return this.values.get(key) ?? 0;
  }

  add(key: string, delta: number): void {
    if (delta === 0) return;
    this.values.set(key, this.get(key) + delta);
    this.dirty.add(key);
  }

  set(key: string, value: number): void {
    if (this.values.get(key) === value) return;
    this.values.set(key, value);
    this.dirty.add(key);
  }

  /** Marks `key` to be written with the next flush even if unchanged. */
  touch(key: string): void {
    this.dirty.add(key);
  }

  get hasDirty(): boolean {
    return this.dirty.size > 0;
  }

  /**
   * Writes changed keys; call inside the transaction that changed them. `less(key)`: what
   * the file must hold less than memory (rows staged outside it, staging.ts).
   */
  flush(upsert: Statement, less: (key: string) => number = () => 0): void {
    for (const key of this.dirty) upsert.run(key, (this.values.get(key) ?? 0) - less(key));
    this.dirty.clear();
  }

  /** For rollback: a copy of the state before a transaction. */
  snapshot(): { values: Map<string, number>; dirty: Set<string> } {
    return { values: new Map(this.values), dirty: new Set(this.dirty) };
  }

  restore(s: { values: Map<string, number>; dirty: Set<string> }): void {
    this.values = s.values;
    this.dirty = s.dirty;
  }

  droppedByReason(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [k, v] of this.values) {
      if (k.startsWith(MetaKeys.DROPPED_PREFIX)) out[k.slice(MetaKeys.DROPPED_PREFIX.length)] = v;
    }
    return out;
  }
}

/** A QueueStats from the counters and what only the caller knows. */
export function statsFrom(
  c: QueueCounters,
  x: { oldest: number | null; now: number; deadLetterDepth: number; leased: number; leases: number; newestId: number },
): QueueStats {
  const droppedByReason = c.droppedByReason();
  return {
    depth: c.get(MetaKeys.UNSENT_ROWS),
    bytes: c.get(MetaKeys.UNSENT_BYTES),
    retainedRows: c.get(MetaKeys.RETAINED_ROWS),
    retainedBytes: c.get(MetaKeys.RETAINED_BYTES),
    storedBytes: c.get(MetaKeys.UNSENT_STORED),
    retainedStoredBytes: c.get(MetaKeys.RETAINED_STORED),
    oldestUnsentEnqueuedAt: x.oldest,
    oldestUnsentAgeMs: x.oldest === null ? null : Math.max(0, x.now - x.oldest),
    appended: c.get(MetaKeys.APPENDED),
    sent: c.get(MetaKeys.SENT),
    prunedSent: c.get(MetaKeys.PRUNED_SENT),
    dropped: Object.values(droppedByReason).reduce((a, b) => a + b, 0),
    droppedByReason,
    deadLettered: c.get(MetaKeys.DEAD_LETTERED),
    deadLetterDepth: x.deadLetterDepth,
    bytesWritten: c.get(MetaKeys.BYTES_WRITTEN),
    corruptFilesMovedAside: c.get(MetaKeys.CORRUPT_MOVED),
    leased: x.leased,
    leases: x.leases,
    newestId: x.newestId,
  };
}
