/**
 * The dev server's in-memory data model: collections of documents of records sorted by
 * `ts`, plus each collection's key/values. It knows nothing of the wire format; the
 * handlers turn its answers into response text. Collection lifetime follows upstream,
 * traps included (see `deleteDocument`).
 */
import type { TextTest } from './matchers.js';
import type { Int64 } from './numbers.js';

/** One stored record. */
export interface StoredRecord {
  /** Exact int64 (a bigint beyond 2^53): timestamps never pass through a double. */
  ts: Int64;
  data: string;
}

export interface Collection {
  /** Document name to its records, ascending by ts. An entry is never left empty. */
  docs: Map<string, StoredRecord[]>;
  kv: Map<string, string>;
}

/** Index of the first record with `ts >= target` (records.length when none). */
function lowerBound(records: StoredRecord[], target: Int64): number {
  let lo = 0;
  let hi = records.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (records[mid]!.ts < target) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Index of the first record with `ts > target`. */
function upperBound(records: StoredRecord[], target: Int64): number {
  let lo = 0;
  let hi = records.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (records[mid]!.ts <= target) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export class MemoryStore {
  private readonly cols = new Map<string, Collection>();
  // Batches usually name one collection: remember the last one to skip a lookup per record.
  private lastColName = '';
  private lastCollection: Collection | undefined;

  collection(col: string): Collection | undefined {
    return this.cols.get(col);
  }

  collectionNames(): string[] {
    return [...this.cols.keys()];
  }

  private ensure(col: string): Collection {
    let c = this.cols.get(col);
    if (c === undefined) {
      c = { docs: new Map(), kv: new Map() };
      this.cols.set(col, c);
    }
    return c;
  }

  /**
   * Writes one record; the same (col, doc, ts) overwrites, so within a batch written in
   * order the last one wins. Appending is the common case (readings arrive in time order)
   * and costs O(1); an older ts costs a binary search and a splice.
   */
  put(col: string, doc: string, ts: Int64, data: string): void {
    let c = this.lastCollection;
    if (c === undefined || col !== this.lastColName) {
      c = this.ensure(col);
      this.lastColName = col;
      this.lastCollection = c;
    }
    const list = c.docs.get(doc);
    if (list === undefined) {
      c.docs.set(doc, [{ ts, data }]);
      return;
    }
    const last = list[list.length - 1]!;
    if (ts > last.ts) {
      list.push({ ts, data });
    } else if (ts === last.ts) {
      last.data = data;
    } else {
      const i = lowerBound(list, ts);
      const at = list[i]!;
      if (at.ts === ts) at.data = data;
      else list.splice(i, 0, { ts, data });
    }
  }

  /**
   * `qry`: per matching document, its latest record with ts <= `ts`; a document whose
   * latest-at-ts record is older than `from` (when non-zero) or fails `test` is left out
   * without looking further back, as upstream does.
   */
  latest(col: string, ts: Int64, docTest: TextTest | null, from: Int64, test: TextTest | null): Array<[string, StoredRecord]> {
    const c = this.cols.get(col);
    const out: Array<[string, StoredRecord]> = [];
    if (c === undefined) return out;
    for (const [doc, list] of c.docs) {
      if (docTest !== null && !docTest(doc)) continue;
      const i = upperBound(list, ts) - 1;
      if (i < 0) continue;
      const rec = list[i]!;
      if (from !== 0 && rec.ts < from) continue;
      if (test !== null && !test(rec.data)) continue;
      out.push([doc, rec]);
    }
    return out;
  }

  /** `qdoc`: records with from <= ts <= to, ascending (or descending), at most `limit` (> 0). */
  range(col: string, doc: string, from: Int64, to: Int64, limit: Int64, reverse: boolean, test: TextTest | null): StoredRecord[] {
    const list = this.cols.get(col)?.docs.get(doc);
    const out: StoredRecord[] = [];
    if (list === undefined) return out;
    const lo = lowerBound(list, from);
    const hi = upperBound(list, to);
    const max = limit > 0 ? Number(limit) : Infinity;
    if (reverse) {
      for (let i = hi - 1; i >= lo && out.length < max; i--) {
        const r = list[i]!;
        if (test === null || test(r.data)) out.push(r);
      }
    } else {
      for (let i = lo; i < hi && out.length < max; i++) {
        const r = list[i]!;
        if (test === null || test(r.data)) out.push(r);
      }
    }
    return out;
  }

  /**
   * `ddoc`. The trap copied from upstream: a collection left without records is deleted
   * together with its key/values, even when it held only key/values and even when the
   * document did not exist. Without `col`, the document goes everywhere and every
   * collection without records goes too.
   */
  deleteDocument(doc: string, col: string | null): void {
    this.lastCollection = undefined;
    if (col !== null) {
      const c = this.cols.get(col);
      if (c === undefined) return;
      c.docs.delete(doc);
      if (c.docs.size === 0) this.cols.delete(col);
      return;
    }
    for (const [name, c] of this.cols) {
      c.docs.delete(doc);
      if (c.docs.size === 0) this.cols.delete(name);
    }
  }

  deleteCollection(col: string): void {
    this.lastCollection = undefined;
    this.cols.delete(col);
  }

  /** `drec`/`dmrec`: never deletes the collection, even when it ends up empty. */
  deleteRecord(col: string, doc: string, ts: Int64): void {
    const c = this.cols.get(col);
    const list = c?.docs.get(doc);
    if (c === undefined || list === undefined) return;
    const i = lowerBound(list, ts);
    if (i < list.length && list[i]!.ts === ts) {
      list.splice(i, 1);
      if (list.length === 0) c.docs.delete(doc);
    }
  }

  /** `drrng`: both bounds inclusive; never deletes the collection. */
  deleteRange(col: string, doc: string, fromTs: Int64, toTs: Int64): void {
    const c = this.cols.get(col);
    const list = c?.docs.get(doc);
    if (c === undefined || list === undefined) return;
    const lo = lowerBound(list, fromTs);
    const hi = upperBound(list, toTs);
    if (hi > lo) list.splice(lo, hi - lo);
    if (list.length === 0) c.docs.delete(doc);
  }

  setValue(col: string, key: string, value: string): void {
    this.ensure(col).kv.set(key, value);
  }

  /** `rval`: removes the key; the collection stays even when nothing is left in it. */
  deleteValue(col: string, key: string): void {
    this.cols.get(col)?.kv.delete(key);
  }

  recordCount(): number {
    let n = 0;
    for (const c of this.cols.values()) for (const list of c.docs.values()) n += list.length;
    return n;
  }
}
