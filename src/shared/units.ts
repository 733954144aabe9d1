/**
 * The value types the config (and the rule schema in mapping/) shares: durations, sizes,
 * instants, and documented enums.
 * Each accepts what a person would write ("15s", "2GiB") and what `${VAR}` substitution
 * leaves behind (a string), and yields a plain number (ms, bytes) to the components. The
 * JSON Schema keeps both spellings (string pattern or number), so an editor still helps.
 */
import { z } from 'zod';

const DURATION_UNITS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };
/** Parts of a number and a unit, summed ("1h30m"); a space may stand between a number and its unit ("2 s"), not between parts. */
const DURATION_PARTS_RE = /^\s*(?:\d+(?:\.\d+)?\s*(?:ms|s|m|h|d|w))+\s*$/;
const DURATION_PART = /(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)/g;
const BARE_MS_RE = /^\s*\d+(?:\.\d+)?\s*$/;
const DURATION_PATTERN = '^\\s*((\\d+(\\.\\d+)?\\s*(ms|s|m|h|d|w))+|\\d+(\\.\\d+)?)\\s*$';
export const DURATION_HELP = 'a duration such as "500ms", "15s", "5m", "24h", "7d", or a number of milliseconds';

const SIZE_UNITS: Readonly<Record<string, number>> = {
  b: 1, kb: 1e3, mb: 1e6, gb: 1e9, tb: 1e12, kib: 2 ** 10, mib: 2 ** 20, gib: 2 ** 30, tib: 2 ** 40,
};
const SIZE_RE = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]i?b|b)?\s*$/i;
const SIZE_PATTERN = '^\\s*\\d+(\\.\\d+)?\\s*([kKmMgGtT][iI]?[bB]|[bB])?\\s*$';
export const SIZE_HELP = 'a size such as "512KiB", "1MiB", "2GB" (GB = 10^9 bytes, GiB = 2^30), or a number of bytes';

/**
 * The one duration parser (config and command line): "15s", "1.5h", "1h30m", "2w" into
 * milliseconds; a number, or digits without a unit, are milliseconds. Null when it is not a
 * whole number of milliseconds >= 0.
 */
export function parseDuration(v: string | number): number | null {
  return durationMs(v, true);
}

/** The same, without bare numbers (the command line, where "7" is more likely a slip than 7 ms). */
export function parseDurationWithUnit(text: string): number | null {
  return durationMs(text, false);
}

function durationMs(v: string | number, bareNumber: boolean): number | null {
  if (typeof v === 'number') return bareNumber && Number.isSafeInteger(v) && v >= 0 ? v : null;
  let ms: number;
  if (DURATION_PARTS_RE.test(v)) {
    ms = 0;
    for (const [, n, unit] of v.matchAll(DURATION_PART)) ms += Number(n) * DURATION_UNITS[unit!]!;
  } else if (bareNumber && BARE_MS_RE.test(v)) {
    ms = Number(v);
  } else {
    return null;
  }
  // 1.1h is 3960000.0000000005 in floating point: that is still a whole number of ms.
  const whole = Math.round(ms);
  return Math.abs(ms - whole) < 1e-6 && Number.isSafeInteger(whole) ? whole : null;
}

/** A date (read as UTC midnight), or a date-time that names its zone: a time without a zone
 * would depend on the machine's TZ, and a window off by hours loses data silently. */
const ISO_RE = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-]\d{2}(?::?\d{2})?))?$/i;

/**
 * The one ISO 8601 parser (config instants, `--since`, `--received-at`): ms since the epoch,
 * or null. Real calendar checks: Date.parse would turn 30 February into 1 March.
 */
export function parseIsoInstant(text: string): number | null {
  const m = ISO_RE.exec(text.trim());
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
  return Date.UTC(year, month - 1, day, hour, minute, second, ms) - offsetMin * 60_000;
}

/** Parses "2GiB" / "512 KB" / 1024 into bytes; null when it is not a size. */
export function parseSize(v: string | number): number | null {
  if (typeof v === 'number') return Number.isSafeInteger(v) && v >= 0 ? v : null;
  const m = SIZE_RE.exec(v);
  if (m === null) return null;
  const bytes = Number(m[1]) * SIZE_UNITS[(m[2] ?? 'b').toLowerCase()]!;
  return Number.isSafeInteger(bytes) ? bytes : null;
}

