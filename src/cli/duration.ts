/**
 * Times and durations on the command line: `--since 2h`, `--until 2024-05-01T12:00:00Z`,
 * `--older-than 7d`. Anything unreadable is a usage error (exit 64) naming the option.
 */
import { AgentError, ErrorCodes } from '../errors.js';

const UNIT_MS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
};

const DURATION = /^(?:\d+(?:\.\d+)?(?:ms|s|m|h|d|w))+$/;
const DURATION_PART = /(\d+(?:\.\d+)?)(ms|s|m|h|d|w)/g;
/** A date (read as UTC midnight), or a date-time that names its zone: a time without a zone
 * would depend on the machine's TZ, and a replay window off by hours loses data silently. */
const ISO = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-]\d{2}(?::?\d{2})?))?$/i;

const WHEN_HELP = 'use a duration ago (90s, 30m, 2h, 7d, 1h30m), an ISO 8601 time with a zone (2024-05-01T12:00:00Z), or epoch ms';

/**
 * A duration in ms: a number and a unit (`ms`, `s`, `m`, `h`, `d`, `w`), several of them
 * summed (`1h30m`); decimals allowed (`1.5h`). `option` names the flag in the error.
 */
export function parseDuration(text: string, option: string): number {
  const t = text.trim();
  if (!DURATION.test(t)) {
    throw new AgentError(ErrorCodes.USAGE, `${option}: cannot read '${text}' as a duration; use e.g. 90s, 30m, 2h, 7d or 1h30m`);
  }
  let ms = 0;
  for (const [, n, unit] of t.matchAll(DURATION_PART)) ms += Number(n) * UNIT_MS[unit!]!;
  return Math.round(ms);
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
  } else if (DURATION.test(t)) {
    return now - parseDuration(t, option);
  } else {
    const ms = parseIso(t);
    if (ms !== null) return ms;
  }
  throw new AgentError(ErrorCodes.USAGE, `${option}: cannot read '${text}' as a time; ${WHEN_HELP}`);
}

/** ISO 8601 with real calendar checks (Date.parse would turn Feb 30 into Mar 1). */
function parseIso(t: string): number | null {
  const m = ISO.exec(t);
  if (!m) return null;
  const [, y, mo, d, h = '0', mi = '0', s = '0', frac = '', zone = 'Z'] = m;
  const year = Number(y);
  const month = Number(mo);
  const day = Number(d);
  const hour = Number(h);
  const minute = Number(mi);
  const second = Number(s);
  if (year < 1970 || month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || second > 59) return null;
  if (day > new Date(Date.UTC(year, month, 0)).getUTCDate()) return null;
  let offsetMin = 0;
  if (zone.toUpperCase() !== 'Z') {
    const z = /^([+-])(\d{2}):?(\d{2})?$/.exec(zone)!;
    const oh = Number(z[2]);
    const om = Number(z[3] ?? '0');
    if (oh > 23 || om > 59) return null;
    offsetMin = (z[1] === '-' ? -1 : 1) * (oh * 60 + om);
  }
  const ms = Number(frac.padEnd(3, '0').slice(0, 3));
  const utc = Date.UTC(year, month - 1, day, hour, minute, second, ms);
  return utc - offsetMin * 60_000;
}
