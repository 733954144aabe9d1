/**
 * Turns zod's validation issues into config problems whose messages say how to fix them:
 * the allowed values, the expected type, the closest known key for a typo, and the value
 * that was given (except for secrets).
 */
import type { z } from 'zod';
import { knownKeysAt, type JsonSchemaNode } from './json-schema.js';
import { closest, type ConfigPath } from './problems.js';

export interface RawProblem {
  path: ConfigPath;
  message: string;
  /** Point at the key rather than the value (unknown keys). */
  at?: 'key' | 'value';
}

/** Keys whose values are never echoed in a message. */
export const SECRET_KEYS: ReadonlySet<string> = new Set(['api_key', 'password']);

const TYPE_NAMES: Readonly<Record<string, string>> = {
  string: 'a string', number: 'a number', int: 'a whole number', boolean: 'true or false', object: 'a map of keys',
  array: 'a list', record: 'a map of keys', literal: 'a fixed value',
};

/** The per-parse error map: messages for issues whose schema did not set its own. */
export const configErrorMap: z.core.$ZodErrorMap = (iss) => {
  switch (iss.code) {
    case 'invalid_type':
      if (iss.input === undefined) return 'is required';
      return `must be ${TYPE_NAMES[iss.expected] ?? iss.expected}`;
    case 'invalid_value':
      return iss.values.length === 1 ? `must be ${show(iss.values[0])}` : `must be one of ${iss.values.map((v) => String(v)).join(', ')}`;
    case 'too_small':
      if (iss.origin === 'string') return Number(iss.minimum) <= 1 ? 'must not be empty' : `must be at least ${iss.minimum} characters`;
      if (iss.origin === 'array') return `must list at least ${iss.minimum} entr${Number(iss.minimum) === 1 ? 'y' : 'ies'}`;
      return `must be ${iss.inclusive ? 'at least' : 'more than'} ${iss.minimum}`;
    case 'too_big':
      if (iss.origin === 'string') return `must be at most ${iss.maximum} characters`;
      if (iss.origin === 'array') return `must list at most ${iss.maximum} entries`;
      return `must be ${iss.inclusive ? 'at most' : 'less than'} ${iss.maximum}`;
    case 'invalid_format':
      return `has the wrong format${iss.format === 'regex' && 'pattern' in iss ? ` (expected ${String(iss.pattern)})` : ''}`;
    case 'invalid_key':
      return 'has an invalid key (keys must not be empty)';
    case 'invalid_union':
      return 'has the wrong type or shape';
    default:
      return undefined;
  }
};

export function issuesToProblems(issues: readonly z.core.$ZodIssue[], input: unknown, schema: JsonSchemaNode): RawProblem[] {
  const out: RawProblem[] = [];
  for (const iss of issues) {
    const path = iss.path as Array<string | number>;
    if (iss.code === 'unrecognized_keys') {
      const known = knownKeysAt(schema, path);
      for (const key of iss.keys) {
        const guess = closest(key, known);
        const hint = guess !== undefined ? `did you mean \`${guess}\`?` : `known keys: ${known.join(', ')}`;
        out.push({ path: [...path, key], message: `unknown key (${hint})`, at: 'key' });
      }
      continue;
    }
    const value = valueAt(input, path);
    const last = path[path.length - 1];
    const echo = value !== undefined && !(typeof last === 'string' && SECRET_KEYS.has(last));
    out.push({ path, message: echo ? `${iss.message} (got ${describe(value)})` : iss.message });
  }
  return out;
}

export function valueAt(tree: unknown, path: ConfigPath): unknown {
  let v = tree;
  for (const seg of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<string | number, unknown>)[seg];
  }
  return v;
}

function describe(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v.length > 60 ? `${v.slice(0, 57)}...` : v);
  if (Array.isArray(v)) return v.length === 0 ? 'an empty list' : `a list of ${v.length}`;
  if (v !== null && typeof v === 'object') return Object.keys(v).length === 0 ? 'an empty map' : 'a map';
  return String(v);
}

function show(v: unknown): string {
  return typeof v === 'string' ? v : JSON.stringify(v);
}
