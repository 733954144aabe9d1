/**
 * The upstream server's coercion of payload fields, copied rule for rule. Its numbers are C
 * `int64_t`s read the way its JSON library and `strtoll` read them, so a client that sends
 * `"17abc"` as a timestamp gets 17, not an error, and integers above 2^53 are kept exactly:
 * they never pass through a double here (see exact-json.ts for how the text is read).
 */

/**
 * A signed 64-bit integer, normalized: a `number` when it is a safe integer, a `bigint`
 * otherwise. So `===` is exact (a number and a bigint never hold the same value), `<` and
 * friends compare numbers and bigints exactly, and `${v}` prints the exact integer.
 */
export type Int64 = number | bigint;

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const UINT64_MAX = 2n ** 64n - 1n;
const LEADING_INTEGER = /^\s*[-+]?\d+/;

function normalize(v: bigint): Int64 {
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}

/**
 * A JSON integer token as upstream stores it: int64 as is, above int64 up to uint64 max
 * wrapped (uint64 max is -1, as a C cast does), anything further out went through a double
 * upstream and lands on int64 min like any out-of-range double.
 */
function fromJsonInteger(v: bigint): Int64 {
  if (v >= INT64_MIN && v <= INT64_MAX) return normalize(v);
  if (v > INT64_MAX && v <= UINT64_MAX) return normalize(BigInt.asIntN(64, v));
  return normalize(INT64_MIN);
}

/**
 * A double cast to int64 as x86-64 does it: truncated toward zero; NaN, infinities and values
 * outside int64 give int64 min (`1e300` is -9223372036854775808).
 */
function fromDouble(v: number): Int64 {
  if (!Number.isFinite(v)) return normalize(INT64_MIN);
  const t = Math.trunc(v);
  if (Number.isSafeInteger(t)) return t || 0;
  const big = BigInt(t);
  return big >= INT64_MIN && big <= INT64_MAX ? normalize(big) : normalize(INT64_MIN);
}

/**
 * `ts`, `from`, `to`, `limit`, `fromTs`, `toTs`: integers as given (exactly, as int64),
 * floats truncated toward zero, numeric strings by their leading digits (`"17abc"` is 17,
 * `"abc"` is 0; out of range saturates, as `strtoll` does), anything else 0. A bigint comes
 * from an integer token the JSON reader could not hold in a double (exact-json.ts).
 */
export function toInteger(value: unknown): Int64 {
  if (typeof value === 'number') return Number.isInteger(value) && Number.isSafeInteger(value) ? value || 0 : fromDouble(value);
  if (typeof value === 'bigint') return fromJsonInteger(value);
  if (typeof value === 'string') {
    const m = LEADING_INTEGER.exec(value);
    if (m === null) return 0;
    const v = BigInt(m[0].trim());
    return normalize(v < INT64_MIN ? INT64_MIN : v > INT64_MAX ? INT64_MAX : v);
  }
  return 0;
}

/** `reverse`: JSON `true` or a non-zero integer; a float, a string or anything else is false. */
export function toReverse(value: unknown): boolean {
  if (value === true) return true;
  if (typeof value === 'bigint') return true;
  return typeof value === 'number' && Number.isInteger(value) && value !== 0;
}

/**
 * Names, keys and data are read as strings: anything that is not a JSON string (a number,
 * an object, null, missing) is the empty string, as upstream stores `data` and `doc` of
 * unchecked `ins` records.
 */
export function toText(value: unknown): string {
  return typeof value === 'string' ? value : '';
}
