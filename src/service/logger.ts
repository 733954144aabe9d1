/**
 * Logging set-up: pino JSON on stdout (journald picks it up), one child logger per
 * component, secrets redacted by path. (Warnings that can repeat thousands of times go
 * through `RateLimitedLog`, shared/rate-limited-log.ts.)
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
