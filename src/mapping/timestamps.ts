/**
 * Timestamp conversion from a payload unit to the output unit. Numbers written as decimal
 * text are shifted by powers of ten on their digits, not multiplied as floats, so
 * `1700000000.123` s is exactly 1700000000123 ms and a 19-digit nanosecond string keeps
 * its microseconds. Results are truncated toward zero in the output unit.
 */
import type { OutputTsUnit, TimestampUnit } from './types.js';

const DIGITS: Record<'s' | 'ms' | 'us' | 'ns', number> = { s: 0, ms: 3, us: 6, ns: 9 };

const DECIMAL_RE = /^(-?)(\d+)(?:\.(\d+))?$/;
const ISO_RE = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?(?:([Zz])|([+-])(\d{2})(?::?(\d{2}))?)?$/;

export function outputDigits(unit: OutputTsUnit): number {
  return DIGITS[unit];
}

/** A time in ms since the epoch (possibly fractional) in the output unit, truncated. */
export function msToOutput(ms: number, outDigits: number): number {
  if (outDigits === 3) return Math.floor(ms);
  if (outDigits === 0) return Math.floor(ms / 1000);
  return Math.floor(ms * 1000);
}

/**
 * Converts a payload value to the output unit. Returns the integer timestamp (it may be
 * <= 0 or unsafe; the caller checks range), or a string saying why the value is unusable.
 */
export function convertTimestamp(value: unknown, unit: TimestampUnit, outDigits: number): number | string {
  if (unit === 'iso') {
    if (typeof value !== 'string') return `timestamp is a ${describe(value)}, expected an ISO 8601 string`;
    return isoToOutput(value, outDigits);
  }
  const shift = outDigits - DIGITS[unit];
  if (typeof value === 'number') return numberToOutput(value, shift);
  if (typeof value === 'string') {
    const t = value.trim();
    const m = DECIMAL_RE.exec(t);
    if (m !== null) return scaleDecimal(m[1] === '-', m[2]!, m[3] ?? '', shift);
    const n = t.length > 0 ? Number(t) : NaN;
    // Exponent forms ("1.7e9") are still numbers; hex, "Infinity" and words are not.
    if (Number.isFinite(n) && /^[-+]?[\d.]+[eE][-+]?\d+$/.test(t)) return numberToOutput(n, shift);
    return `timestamp '${truncate(value)}' is not a number`;
  }
  return `timestamp is a ${describe(value)}, expected a number`;
}

function numberToOutput(v: number, shift: number): number {
  if (Number.isInteger(v) && Math.abs(v) <= Number.MAX_SAFE_INTEGER) {
    return shift >= 0 ? v * 10 ** shift : Math.trunc(v / 10 ** -shift);
  }
  const s = String(v);
  const m = DECIMAL_RE.exec(s);
  if (m !== null) return scaleDecimal(m[1] === '-', m[2]!, m[3] ?? '', shift);
  return Math.trunc(v * 10 ** shift);
}

function scaleDecimal(negative: boolean, int: string, frac: string, shift: number): number {
  let digits: string;
  if (shift >= 0) {
    digits = int + (frac.length >= shift ? frac.slice(0, shift) : frac.padEnd(shift, '0'));
  } else {
    const keep = int.length + shift;
    digits = keep > 0 ? int.slice(0, keep) : '0';
  }
  const n = Number(digits);
  return negative ? -n : n;
}

function isoToOutput(text: string, outDigits: number): number | string {
  const m = ISO_RE.exec(text.trim());
  if (m === null) return `timestamp '${truncate(text)}' is not an ISO 8601 date-time`;
  if (m[8] === undefined && m[9] === undefined) {
    return `timestamp '${truncate(text)}' has no time zone (add Z or an offset like +02:00)`;
  }
  const year = Number(m[1]);
  const month = Number(m[2]);
  const day = Number(m[3]);
  const hour = Number(m[4]);
  const minute = Number(m[5]);
  const second = m[6] === undefined ? 0 : Number(m[6]);
  const offH = m[10] === undefined ? 0 : Number(m[10]);
  const offM = m[11] === undefined ? 0 : Number(m[11]);
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth || hour > 23 || minute > 59 || second > 60 || offH > 23 || offM > 59) {
    return `timestamp '${truncate(text)}' is out of range`;
  }
  const offsetSeconds = (m[9] === '-' ? -1 : 1) * (offH * 3600 + offM * 60);
  const epochSeconds = Date.UTC(year, month - 1, day, hour, minute, second) / 1000 - offsetSeconds;
  // Dates before 1970 would need borrow arithmetic on the fraction; they are below any floor.
  if (epochSeconds < 0) return -1;
  return scaleDecimal(false, String(epochSeconds), m[7] ?? '', outDigits);
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v;
}

function truncate(s: string): string {
  return s.length > 40 ? `${s.slice(0, 40)}…` : s;
}
