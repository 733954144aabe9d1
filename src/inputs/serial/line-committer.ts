/**
 * Commits serial lines to the sink in small groups. A line has nothing to acknowledge, but a
 * commit per line costs an fsync per line at `synchronous: full` (measured: about 1,800
 * single-row commits/s, against 180,000 rows/s batched), and wears an SD card (each commit
 * writes whole 4 KiB pages: 8 to 12 KB for one line); so lines read within `delayMs` of the
 * first one share a commit (at most MAX_GROUP_LINES). Nothing upstream holds a line for us,
 * so `delayMs` (`commit_delay`, 250 ms by default) is also the loss window of a crash or a
 * power cut.
 *
 * A commit refused for a full queue keeps its group and retries that very group (the sink
 * recognises it and does not map it twice) after `waitForRoom()`; meanwhile the port is
 * paused, so the device's own flow control (or the kernel buffer) holds the rest. A commit
 * refused for a full disk (after the queue made what room it could) drops the group,
 * counted as `disk_full` (a device does not resend; a paused port would lose the lines
 * uncounted in the kernel buffer), and reading goes on.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { ErrorCodes, isAgentError } from '../../errors.js';
import { RateLimitedLog } from '../../shared/rate-limited-log.js';
import type { MessageSink, RawMessage, RejectedMessage } from '../types.js';

export const MAX_GROUP_LINES = 1000;
const RETRY_MS = 1000;
const LOG_INTERVAL_MS = 10_000;

export interface LineCommitterDeps {
  sink: MessageSink;
  logger: Logger;
  /** Stop reading the port (backpressure) / read again. */
  pause(): void;
  resume(): void;
  now: () => number;
}

export class LineCommitter {
  /** Lines committed (mapped or dead-lettered). */
  committed = 0;
  /** Lines the sink dead-lettered. */
  deadLettered = 0;
  /** Readings dropped because the disk was full (reason `disk_full`). */
  droppedDiskFull = 0;
  /** True while commits are refused (queue or disk full). */
  waiting = false;
  lastError: { message: string; at: number } | null = null;
  private open: Array<RawMessage | RejectedMessage> = [];
  private readonly ready: Array<Array<RawMessage | RejectedMessage>> = [];
  private timer: NodeJS.Timeout | null = null;
  private retrying = false;
  private stopped = false;
  private readonly aborter = new AbortController();
  private readonly logs: RateLimitedLog;

  constructor(
    private readonly delayMs: number,
    private readonly deps: LineCommitterDeps,
  ) {
    this.logs = new RateLimitedLog(deps.logger, LOG_INTERVAL_MS, deps.now);
  }

  /** A line, or a line the framer rejected (committed in its place, so dead letters keep arrival order). */
  add(line: RawMessage | RejectedMessage): void {
    this.open.push(line);
    if (this.open.length >= MAX_GROUP_LINES) this.flush();
    else if (this.timer === null) this.timer = setTimeout(this.onTimer, this.delayMs);
  }

  /** Commits what is held now (the port closed: lines read must not wait for more). */
  flush(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    if (this.open.length > 0) {
      this.ready.push(this.open);
      this.open = [];
    }
    this.drain();
  }

  /** Lines read but not committed yet. */
  held(): number {
    let n = this.open.length;
    for (const g of this.ready) n += g.length;
    return n;
  }

  /**
   * Commits what is held if the sink takes it now (one try), and stops retrying. Returns the
   * number of lines that could not be committed (lost: a serial device cannot resend them).
   */
  stop(): number {
    this.flush();
    this.stopped = true;
    this.aborter.abort();
    const lost = this.held();
    this.ready.length = 0;
    return lost;
  }

  private readonly onTimer = (): void => {
    this.timer = null;
    this.flush();
  };

  private drain(): void {
    if (this.retrying) return;
    while (this.ready.length > 0) {
      const group = this.ready[0]!;
      try {
        const outcome = this.deps.sink.commit(group);
        this.deadLettered += outcome?.deadLettered ?? 0;
      } catch (err) {
        this.lastError = { message: (err as Error).message, at: this.deps.now() };
        if (isAgentError(err, ErrorCodes.QUEUE_DISK_FULL) && this.deps.sink.dropRefused !== undefined) {
          // A device does not resend, and holding lines in memory on a full disk only delays
          // the loss: count them as dropped (reason disk_full) and keep reading the port.
          const n = this.deps.sink.dropRefused(group);
          this.ready.shift();
          this.droppedDiskFull += n;
          this.logs.warn('dropped', { dropped: this.droppedDiskFull }, 'disk full: serial readings that cannot be stored are dropped (counted as disk_full)');
          continue;
        }
        if (!this.stopped) this.retryLater(err);
        return;
      }
      this.ready.shift();
      this.committed += group.length;
    }
    if (this.waiting) {
      this.waiting = false;
      this.deps.resume();
      this.deps.logger.info('queue accepts lines again; reading the port');
    }
  }

  private retryLater(err: unknown): void {
    this.retrying = true;
    if (!this.waiting) {
      this.waiting = true;
      this.deps.pause();
    }
    const signal = this.aborter.signal;
    let wait: Promise<void>;
    if (isAgentError(err, ErrorCodes.QUEUE_FULL)) {
      this.logs.warn('full', { lines: this.held() }, 'queue full: reading of the port paused until there is room');
      wait = this.deps.sink.waitForRoom(signal);
    } else if (isAgentError(err, ErrorCodes.QUEUE_DISK_FULL)) {
      this.logs.warn('disk', { lines: this.held() }, 'disk full: reading of the port paused, retrying');
      wait = sleep(RETRY_MS, undefined, { signal });
    } else {
      const e = err as Error & { code?: unknown };
      this.logs.error('bug', { lines: this.held(), err: e.message, code: e.code, stack: e.stack }, 'COMMIT FAILED UNEXPECTEDLY: holding lines and retrying (this is a bug)');
      wait = sleep(RETRY_MS, undefined, { signal });
    }
    wait
      .catch(() => undefined)
      .then(() => {
        this.retrying = false;
        if (!this.stopped) this.drain();
      });
  }
}
