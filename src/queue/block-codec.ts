/**
 * The body of one `blocks` row: many queued rows stored together, columnar, deflated.
 * A reading such as {"temperature":21.5,"humidity":40.2} costs about 86 bytes of file as a
 * row of its own (SQLite's per-row and index overhead alone is near 25); in a block the
 * collection and document become dictionary indexes, ids, timestamps, enqueue times and
 * sizes deltas, and deflate folds the repeated JSON keys of the data. Data is kept as JSON
 * string literals (escaped), so a lease pastes it into the `ins` payload as it is: the drain
 * decodes a block once and builds no row objects (rows are made only when asked for).
 */
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import type { QueuedRecord } from './types.js';

/** Format of the body, first field of the JSON: a newer agent may add others. */
const VERSION = 1;

interface Body {
  v: number;
  /** Collections and documents, each once. */
  c: string[];
  d: string[];
  /** Per row: id delta, col index, doc index, ts delta, enqueue-time delta, size delta. */
  i: number[];
  ci: number[];
  di: number[];
  t: number[];
  e: number[];
  b: number[];
  /** Per row: the data as a JSON string literal. */
  x: string[];
}

/** Encodes rows (ascending id, at least one) as a block body. */
export function encodeBlock(rows: readonly QueuedRecord[]): Buffer {
  const cols = new Map<string, number>();
  const docs = new Map<string, number>();
  const n = rows.length;
  const body: Body = { v: VERSION, c: [], d: [], i: new Array(n), ci: new Array(n), di: new Array(n), t: new Array(n), e: new Array(n), b: new Array(n), x: new Array(n) };
  let id = 0;
  let ts = 0;
  let enq = 0;
  let bytes = 0;
  for (let k = 0; k < n; k++) {
    const r = rows[k]!;
    let c = cols.get(r.col);
    if (c === undefined) cols.set(r.col, (c = body.c.push(r.col) - 1));
    let d = docs.get(r.doc);
    if (d === undefined) docs.set(r.doc, (d = body.d.push(r.doc) - 1));
    body.i[k] = r.id - id;
    body.ci[k] = c;
    body.di[k] = d;
    body.t[k] = r.ts - ts;
    body.e[k] = r.enqueuedAt - enq;
    body.b[k] = r.bytes - bytes;
    body.x[k] = JSON.stringify(r.data);
    id = r.id;
    ts = r.ts;
    enq = r.enqueuedAt;
    bytes = r.bytes;
  }
  return deflateRawSync(JSON.stringify(body), { level: 6 });
}

/** A decoded block, columnar; `rows` are built on first use. */
export class DecodedBlock {
  readonly n: number;
  readonly ids: Float64Array;
  readonly ts: Float64Array;
  readonly enq: Float64Array;
  readonly bytes: Float64Array;
  readonly colOf: Uint32Array;
  readonly docOf: Uint32Array;
  readonly cols: string[];
  readonly docs: string[];
  /** Data as JSON string literals. */
  readonly dataJson: string[];
  readonly colJson: string[];
  readonly docJson: string[];
  private rowsCache: QueuedRecord[] | undefined;

  constructor(body: Uint8Array) {
    const b = JSON.parse(inflateRawSync(body).toString('utf8')) as Body;
    if (b.v !== VERSION) throw new Error(`queue block format ${String(b.v)} is not one this agent knows`);
    const n = (this.n = b.i.length);
    this.ids = new Float64Array(n);
    this.ts = new Float64Array(n);
    this.enq = new Float64Array(n);
    this.bytes = new Float64Array(n);
    this.colOf = Uint32Array.from(b.ci);
    this.docOf = Uint32Array.from(b.di);
    this.cols = b.c;
    this.docs = b.d;
    this.dataJson = b.x;
    this.colJson = b.c.map((s) => JSON.stringify(s));
    this.docJson = b.d.map((s) => JSON.stringify(s));
    let id = 0;
    let ts = 0;
    let enq = 0;
    let bytes = 0;
    for (let k = 0; k < n; k++) {
      this.ids[k] = id += b.i[k]!;
      this.ts[k] = ts += b.t[k]!;
      this.enq[k] = enq += b.e[k]!;
      this.bytes[k] = bytes += b.b[k]!;
    }
  }

  /** Index of the first row with id >= `id` (n when none). */
  indexOf(id: number): number {
    let lo = 0;
    let hi = this.n;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.ids[mid]! < id) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  row(k: number): QueuedRecord {
    if (this.rowsCache !== undefined) return this.rowsCache[k]!;
    return {
      id: this.ids[k]!,
      col: this.cols[this.colOf[k]!]!,
      doc: this.docs[this.docOf[k]!]!,
      ts: this.ts[k]!,
      data: JSON.parse(this.dataJson[k]!) as string,
      bytes: this.bytes[k]!,
      enqueuedAt: this.enq[k]!,
    };
  }

  get rows(): QueuedRecord[] {
    if (this.rowsCache === undefined) {
      const out = new Array<QueuedRecord>(this.n);
      for (let k = 0; k < this.n; k++) out[k] = this.row(k);
      this.rowsCache = out;
    }
    return this.rowsCache;
  }
}

export function decodeBlock(body: Uint8Array): DecodedBlock {
  return new DecodedBlock(body);
}
