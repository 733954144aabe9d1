/**
 * The body of one `blocks` row: many queued rows stored together, columnar, deflated.
 * A reading such as {"temperature":21.5,"humidity":40.2} costs about 86 bytes of file as a
 * row of its own (SQLite's per-row and index overhead alone is near 25); in a block the
 * collection and document become dictionary indexes, ids, timestamps and enqueue times
 * deltas, and deflate folds the repeated JSON keys of the data.
 */
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import type { QueuedRecord } from './types.js';
import { recordBytes } from './record-bytes.js';

/** Format of the body, first field of the JSON: a newer agent may add others. */
const VERSION = 1;

interface Body {
  v: number;
  /** Collections and documents, each once. */
  c: string[];
  d: string[];
  /** Per row: id delta, col index, doc index, ts delta, enqueue-time delta, data. */
  i: number[];
  ci: number[];
  di: number[];
  t: number[];
  e: number[];
  x: string[];
}

/** Encodes rows (ascending id, at least one) as a block body. */
export function encodeBlock(rows: readonly QueuedRecord[]): Buffer {
  const cols = new Map<string, number>();
  const docs = new Map<string, number>();
  const n = rows.length;
  const b: Body = { v: VERSION, c: [], d: [], i: new Array(n), ci: new Array(n), di: new Array(n), t: new Array(n), e: new Array(n), x: new Array(n) };
  let id = 0;
  let ts = 0;
  let enq = 0;
  for (let k = 0; k < n; k++) {
    const r = rows[k]!;
    let c = cols.get(r.col);
    if (c === undefined) cols.set(r.col, (c = b.c.push(r.col) - 1));
    let d = docs.get(r.doc);
    if (d === undefined) docs.set(r.doc, (d = b.d.push(r.doc) - 1));
    b.i[k] = r.id - id;
    b.ci[k] = c;
    b.di[k] = d;
    b.t[k] = r.ts - ts;
    b.e[k] = r.enqueuedAt - enq;
    b.x[k] = r.data;
    id = r.id;
    ts = r.ts;
    enq = r.enqueuedAt;
  }
  return deflateRawSync(JSON.stringify(b), { level: 6 });
}

/** A decoded block: rows ascending by id; `colJson`/`docJson` are the strings as JSON text. */
export interface DecodedBlock {
  rows: QueuedRecord[];
  colJson: string[];
  docJson: string[];
  colOf: Uint32Array;
  docOf: Uint32Array;
}

export function decodeBlock(body: Uint8Array): DecodedBlock {
  const b = JSON.parse(inflateRawSync(body).toString('utf8')) as Body;
  if (b.v !== VERSION) throw new Error(`queue block format ${String(b.v)} is newer than this agent knows`);
  const n = b.i.length;
  const rows = new Array<QueuedRecord>(n);
  const colOf = new Uint32Array(n);
  const docOf = new Uint32Array(n);
  let id = 0;
  let ts = 0;
  let enq = 0;
  for (let k = 0; k < n; k++) {
    id += b.i[k]!;
    ts += b.t[k]!;
    enq += b.e[k]!;
    const col = b.c[b.ci[k]!]!;
    const doc = b.d[b.di[k]!]!;
    const data = b.x[k]!;
    colOf[k] = b.ci[k]!;
    docOf[k] = b.di[k]!;
    rows[k] = { id, col, doc, ts, data, bytes: recordBytes({ col, doc, data }), enqueuedAt: enq };
  }
  return { rows, colJson: b.c.map((s) => JSON.stringify(s)), docJson: b.d.map((s) => JSON.stringify(s)), colOf, docOf };
}
