/**
 * Progress of a long command on stderr. On a terminal: one line redrawn in place with `\r`,
 * at most 10 times a second. Elsewhere (a log, a pipe, systemd's journal) a redrawn line
 * would be noise, so plain lines instead: one when 5 s passed or another 10 % was done.
 */

/** Least time between two redraws on a terminal, in ms. */
const TTY_REDRAW_MS = 100;
/** Least time between two plain lines when no 10 % step was crossed, in ms. */
const PLAIN_INTERVAL_MS = 5000;
/** Plain lines also come at each tenth of the total. */
const PLAIN_STEPS = 10;

export interface ProgressOptions {
  /** Prefix of plain lines, e.g. `replay` gives `replay: 12000/30000 records`. */
  label: string;
  /** What is counted, e.g. `records`. */
  unit: string;
  /** Expected final count; 0 when nothing is to be done. */
  total: number;
  /** Where to write (stderr, so that stdout keeps only the result). */
  stream: { write(chunk: string): unknown };
  /** Draw a bar redrawn in place (true) or print plain lines (false). */
  isTTY: boolean;
  /** Clock in ms. Default `Date.now`. */
  now?: () => number;
  /** Characters inside the bar's brackets. Default 20. */
  barWidth?: number;
}

export class Progress {
  private readonly now: () => number;
  private readonly startedAt: number;
  private done = 0;
  private updated = false;
  private finished = false;
  /** Time of the last redraw or plain line; -Infinity before the first. */
  private lastOutputAt = Number.NEGATIVE_INFINITY;
  private lastPrintedDone = 0;
  private lastLineLength = 0;

  constructor(private readonly options: ProgressOptions) {
    this.now = options.now ?? Date.now;
    this.startedAt = this.now();
  }

  /** Reports that `done` units are finished so far (a running total, not an increment). */
  update(done: number): void {
    if (this.finished) return;
    this.done = done;
    this.updated = true;
    const t = this.now();
    if (this.options.isTTY) {
      if (t - this.lastOutputAt >= TTY_REDRAW_MS) this.draw(t);
      return;
    }
    if (done === this.lastPrintedDone) return;
    const lastPlain = Number.isFinite(this.lastOutputAt) ? this.lastOutputAt : this.startedAt;
    if (t - lastPlain >= PLAIN_INTERVAL_MS || this.step(done) > this.step(this.lastPrintedDone)) this.printLine(t);
  }

  /**
   * Shows the final count and ends the line; call it on success and before printing an
   * error, so the error does not land in the middle of a bar. Safe to call twice.
   */
  finish(): void {
    if (this.finished) return;
    this.finished = true;
    if (!this.updated) return;
    const t = this.now();
    if (this.options.isTTY) {
      this.draw(t);
      this.options.stream.write('\n');
    } else if (this.done !== this.lastPrintedDone) {
      this.printLine(t);
    }
  }

  private step(done: number): number {
    const total = this.options.total;
    return total > 0 ? Math.floor((Math.min(done, total) * PLAIN_STEPS) / total) : 0;
  }

  private draw(t: number): void {
    const { total, unit } = this.options;
    const width = this.options.barWidth ?? 20;
    const filled = total > 0 ? Math.min(width, Math.floor((this.done * width) / total)) : width;
    const elapsedS = (t - this.startedAt) / 1000;
    const rate = elapsedS > 0 ? Math.round(this.done / elapsedS) : 0;
    const line = `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${groupDigits(this.done)}/${groupDigits(total)} ${unit} ${groupDigits(rate)}/s`;
    // Spaces, not an ANSI erase, so that dumb terminals show it right too.
    const pad = ' '.repeat(Math.max(0, this.lastLineLength - line.length));
    this.options.stream.write(`\r${line}${pad}`);
    this.lastLineLength = line.length;
    this.lastOutputAt = t;
  }

  private printLine(t: number): void {
    const { label, total, unit } = this.options;
    this.options.stream.write(`${label}: ${this.done}/${total} ${unit}\n`);
    this.lastPrintedDone = this.done;
    this.lastOutputAt = t;
  }
}

/** 12345678 -> `12,345,678`, the same on every machine (no locale). */
export function groupDigits(n: number): string {
  const sign = n < 0 ? '-' : '';
  return sign + String(Math.abs(Math.trunc(n))).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}
