/**
 * Request/response devices (energy meters, Modbus-ASCII-like sensors) answer only when asked:
 * the poller writes a command on a node-cron schedule and expects a line within the response
 * timeout. A missed answer is counted (and logged, rate limited); the device is asked again
 * at the next tick regardless. A tick while the port is absent is counted as skipped.
 */
import cron, { type ScheduledTask } from 'node-cron';
import type { Logger } from 'pino';
import type { SerialPollOptions } from './types.js';

const LOG_INTERVAL_MS = 60_000;

export interface PollerDeps {
  /** Writes the command; false when the port is not open. */
  write(command: Buffer): boolean;
  logger: Logger;
  now: () => number;
}

export class Poller {
  sent = 0;
  answered = 0;
  timeouts = 0;
  skipped = 0;
  private task: ScheduledTask | null = null;
  private timer: NodeJS.Timeout | null = null;
  private lastLogAt = -Infinity;
  private readonly command: Buffer;

  constructor(
    private readonly options: SerialPollOptions,
    encoding: 'utf8' | 'latin1',
    private readonly deps: PollerDeps,
  ) {
    this.command = Buffer.from(options.command, encoding);
  }

  start(): void {
    if (this.task !== null) return;
    this.task = cron.schedule(this.options.schedule, () => this.tick());
  }

  stop(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    const task = this.task;
    this.task = null;
    // destroy() also removes the task from node-cron's registry.
    if (task !== null) void Promise.resolve(task.destroy()).catch(() => undefined);
  }

  /** A line arrived: it answers the pending poll, if any. */
  onLine(): void {
    if (this.timer === null) return;
    clearTimeout(this.timer);
    this.timer = null;
    this.answered++;
  }

  private tick(): void {
    if (this.task === null) return;
    if (this.timer !== null) {
      // Still waiting for the previous answer: the schedule is tighter than the timeout.
      this.onTimeout();
    }
    if (!this.deps.write(this.command)) {
      this.skipped++;
      return;
    }
    this.sent++;
    this.timer = setTimeout(() => this.onTimeout(), this.options.responseTimeoutMs);
  }

  private onTimeout(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.timeouts++;
    const t = this.deps.now();
    if (t - this.lastLogAt < LOG_INTERVAL_MS) return;
    this.lastLogAt = t;
    this.deps.logger.warn({ timeouts: this.timeouts, timeoutMs: this.options.responseTimeoutMs }, 'serial device did not answer the poll command in time');
  }
}
