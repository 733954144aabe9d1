/**
 * The body of one `blocks` row: many queued rows stored together, deflated. A reading such
 * as {"temperature":21.5,"humidity":40.2} costs about 86 bytes of file as a row of its own
 * (SQLite's per-row and index overhead alone is near 25); in a block deflate folds what
 * neighbouring rows repeat (JSON keys, collection, document prefix, timestamp prefix).
 *
 * Each row is kept as the exact `ins` JSON object the server takes, `{"ts":..,"doc":..,
 * "data":..,"col":..}`, joined by commas: a lease pastes a slice of the text into its payload
 * as it is, so the drain costs an inflate per block and no work per row (measured: building
 * the objects per row made the drain half as fast as the one-row-per-reading layout). Ids,
 * enqueue times, sizes and text lengths are kept as deltas in a small JSON header.
 */
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import type { QueuedRecord } from './types.js';

/**
 * Format of the body, first field of the header: a newer agent may add others. Version 2 has
 * the layout of 1; it says that the block's rows count against the byte cap by the block's
 * stored size (`blocks.bytes` / `blocks.n` each, block-store.ts), where a version 1 block
 * (written before caps counted stored bytes) counts each row by its logical size. Version 3
 * counts as 2 and keeps each row's text JSON-escaped, as it goes inside the `data` string of
 * an `ins` frame (the protocol encodes the payload twice), with lengths in UTF-8 bytes: a
 * lease then sends slices of the inflated bytes as they are, with no UTF-8 decoding, no
 * escaping and no encoding again (they were 13 %, 8 % and a good part of the garbage of a
 * drain's CPU). The escaping is done once, when the block is written.
 */
const VERSION = 3;
/** The first version whose rows are kept escaped. */
const ESCAPED = 3;

interface Header {
  v: number;
  /** Per row: id delta, enqueue-time delta, size delta, length of its JSON text. */
  i: number[];
  e: number[];
  b: number[];
  l: number[];
}

/** The row as the `ins` payload carries it (the same keys in the same order as SQLite's json_object). */
export function insJson(r: { ts: number; doc: string; data: string; col: string }): string {
  return `{"ts":${r.ts},"doc":${JSON.stringify(r.doc)},"data":${JSON.stringify(r.data)},"col":${JSON.stringify(r.col)}}`;
}

/** A row as a block stores it: `json` is its `ins` object (insJson, or SQLite's json_object). */
export interface BlockRow {
  id: number;
  enqueuedAt: number;
  bytes: number;
  json: string;
}

/** Encodes rows (ascending id, at least one) as a block body (`version` 1 only to rewrite a version 1 block). */
export function encodeBlock(rows: readonly BlockRow[], version = VERSION): Buffer {
  const n = rows.length;
  const h: Header = { v: version, i: new Array(n), e: new Array(n), b: new Array(n), l: new Array(n) };
  const texts = new Array<string>(n);
  let id = 0;
  let enq = 0;
  let bytes = 0;
  const escaped = version >= ESCAPED;
  for (let k = 0; k < n; k++) {
    const r = rows[k]!;
    const text = escaped ? JSON.stringify(r.json).slice(1, -1) : r.json;
    texts[k] = text;
    h.i[k] = r.id - id;
    h.e[k] = r.enqueuedAt - enq;
    h.b[k] = r.bytes - bytes;
    h.l[k] = escaped ? Buffer.byteLength(text) : text.length;
    id = r.id;
    enq = r.enqueuedAt;
    bytes = r.bytes;
  }
  return deflateRawSync(`${JSON.stringify(h)}\n${texts.join(',')}`, { level: 6 });
}

/**
 * A decoded block: ids, enqueue times and sizes as arrays, the rows' JSON as one text (as
 * inflated bytes, escaped, from version 3).
 */
export class DecodedBlock {
  readonly n: number;
  readonly version: number;
  /**
   * What each row counts against the byte cap (version 2: the block's share, set by the
   * block store from `blocks.bytes` / `blocks.n`); null: each row counts its `bytes` (version 1).
   */
  share: number | null = null;
  readonly ids: Float64Array;
  readonly enq: Float64Array;
  readonly bytes: Float64Array;
  /** Start of row k's JSON in `text` (or `raw`); row k ends at `off[k] + len[k]`. */
  private readonly off: Float64Array;
  private readonly len: number[];
  /** Versions 1 and 2: the rows' text. */
  private readonly text: string;
  /** Version 3: the rows' escaped text, as inflated. */
  private readonly raw: Buffer | null;

  constructor(body: Uint8Array) {
    const all = inflateRawSync(body);
    const nl = all.indexOf(10);
    const h = JSON.parse(all.toString('utf8', 0, nl)) as Header;
    if (h.v !== 1 && h.v !== 2 && h.v !== ESCAPED) throw new Error(`queue block format ${String(h.v)} is not one this agent knows`);
    this.version = h.v;
    // The header is ASCII: its byte length is its length in characters.
    this.raw = h.v >= ESCAPED ? all.subarray(nl + 1) : null;
    this.text = h.v >= ESCAPED ? '' : all.toString('utf8', nl + 1);
    const n = (this.n = h.i.length);
    this.ids = new Float64Array(n);
    this.enq = new Float64Array(n);
    this.bytes = new Float64Array(n);
    this.off = new Float64Array(n);
    this.len = h.l;
    let id = 0;
    let enq = 0;
    let bytes = 0;
    let off = 0;
    for (let k = 0; k < n; k++) {
      this.ids[k] = id += h.i[k]!;
      this.enq[k] = enq += h.e[k]!;
      this.bytes[k] = bytes += h.b[k]!;
      this.off[k] = off;
      off += h.l[k]! + 1;
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

  /** Rows a..b-1 as comma-joined `ins` JSON objects (a < b). */
  json(a: number, b: number): string {
    const end = this.off[b - 1]! + this.len[b - 1]!;
    if (this.raw === null) return this.text.slice(this.off[a]!, end);
    return JSON.parse(`"${this.raw.toString('utf8', this.off[a]!, end)}"`) as string;
  }

  /** Rows a..b-1 as `json(a, b)` JSON-escaped (the inside of a JSON string), in UTF-8 (a < b). */
  escaped(a: number, b: number): Buffer {
    const end = this.off[b - 1]! + this.len[b - 1]!;
    if (this.raw !== null) return this.raw.subarray(this.off[a]!, end);
    return Buffer.from(JSON.stringify(this.text.slice(this.off[a]!, end)).slice(1, -1));
  }

  /** What row k counts against the byte cap (stored bytes). */
  stored(k: number): number {
    return this.share ?? this.bytes[k]!;
  }

  /** Stored bytes of rows a..b-1. */
  storedOf(a: number, b: number): number {
    if (b <= a) return 0;
    if (this.share !== null) return this.share * (b - a);
    let s = 0;
    for (let k = a; k < b; k++) s += this.bytes[k]!;
    return s;
  }

  blockRow(k: number): BlockRow {
    return { id: this.ids[k]!, enqueuedAt: this.enq[k]!, bytes: this.bytes[k]!, json: this.json(k, k + 1) };
  }

  row(k: number): QueuedRecord {
    const r = JSON.parse(this.json(k, k + 1)) as { ts: number; doc: string; data: string; col: string };
    return { id: this.ids[k]!, col: r.col, doc: r.doc, ts: r.ts, data: r.data, bytes: this.bytes[k]!, enqueuedAt: this.enq[k]! };
  }
}

export function decodeBlock(body: Uint8Array): DecodedBlock {
  return new DecodedBlock(body);
}
