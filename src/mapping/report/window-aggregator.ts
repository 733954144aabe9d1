/**
 * Downsampling windows for one rule: the readings of a document within a wall-clock-aligned
 * window become one record, `ts` = the window start, `data` = `<field>_<function>` for each
 * aggregated field plus the other fields of the window's last reading (tags stay). Pure: the
 * caller passes the reading times and the current time; no clock, no timers.
 *
 * A window closes when `close(now)` finds now >= end + grace. Readings that arrive after
 * their window closed:
 * - a reading of the document's most recently closed window is folded into it and the
 *   window is written again, whole, at the same ts (the server overwrites it: a correction);
 * - a reading of an older window is dropped and counted (`lateDropped`).
 * Accumulators hold sums and extremes only, so a window's state is a few numbers per field
 * whatever its length, and it can be saved and restored as JSON (see WindowStore).
 */
import type { AggregateFunction, CompiledAggregate } from './spec.js';

export interface FieldAcc {
  n: number;
  sum: number;
  min: number;
  max: number;
  first: number;
  last: number;
  /** Reading time of `first` and `last`, so a late reading keeps first/last in time order. */
  firstAt: number;
  lastAt: number;
}

/** The state of one document's window; plain data (saved as JSON). */
export interface WindowAcc {
  col: string;
  doc: string;
  /** Window start, ms since the epoch. */
  start: number;
  /** Window length, ms (a window saved under another length is not resumed by this rule). */
  length: number;
  readings: number;
  fields: Record<string, FieldAcc>;
  /** The other fields of the newest reading (tags, unaggregated fields). */
  other: Record<string, unknown>;
  otherAt: number;
  /** Values of aggregated fields that were not numbers: left out, counted. */
  nonNumeric: number;
}

export type AddOutcome =
  | { kind: 'open'; acc: WindowAcc }
  /** The reading belonged to the last closed window: write `acc` again. */
  | { kind: 'corrected'; acc: WindowAcc }
  | { kind: 'late' };

export class WindowAggregator {
  lateDropped = 0;
  corrected = 0;
  evicted = 0;
  /** Open windows per document key (usually one; two around a boundary within the grace). */
  private readonly open = new Map<string, Map<number, WindowAcc>>();
  /** The most recently closed window of each document, for late readings. */
  private readonly closed = new Map<string, WindowAcc>();
  /** Open windows pushed out by the document bound: closed early at the next close(). */
  private forced: Array<{ key: string; acc: WindowAcc }> = [];

  constructor(
    readonly spec: CompiledAggregate,
    private readonly maxDocuments = 100_000,
  ) {}

  windowStart(tsMs: number): number {
    return Math.floor(tsMs / this.spec.windowMs) * this.spec.windowMs;
  }

  /** Folds one reading into its window. */
  add(key: string, col: string, doc: string, tsMs: number, data: Record<string, unknown>): AddOutcome {
    const start = this.windowStart(tsMs);
    let wins = this.open.get(key);
    let acc = wins?.get(start);
    if (acc === undefined) {
      const last = this.closed.get(key);
      if (last !== undefined && start <= last.start) {
        if (start < last.start) {
          this.lateDropped++;
          return { kind: 'late' };
        }
        this.fold(last, tsMs, data);
        this.corrected++;
        return { kind: 'corrected', acc: last };
      }
      acc = { col, doc, start, length: this.spec.windowMs, readings: 0, fields: {}, other: {}, otherAt: 0, nonNumeric: 0 };
      if (wins === undefined) {
        if (this.open.size >= this.maxDocuments) this.evictOldest();
        wins = new Map();
        this.open.set(key, wins);
      }
      wins.set(start, acc);
    }
    this.fold(acc, tsMs, data);
    return { kind: 'open', acc };
  }

