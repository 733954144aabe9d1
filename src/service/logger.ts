/**
 * Logging set-up: pino JSON on stdout (journald picks it up), one child logger per
 * component, secrets redacted by path, and a rate limiter for warnings that can repeat
 * thousands of times (bad payloads, a dead server).
 */
import pino, { type Logger, type LevelWithSilent, type DestinationStream } from 'pino';

export type { Logger };

/** Paths whose values are replaced by "[redacted]" wherever they appear in a log object. */
export const REDACT_PATHS = [
  'apiKey', 'api_key', 'password', 'secret', 'token',
  '*.apiKey', '*.api_key', '*.password', '*.secret', '*.token',
  'config.fluxiondb.api_key', 'config.mqtt.password',
];

export function createLogger(level: LevelWithSilent = 'info', destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: { name: 'fluxion-edge' },
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    destination ?? pino.destination({ fd: 1, sync: false }),
  );
}

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
    const t = this.now();
    const entry = this.last.get(key);
    if (entry !== undefined && t - entry.at < this.intervalMs) {
      entry.suppressed++;
      return;
    }
    const suppressed = entry?.suppressed ?? 0;
    this.last.set(key, { at: t, suppressed: 0 });
    if (this.last.size > 1000) this.last.delete(this.last.keys().next().value as string);
    this.logger.warn(suppressed > 0 ? { ...obj, suppressed } : obj, msg);
  }
}
