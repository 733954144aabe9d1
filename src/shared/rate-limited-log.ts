import type { Logger } from 'pino';

/**
 * Lets the first occurrence of each key through at once, then at most one line per
 * `intervalMs` carrying how many were suppressed in between. Ten thousand bad payloads
 * become a handful of lines with counts, not ten thousand lines on an SD card.
 */
export class RateLimitedLog {
  private readonly last = new Map<string, { at: number; suppressed: number }>();

  constructor(
    private readonly logger: Logger,
    private readonly intervalMs = 10_000,
    private readonly now: () => number = Date.now,
  ) {}

  warn(key: string, obj: Record<string, unknown>, msg: string): void {
    this.log('warn', key, obj, msg);
  }

  error(key: string, obj: Record<string, unknown>, msg: string): void {
    this.log('error', key, obj, msg);
  }

  private log(level: 'warn' | 'error', key: string, obj: Record<string, unknown>, msg: string): void {
    const t = this.now();
    const entry = this.last.get(key);
    if (entry !== undefined && t - entry.at < this.intervalMs) {
      entry.suppressed++;
      return;
    }
    const suppressed = entry?.suppressed ?? 0;
    this.last.set(key, { at: t, suppressed: 0 });
    if (this.last.size > 1000) this.last.delete(this.last.keys().next().value as string);
    this.logger[level](suppressed > 0 ? { ...obj, suppressed } : obj, msg);
  }
}