  /** Closes every window whose end + grace is at or before `nowMs`; returns them, oldest first. */
  close(nowMs: number): Array<{ key: string; acc: WindowAcc }> {
    const out = this.forced;
    this.forced = [];
    const limit = this.spec.windowMs + this.spec.graceMs;
    for (const [key, wins] of this.open) {
      for (const [start, acc] of wins) {
        if (start + limit > nowMs) continue;
        wins.delete(start);
        this.rememberClosed(key, acc);
        out.push({ key, acc });
      }
      if (wins.size === 0) this.open.delete(key);
    }
    return out.sort((a, b) => a.acc.start - b.acc.start);
  }

  /** Every open window (to close them all on a config change, or for status). */
  openWindows(): Array<{ key: string; acc: WindowAcc }> {
    const out: Array<{ key: string; acc: WindowAcc }> = [];
    for (const [key, wins] of this.open) for (const acc of wins.values()) out.push({ key, acc });
    return out;
  }

  /** Puts back a window saved before a restart (it goes on collecting readings). */
  restore(key: string, acc: WindowAcc): void {
    let wins = this.open.get(key);
    if (wins === undefined) {
      wins = new Map();
      this.open.set(key, wins);
    }
    wins.set(acc.start, acc);
  }

  /** The record `data` of a window. */
  render(acc: WindowAcc): Record<string, unknown> {
    const data: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(acc.other)) data[k] = v;
    for (const f of this.spec.fields) {
      const a = acc.fields[f];
      for (const fn of this.spec.functions) {
        const v = a === undefined ? (fn === 'count' ? 0 : undefined) : value(a, fn);
        if (v !== undefined) data[`${f}_${fn}`] = v;
      }
    }
    return data;
  }

  private fold(acc: WindowAcc, tsMs: number, data: Record<string, unknown>): void {
    acc.readings++;
    const aggregated = this.spec.fields;
    for (const f of aggregated) {
      const v = data[f];
      if (v === undefined) continue;
      if (typeof v !== 'number' || !Number.isFinite(v)) {
        acc.nonNumeric++;
        continue;
      }
      const a = acc.fields[f];
      if (a === undefined) {
        acc.fields[f] = { n: 1, sum: v, min: v, max: v, first: v, last: v, firstAt: tsMs, lastAt: tsMs };
        continue;
      }
      a.n++;
      a.sum += v;
      if (v < a.min) a.min = v;
      if (v > a.max) a.max = v;
      if (tsMs < a.firstAt) {
        a.first = v;
        a.firstAt = tsMs;
      }
      if (tsMs >= a.lastAt) {
        a.last = v;
        a.lastAt = tsMs;
      }
    }
    if (tsMs >= acc.otherAt) {
      const other: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(data)) if (!aggregated.includes(k)) other[k] = v;
      acc.other = other;
      acc.otherAt = tsMs;
    }
  }

  /** Never drops readings: the evicted document's windows are closed early (and counted). */
  private evictOldest(): void {
    const oldest = this.open.keys().next();
    if (oldest.done === true) return;
    for (const acc of this.open.get(oldest.value)!.values()) this.forced.push({ key: oldest.value, acc });
    this.open.delete(oldest.value);
    this.evicted++;
  }

  private rememberClosed(key: string, acc: WindowAcc): void {
    const prev = this.closed.get(key);
    if (prev !== undefined && prev.start >= acc.start) return;
    this.closed.delete(key);
    if (this.closed.size >= this.maxDocuments) {
      const oldest = this.closed.keys().next();
      if (oldest.done !== true) this.closed.delete(oldest.value);
    }
    this.closed.set(key, acc);
  }
}

function value(a: FieldAcc, fn: AggregateFunction): number {
  switch (fn) {
    case 'mean':
      return a.sum / a.n;
    case 'min':
      return a.min;
    case 'max':
      return a.max;
    case 'first':
      return a.first;
    case 'last':
      return a.last;
    case 'sum':
      return a.sum;
    case 'count':
      return a.n;
  }
}
