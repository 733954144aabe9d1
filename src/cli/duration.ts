/**
 * Times and durations on the command line: `--since 2h`, `--until 2024-05-01T12:00:00Z`,
 * `--older-than 7d`. Anything unreadable is a usage error (exit 64) naming the option. The
 * parsing itself is the config's (config/schema/units.ts): a duration or a date means the
 * same in both places.
 */
import { parseDurationWithUnit, parseIsoInstant } from '../config/schema/index.js';
import { AgentError, ErrorCodes } from '../errors.js';

const WHEN_HELP = 'use a duration ago (90s, 30m, 2h, 7d, 1h30m), an ISO 8601 time with a zone (2024-05-01T12:00:00Z), or epoch ms';

/**
 * A duration in ms: a number and a unit (`ms`, `s`, `m`, `h`, `d`, `w`), several of them
 * summed (`1h30m`); decimals allowed (`1.5h`). `option` names the flag in the error.
 */
export function parseDuration(text: string, option: string): number {
  const ms = parseDurationWithUnit(text);
  if (ms === null) {
    throw new AgentError(ErrorCodes.USAGE, `${option}: cannot read '${text}' as a duration; use e.g. 90s, 30m, 2h, 7d or 1h30m`);
  }
  return ms;
}

/**
 * A point in time in ms since the epoch: a duration before `now` (`2h`), an ISO 8601 date
 * or date-time with a zone, or epoch ms (digits only).
 */
export function parseWhen(text: string, option: string, now: number): number {
  const t = text.trim();
  if (/^\d+$/.test(t)) {
    const ms = Number(t);
    if (Number.isSafeInteger(ms)) return ms;
  } else {
    const ms = parseDurationWithUnit(t);
    if (ms !== null) return now - ms;
    const at = parseIsoInstant(t);
    if (at !== null) return at;
  }
  throw new AgentError(ErrorCodes.USAGE, `${option}: cannot read '${text}' as a time; ${WHEN_HELP}`);
}
