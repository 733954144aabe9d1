/**
 * The upstream server's coercion of payload fields, copied rule for rule: it reads numbers
 * the way C's `strtoll` and a JSON library's loose getters would, so a client that sends
 * `"17abc"` as a timestamp gets 17, not an error.
 */

const LEADING_INTEGER = /^\s*[-+]?\d+/;

/**
 * `ts`, `from`, `to`, `limit`, `fromTs`, `toTs`: integers as given, floats truncated toward
 * zero, numeric strings by their leading digits (`"17abc"` is 17, `"abc"` is 0), anything
 * else 0.
 */
export function toInteger(value: unknown): number {
  if (typeof value === 'number') return Number.isFinite(value) ? Math.trunc(value) || 0 : 0;
  if (typeof value === 'string') {
    const m = LEADING_INTEGER.exec(value);
    return m === null ? 0 : Number(m[0]) || 0;
  }
  return 0;
}

/** `reverse`: JSON `true` or a non-zero integer; a float, a string or anything else is false. */
export function toReverse(value: unknown): boolean {
  if (value === true) return true;
  return typeof value === 'number' && Number.isInteger(value) && value !== 0;
}

/**
 * Names and data inside `ins` are stored whatever they are: strings as given, a missing or
 * null field as the empty string, any other JSON value as its JSON text ("stored as
 * nonsense", as upstream does with records it never checks).
 */
export function toText(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value === undefined || value === null) return '';
  return JSON.stringify(value);
}
