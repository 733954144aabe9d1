/**
 * The staging log (`<queue>-stage`): a small append-only file beside the queue file that
 * holds commit groups until they are flushed into SQLite (staging.ts). Flash wears by the
 * page: a SQLite commit appends two to five WAL frames of 4,120 bytes (each straddles two
 * pages) and fsyncs them, while a group written here with one pwrite at a 4 KiB-aligned
 * offset dirties exactly one page when it fits in one (20 readings of ~60 bytes do).
 *
 * One record per commit group:
 *
 *   magic u32 | slot u32 | crc32 u32 | flags u16 | 0 u16 | count u32 | bodyLen u32 |
 *   firstId f64 | enqueuedAt f64 | fileId u32 | body
 *
 * little endian; `slot` is the record's length rounded up to the alignment (the next record
 * starts `slot` bytes further on), `crc32` covers every byte after itself up to the body's
 * end, the body is the rows' `ins` JSON objects joined by '\n' (deflated when flag 1 is set,
 * which happens only when the plain body would not fit one page). Ids of a record are
 * `firstId`, `firstId + 1`, ... (ids are handed out consecutively). `fileId` is the queue
 * file's (`meta.stage_file_id`): a log left beside a file that was deleted or replaced is
 * not replayed into the new one.
 *
 * After a flush the log is rewound, not truncated: the next group reuses the first page,
 * so the file's size (an inode update, journalled by the filesystem) does not change with
 * every cycle. Records of earlier cycles left behind the current one carry ids that SQLite
 * already holds, and recovery skips them (staging.ts keeps that bound in `meta`).
 */
import { closeSync, fdatasyncSync, fstatSync, ftruncateSync, openSync, readSync, renameSync, writeSync, constants } from 'node:fs';
import { crc32, deflateRawSync, inflateRawSync } from 'node:zlib';

const MAGIC = 0x31535846; // "FXS1"
export const STAGE_HEADER = 44;
/** The unit flash and the page cache write in. */
export const STAGE_PAGE = 4096;
const FLAG_DEFLATE = 1;

/** One commit group as the log holds it. */
export interface StageRecord {
  /** The queue file's id (meta.stage_file_id). */
  fileId: number;
  firstId: number;
  enqueuedAt: number;
  /** Each row's `ins` JSON object. */
  lines: string[];
}

/** Encodes one record padded to a multiple of `align` bytes (the pad is never written). */
export function encodeStageRecord(r: StageRecord, align: number): { buf: Buffer; slot: number } {
  let body = Buffer.from(r.lines.join('\n'), 'utf8');
  let flags = 0;
  if (STAGE_HEADER + body.length > STAGE_PAGE) {
    body = deflateRawSync(body, { level: 6 });
    flags = FLAG_DEFLATE;
  }
  const len = STAGE_HEADER + body.length;
  const slot = Math.ceil(len / align) * align;
  const buf = Buffer.allocUnsafe(len);
  buf.writeUInt32LE(MAGIC, 0);
  buf.writeUInt32LE(slot, 4);
  buf.writeUInt16LE(flags, 12);
  buf.writeUInt16LE(0, 14);
  buf.writeUInt32LE(r.lines.length, 16);
  buf.writeUInt32LE(body.length, 20);
  buf.writeDoubleLE(r.firstId, 24);
  buf.writeDoubleLE(r.enqueuedAt, 32);
  buf.writeUInt32LE(r.fileId, 40);
  body.copy(buf, STAGE_HEADER);
  buf.writeUInt32LE(crc32(buf.subarray(12)), 8);
  return { buf, slot };
}

/**
 * The valid records of a log's bytes, in file order, stopping at the first that is not
 * (short, bad magic, bad crc: a torn tail whose group was never acknowledged).
 */
export function decodeStageRecords(data: Buffer): StageRecord[] {
  const out: StageRecord[] = [];
  let pos = 0;
  while (pos + STAGE_HEADER <= data.length) {
    if (data.readUInt32LE(pos) !== MAGIC) break;
    const slot = data.readUInt32LE(pos + 4);
    const bodyLen = data.readUInt32LE(pos + 20);
    const end = pos + STAGE_HEADER + bodyLen;
    if (slot < STAGE_HEADER + bodyLen || end > data.length) break;
    if (crc32(data.subarray(pos + 12, end)) !== data.readUInt32LE(pos + 8)) break;
    const flags = data.readUInt16LE(pos + 12);
    const count = data.readUInt32LE(pos + 16);
    let body = data.subarray(pos + STAGE_HEADER, end);
    try {
      if ((flags & FLAG_DEFLATE) !== 0) body = inflateRawSync(body);
    } catch {
      break;
    }
    const lines = count === 0 ? [] : body.toString('utf8').split('\n');
    if (lines.length !== count) break;
    out.push({ fileId: data.readUInt32LE(pos + 40), firstId: data.readDoubleLE(pos + 24), enqueuedAt: data.readDoubleLE(pos + 32), lines });
    pos += slot;
  }
  return out;
}

