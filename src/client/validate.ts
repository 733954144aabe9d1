/**
 * Argument checks that mirror the server's own. The server answers a payload failing its
 * checks by closing the socket (1008), losing every request pipelined behind it, and it
 * stores bad `ins` records as garbage without complaint; so every call is checked here
 * before anything is sent, and a bad one touches no socket.
 */
import { FluxionError, FluxionErrorCodes } from './errors.js';
import type { ApiKeyScope } from './types.js';

export const API_KEY_SCOPES: readonly ApiKeyScope[] = ['readonly', 'read_write', 'read_write_delete'];

/** Short, secret-free description of a bad value for an error message. */
function describe(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'nothing';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return value === '' ? 'an empty string' : 'a string';
  if (typeof value === 'number') return String(value);
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

function fail(field: string, rule: string, value: unknown): FluxionError {
  return new FluxionError(FluxionErrorCodes.VALIDATION, `${field} must be ${rule} (got ${describe(value)})`, {
    field,
  });
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const isName = (v: unknown): v is string => typeof v === 'string' && v !== '';
const isPositiveTs = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) > 0;

/**
 * The problem with one record, or null. Only the failure path builds strings: this runs
 * once per record on the insert hot path.
 */
function recordProblem(record: unknown, path: string): FluxionError | null {
  if (!isObject(record)) return fail(path, 'an object {ts, doc, data, col}', record);
  if (!isPositiveTs(record.ts)) return fail(`${path}.ts`, 'an integer > 0', record.ts);
  if (!isName(record.doc)) return fail(`${path}.doc`, 'a non-empty string', record.doc);
  if (!isName(record.col)) return fail(`${path}.col`, 'a non-empty string', record.col);
  if (typeof record.data !== 'string') return fail(`${path}.data`, 'a string', record.data);
  return null;
}

/**
 * Checks one record as the server should but does not: an object with an integer `ts > 0`
 * (a safe integer), non-empty string `doc` and `col`, and a string `data`. Returns the
 * problem as text naming the field (e.g. `record.ts must be an integer > 0 (got 0)`), or null.
 */
export function validateRecord(record: unknown, path = 'record'): string | null {
  return recordProblem(record, path)?.message ?? null;
}

/** Throwing variant of `validateRecord`: a FluxionError with code VALIDATION and `field`. */
export function assertRecord(record: unknown, path = 'record'): void {
  const problem = recordProblem(record, path);
  if (problem) throw problem;
}

/** Checks an `ins` payload: an array of valid records. Throws on the first bad one. */
export function assertRecords(records: unknown, path = 'records'): void {
  if (!Array.isArray(records)) throw fail(path, 'an array of records', records);
  for (let i = 0; i < records.length; i++) {
    const problem = recordProblem(records[i], `${path}[${i}]`);
    if (problem) throw problem;
  }
}

/** Field checks shared by the operations; each throws a VALIDATION error naming the field. */
export function assertParams(params: unknown, path: string): asserts params is Record<string, unknown> {
  if (!isObject(params)) throw fail(path, 'an object', params);
}

export function assertName(value: unknown, field: string): asserts value is string {
  if (!isName(value)) throw fail(field, 'a non-empty string', value);
}

export function assertOptionalName(value: unknown, field: string): void {
  if (value !== undefined) assertName(value, field);
}

export function assertOptionalString(value: unknown, field: string): void {
  if (value !== undefined && typeof value !== 'string') throw fail(field, 'a string', value);
}

export function assertTs(value: unknown, field: string): asserts value is number {
  if (!isPositiveTs(value)) throw fail(field, 'an integer > 0', value);
}

export function assertInteger(value: unknown, field: string): asserts value is number {
  if (!Number.isSafeInteger(value)) throw fail(field, 'an integer', value);
}

export function assertOptionalInteger(value: unknown, field: string): void {
  if (value !== undefined) assertInteger(value, field);
}

export function assertOptionalBoolean(value: unknown, field: string): void {
  if (value !== undefined && typeof value !== 'boolean') throw fail(field, 'a boolean', value);
}

/** `from <= to`, both already known to be integers. */
export function assertOrdered(from: number, to: number, fromField: string, toField: string): void {
  if (from > to) {
    throw new FluxionError(FluxionErrorCodes.VALIDATION, `${fromField} (${from}) must be <= ${toField} (${to})`, {
      field: fromField,
    });
  }
}

/** An array of `{col, doc, ts}` for `dmrec`. */
export function assertRecordKeys(keys: unknown, path: string): void {
  if (!Array.isArray(keys)) throw fail(path, 'an array of {col, doc, ts}', keys);
  for (let i = 0; i < keys.length; i++) {
    const key: unknown = keys[i];
    const at = `${path}[${i}]`;
    assertParams(key, at);
    assertName(key.col, `${at}.col`);
    assertName(key.doc, `${at}.doc`);
    assertTs(key.ts, `${at}.ts`);
  }
}

/** An API key to add or remove. Its value never appears in the message. */
export function assertApiKey(value: unknown, field: string): asserts value is string {
  if (!isName(value)) throw fail(field, 'a non-empty string', value);
}

export function assertScope(value: unknown, field: string): asserts value is ApiKeyScope {
  if (typeof value !== 'string' || !(API_KEY_SCOPES as readonly string[]).includes(value)) {
    throw fail(field, `one of ${API_KEY_SCOPES.join(', ')}`, value);
  }
}

/** A per-call `timeoutMs`, or a client option in ms: a finite number > 0. */
export function assertOptionalPositive(value: unknown, field: string): void {
  if (value !== undefined && !(typeof value === 'number' && value > 0 && Number.isFinite(value))) {
    throw fail(field, 'a finite number > 0', value);
  }
}
