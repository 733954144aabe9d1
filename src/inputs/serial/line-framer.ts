/**
 * Cuts a serial byte stream into lines (or regex frames). Memory is bounded by
 * `maxLineBytes`: a line that grows beyond it is rejected once, with its first bytes kept,
 * and the rest of it is skipped up to the next delimiter instead of being buffered.
 *
 * The default delimiter is CR/LF tolerant: with `\n`, `\r` or `\r\n`, any CR or LF ends a
 * line and empty lines are skipped, so devices ending lines with CR, LF or CRLF all work.
 */

export interface FrameSink {
  /** A complete line, delimiter removed (a view of the read buffer: copy it to keep it long). */
  line(bytes: Buffer): void;
  /** Bytes that are not a usable line, and why (`too_large: ...`, `parse_error: ...`). */
  reject(bytes: Buffer, reason: string): void;
}

export interface LineFramerOptions {
  delimiter: string;
  frameRegex?: string | undefined;
  maxLineBytes: number;
}

const LF = 10;
const CR = 13;
const EMPTY = Buffer.alloc(0);

export class LineFramer {
  private pending: Buffer = EMPTY;
  /** Bytes of the over-long line being skipped, or -1 when not skipping. */
  private skipped = -1;
  private skippedHead: Buffer = EMPTY;
  private readonly tolerant: boolean;
  private readonly delim: Buffer;
  private readonly re: RegExp | null;

  constructor(
    private readonly options: LineFramerOptions,
    private readonly out: FrameSink,
  ) {
    this.tolerant = ['\n', '\r', '\r\n'].includes(options.delimiter);
    this.delim = Buffer.from(options.delimiter, 'utf8');
    this.re = options.frameRegex === undefined ? null : new RegExp(options.frameRegex, 'g');
  }

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    if (this.re !== null) this.pushRegex(chunk);
    else this.pushDelimited(chunk);
  }

  /**
   * The stream ended (the port closed): a partial line cannot be completed any more and is
   * rejected with `reason`. The framer is then ready for a fresh stream.
   */
  end(reason: string): void {
    if (this.skipped >= 0) this.reportSkipped();
    else if (this.pending.length > 0 && !isBlank(this.pending)) this.out.reject(this.pending, `parse_error: ${reason}`);
    this.pending = EMPTY;
  }

  /** Bytes held for an incomplete line. */
  get buffered(): number {
    return this.pending.length;
  }

  private pushDelimited(chunk: Buffer): void {
    const buf = this.pending.length > 0 ? Buffer.concat([this.pending, chunk]) : chunk;
    const dlen = this.tolerant ? 1 : this.delim.length;
    let start = 0;
    // Next CR and LF at or after `start`, each searched again only once passed (-1: none left),
    // so a chunk of many LF-only lines is scanned once, not once per line.
    let lf = -2;
    let cr = -2;
    for (;;) {
      let at: number;
      if (this.tolerant) {
        if (lf !== -1 && lf < start) lf = buf.indexOf(LF, start);
        if (cr !== -1 && cr < start) cr = buf.indexOf(CR, start);
        at = lf < 0 ? cr : cr < 0 ? lf : Math.min(lf, cr);
      } else {
        at = buf.indexOf(this.delim, start);
      }
      if (at < 0) break;
      if (this.skipped >= 0) {
        this.skipped += at - start;
        this.reportSkipped();
      } else if (at > start) {
        this.frame(buf.subarray(start, at));
      }
      start = at + dlen;
    }
    this.keepRest(buf.subarray(start));
  }

  private pushRegex(chunk: Buffer): void {
    const buf = this.pending.length > 0 ? Buffer.concat([this.pending, chunk]) : chunk;
    // latin1 maps each byte to one char, so string offsets are byte offsets.
    const text = buf.toString('latin1');
    const re = this.re!;
    let pos = 0;
    for (;;) {
      re.lastIndex = pos;
      const m = re.exec(text);
      if (m === null || m[0].length === 0) break;
      if (m.index > pos) this.gap(buf.subarray(pos, m.index));
      this.frame(buf.subarray(m.index, m.index + m[0].length));
      pos = m.index + m[0].length;
    }
    const rest = buf.subarray(pos);
    if (rest.length > this.options.maxLineBytes) {
      // No frame can start in so much text: it is noise (or a frame too long to keep).
      this.gap(rest);
      this.pending = EMPTY;
    } else {
      this.pending = isBlank(rest) ? EMPTY : Buffer.from(rest);
    }
  }

  private frame(bytes: Buffer): void {
    if (bytes.length > this.options.maxLineBytes) {
      this.out.reject(bytes.subarray(0, this.options.maxLineBytes), tooLarge(bytes.length, this.options.maxLineBytes));
    } else if (!this.tolerant && this.re === null && isBlank(bytes)) {
      // An empty line between custom delimiters carries nothing.
    } else {
      this.out.line(bytes);
    }
  }

  private gap(bytes: Buffer): void {
    if (isBlank(bytes)) return;
    const max = this.options.maxLineBytes;
    this.out.reject(bytes.length > max ? bytes.subarray(0, max) : bytes, `parse_error: ${bytes.length} bytes outside any frame (frame_regex)`);
  }

  private keepRest(rest: Buffer): void {
    if (this.skipped >= 0) {
      this.skipped += rest.length;
      this.pending = EMPTY;
    } else if (rest.length > this.options.maxLineBytes) {
      this.skippedHead = Buffer.from(rest.subarray(0, this.options.maxLineBytes));
      this.skipped = rest.length;
      this.pending = EMPTY;
    } else {
      // A copy: a view would keep the whole read buffer alive.
      this.pending = rest.length === 0 ? EMPTY : Buffer.from(rest);
    }
  }

  private reportSkipped(): void {
    this.out.reject(this.skippedHead, tooLarge(this.skipped, this.options.maxLineBytes));
    this.skipped = -1;
    this.skippedHead = EMPTY;
  }
}

function tooLarge(length: number, max: number): string {
  return `too_large: line of ${length} bytes is over max_line_bytes (${max}); its first ${max} bytes are kept`;
}

function isBlank(bytes: Buffer): boolean {
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!;
    if (b !== 32 && b !== 9 && b !== LF && b !== CR) return false;
  }
  return true;
}