/** The log file: positioned writes, each made durable before `append` returns (when `sync`). */
export class StageLog {
  private fd: number | null = null;
  private offset = 0;
  private stale = false;

  constructor(
    readonly path: string,
    /** fdatasync each record (`synchronous: full`). */
    private readonly sync: boolean,
    /** Records start at multiples of this: a page when synced (one page per group), else 8 (packed). */
    private readonly align = sync ? STAGE_PAGE : 8,
    /** Size the file is given at open (zeros): the log's usual extent. */
    private readonly preallocate = 0,
  ) {}

  /** Bytes of the log in use (records since the last rewind, with their padding). */
  get bytes(): number {
    return this.offset;
  }

  /** Opens (creates) the file and returns the records it holds. */
  open(): StageRecord[] {
    if (this.fd === null) this.fd = openSync(this.path, constants.O_RDWR | constants.O_CREAT, 0o600);
    this.offset = 0;
    const size = fstatSync(this.fd).size;
    const data = Buffer.allocUnsafe(size);
    let got = 0;
    while (got < size) {
      const n = readSync(this.fd, data, got, size - got, got);
      if (n === 0) break;
      got += n;
    }
    // Read once; reset() follows once the records are safe (the read may leave large folios
    // in the page cache, and the file has not been given its size yet).
    this.stale = true;
    return decodeStageRecords(data.subarray(0, got));
  }

  /** True until a reset() gave the file its size (emptied and preallocated). */
  get needsReset(): boolean {
    return this.stale;
  }

  /**
   * Empties the file and gives it its size again, from the first page, once nothing in it is
   * needed (after recovery). Reading the file at open may have left it in the page cache as
   * large folios (Linux 6.x), and a write into a folio dirties all of it: measured, each
   * 2 KB group then counted 1 MiB written. A truncate drops them. `preallocate` false (a
   * tight disk): only emptied, the next reset tries again.
   */
  reset(preallocate: boolean): void {
    const fd = this.openFd();
    ftruncateSync(fd, 0);
    this.offset = 0;
    this.stale = !(preallocate && this.preallocateFrom(0));
  }

  /**
   * Zeros up to the preallocated size, a page per write (one write of 1 MiB makes one 1 MiB
   * folio, see reset), never with fallocate (its unwritten extents are converted, a journalled
   * metadata change, at every first write): from now on a group overwrites a page of a file
   * whose size stays put, so its fdatasync writes that page and nothing else.
   */
  private preallocateFrom(size: number): boolean {
    if (size >= this.preallocate) return true;
    const fd = this.openFd();
    const zeros = Buffer.alloc(STAGE_PAGE);
    try {
      for (let at = size; at < this.preallocate; at += STAGE_PAGE) writeSync(fd, zeros, 0, STAGE_PAGE, at);
      if (this.sync) fdatasyncSync(fd);
      return true;
    } catch {
      // The disk filled meanwhile: give the space back; the file grows as groups come.
      ftruncateSync(fd, size);
      return false;
    }
  }

  /** Writes one record at the current offset; durable on return when `sync`. Returns the bytes written. */
  append(r: StageRecord): number {
    const fd = this.openFd();
    const { buf, slot } = encodeStageRecord(r, this.align);
    const n = writeSync(fd, buf, 0, buf.length, this.offset);
    if (n !== buf.length) throw Object.assign(new Error(`short write to the staging log (${n} of ${buf.length} bytes)`), { code: 'ENOSPC' });
    if (this.sync) fdatasyncSync(fd);
    this.offset += slot;
    return buf.length;
  }

  /**
   * Best effort after a failed append: spoils the header at the current offset, so that a
   * record written but not made durable (its group was refused) is not taken at recovery.
   */
  spoilTail(): void {
    try {
      writeSync(this.openFd(), Buffer.alloc(4), 0, 4, this.offset);
    } catch {
      // Its ids are below the bound once a later commit stored them, or were never acked.
    }
  }

  /** Empties the file (a clean stop: the next start gives it its size again). */
  truncate(): void {
    ftruncateSync(this.openFd(), 0);
    this.offset = 0;
  }

  /** Moves the file aside to `to` and starts an empty one (records of another queue file). */
  moveAside(to: string): void {
    renameSync(this.path, to);
    this.close();
    this.fd = openSync(this.path, constants.O_RDWR | constants.O_CREAT, 0o600);
    this.offset = 0;
    this.stale = true;
  }

  /** Starts again at the first page (after a flush). */
  rewind(): void {
    this.offset = 0;
  }

  close(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }

  private openFd(): number {
    if (this.fd === null) throw new Error('the staging log is not open');
    return this.fd;
  }
}