interface Bounds {
  /** Smallest accepted value (ms or bytes). Default 0. */
  min?: number;
  /** Largest accepted value (ms or bytes). */
  max?: number;
}

function unitValue(kind: 'duration' | 'size', pattern: string, help: string, parse: (v: string | number) => number | null, show: (n: number) => string, b: Bounds) {
  const min = b.min ?? 0;
  return z
    .union(
      [
        z.number().int({ error: `must be ${help}` }).min(0, { error: `must be ${help}` }),
        z.string().regex(new RegExp(pattern), { error: `must be ${help}` }),
      ],
      { error: `must be ${help}` },
    )
    .transform((v, ctx) => {
      const n = parse(v);
      if (n === null) {
        ctx.issues.push({ code: 'custom', input: v, message: `must be ${help}${typeof v === 'number' ? ' (a whole number, >= 0)' : ''}` });
        return z.NEVER;
      }
      // Negative: a keyword (sizeOrAuto's `auto`), mapped by the caller; no value is negative.
      if (n < 0) return n;
      if (n < min) ctx.issues.push({ code: 'custom', input: v, message: `must be at least ${show(min)}` });
      else if (b.max !== undefined && n > b.max) ctx.issues.push({ code: 'custom', input: v, message: `must be at most ${show(b.max)}` });
      return n;
    })
    .meta({ 'x-kind': kind });
}

/** A duration, yielding milliseconds. */
export function duration(b: Bounds = {}) {
  return unitValue('duration', DURATION_PATTERN, DURATION_HELP, parseDuration, formatDuration, b);
}

/** A size, yielding bytes. */
export function size(b: Bounds = {}) {
  return unitValue('size', SIZE_PATTERN, SIZE_HELP, parseSize, formatSize, b);
}

/** A size, or `auto` (the component sizes it at run time): yields bytes or the string `'auto'`. */
export function sizeOrAuto(b: Bounds = {}) {
  const help = `"auto" or ${SIZE_HELP}`;
  return unitValue('size', `^\\s*auto\\s*$|${SIZE_PATTERN}`, help, (v) => (typeof v === 'string' && v.trim() === 'auto' ? -1 : parseSize(v)), formatSize, b).transform(
    (n): number | 'auto' => (n === -1 ? 'auto' : n),
  );
}

/** An instant: an ISO 8601 date-time with a zone, or milliseconds since the epoch; yields ms. */
export function instant() {
  const help = 'an ISO 8601 date-time with a zone (e.g. "2020-01-01T00:00:00Z") or milliseconds since the epoch';
  return z
    .union([z.number(), z.string()], { error: `must be ${help}` })
    .transform((v, ctx) => {
      let ms: number | null;
      if (typeof v === 'number') ms = v;
      else if (/^\d+$/.test(v.trim())) ms = Number(v.trim());
      else ms = parseIsoInstant(v);
      if (ms === null || !Number.isSafeInteger(ms) || ms < 0) {
        ctx.issues.push({ code: 'custom', input: v, message: `must be ${help}` });
        return z.NEVER;
      }
      return ms;
    })
    .meta({ 'x-kind': 'instant' });
}

/** A whole number within bounds. */
export function int(min: number, max: number = Number.MAX_SAFE_INTEGER) {
  return z.number().int().min(min).max(max);
}

/** "15s" rather than 15000 in messages and docs. */
export function formatDuration(ms: number): string {
  for (const [unit, f] of [['d', 86_400_000], ['h', 3_600_000], ['m', 60_000], ['s', 1000]] as const) {
    if (ms >= f && ms % f === 0) return `${ms / f}${unit}`;
  }
  return `${ms}ms`;
}

/** "8MiB" rather than 8388608 in messages and docs. */
export function formatSize(bytes: number): string {
  // The largest unit that divides evenly: 2e9 is "2GB", not "1953125KiB".
  let best = `${bytes} bytes`;
  let bestF = 1;
  for (const [unit, f] of [['KB', 1e3], ['KiB', 2 ** 10], ['MB', 1e6], ['MiB', 2 ** 20], ['GB', 1e9], ['GiB', 2 ** 30], ['TB', 1e12], ['TiB', 2 ** 40]] as const) {
    if (bytes >= f && bytes % f === 0 && f > bestF) {
      best = `${bytes / f}${unit}`;
      bestF = f;
    }
  }
  return best;
}
