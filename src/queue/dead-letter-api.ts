import type { EventEmitter } from 'node:events';
import type { FluxionRecord } from '../client/types.js';
import type { QueueCounters } from './counters.js';
import type { DeadLetterStore } from './dead-letters.js';
import { MetaKeys } from './schema.js';
import {
  DropReasons,
  type AppendResult,
  type DeadLetter,
  type DeadLetterFilter,
  type DeadLetterSummary,
  type DeadLetterInput,
  type QueueEvents,
  type RetryDeadLettersOptions,
  type RetryDeadLettersResult,
} from './types.js';

/** What the dead-letter operations borrow from the queue (its transactions and counters). */
export interface DeadLetterHost {
  store(): DeadLetterStore;
  write<T>(op: string, fn: () => T): T;
  appendInTxn(records: readonly FluxionRecord[]): AppendResult;
  afterAppend(result: AppendResult): void;
  counters: QueueCounters;
  now: () => number;
  maxRows: number;
}

/** Dead-letter operations of SqliteQueue, kept apart to keep the queue file readable. */
export class DeadLetterOps {
  constructor(
    private readonly events: EventEmitter<QueueEvents>,
    private readonly host: DeadLetterHost,
  ) {}

  /** Stores dead letters in one transaction; the oldest beyond the cap are purged (counted). */
  addMany(items: readonly DeadLetterInput[]): number {
    if (items.length === 0) return 0;
    const at = this.host.now();
    const purged = this.host.write('deadLetter', () => {
      this.host.store().add(items, at);
      this.host.counters.add(MetaKeys.DEAD_LETTERED, items.length);
      return this.enforceCapInTxn();
    });
    this.emitCap(purged);
    return items.length;
  }

  /** Purges beyond the cap; call inside a transaction, then emitCap() after it. */
  enforceCapInTxn(): number {
    const purged = this.host.store().enforceCap(this.host.maxRows);
    this.host.counters.add(MetaKeys.DROPPED_PREFIX + DropReasons.DEAD_LETTER_CAP, purged);
    return purged;
  }

  emitCap(purged: number): void {
    if (purged > 0) this.events.emit('dropped', { reason: DropReasons.DEAD_LETTER_CAP, count: purged });
  }

  list(opts: DeadLetterFilter = {}): DeadLetter[] {
    if (opts.reason === undefined && opts.source === undefined) return this.host.store().page(opts.afterId ?? 0, opts.limit ?? 100);
    return this.host.store().search(opts);
  }

  summary(): DeadLetterSummary[] {
    return this.host.store().summary();
  }

  count(): number {
    return this.host.store().depth;
  }

  /**
   * Queues dead letters again, in one transaction with their removal (no loss, no
   * duplicate on crash). The queue's caps and onFull policy apply to the records.
   */
  retry(opts: RetryDeadLettersOptions = {}): RetryDeadLettersResult {
    const limit = opts.limit ?? 1000;
    const store = this.host.store();
    let appendResult: AppendResult | undefined;
    const result = this.host.write('retryDeadLetters', () => {
      const picked = opts.ids
        ? opts.ids
            .slice(0, limit)
            .map((id) => store.byId(id))
            .filter((d): d is DeadLetter => d !== undefined)
        : store.page(0, limit);
      const records: FluxionRecord[] = [];
      let retried = 0;
      let skipped = 0;
      let reasonsUpdated = 0;
      for (const dl of picked) {
        const recs = opts.remap ? opts.remap(dl) : dl.record ? [dl.record] : null;
        if (recs !== null && !Array.isArray(recs)) {
          if (store.setReason(dl.id, recs.reason)) reasonsUpdated += 1;
          skipped += 1;
          continue;
        }
        if (!recs) {
          skipped += 1;
          continue;
        }
        records.push(...recs);
        store.delete(dl.id);
        retried += 1;
      }
      appendResult = this.host.appendInTxn(records);
      return { retried, records: appendResult.accepted, skipped, ...(reasonsUpdated > 0 ? { reasonsUpdated } : {}) };
    });
    if (appendResult) this.host.afterAppend(appendResult);
    return result;
  }

  /**
   * Deletes dead letters: the given ids, or those older than `olderThanMs`, or (neither
   * given) all of them. Returns how many.
   */
  purge(opts: { ids?: readonly number[]; olderThanMs?: number } = {}): number {
    const store = this.host.store();
    const before = opts.olderThanMs === undefined ? Number.MAX_SAFE_INTEGER : this.host.now() - opts.olderThanMs;
    return this.host.write('purgeDeadLetters', () => {
      if (opts.ids) return opts.ids.reduce((n, id) => n + (store.delete(id) ? 1 : 0), 0);
      let n = 0;
      for (let k = store.purgeOlderThan(before); k > 0; k = store.purgeOlderThan(before)) n += k;
      return n;
    });
  }
}
