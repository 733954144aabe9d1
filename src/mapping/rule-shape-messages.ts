/**
 * How the engine words the rule schema's issues (the config loader words the same issues
 * its own way, with config paths and line numbers: config/zod-issues.ts). Wording only: what
 * is valid is decided by the schema.
 */
import type { z } from 'zod';

type Path = ReadonlyArray<PropertyKey>;

const NON_EMPTY = 'must be a non-empty string';
const COERCE_HELP = 'expected none, number or string';

/** Messages by field, `*` standing for a map key and `[]` for a list index. */
const BY_FIELD: Readonly<Record<string, string | ((value: unknown) => string)>> = {
  '': 'a rule must be an object',
  topic: 'must be a string',
  port: NON_EMPTY,
  document: NON_EMPTY,
  collection: NON_EMPTY,
  qos: 'must be 0, 1 or 2',
  kind: (v) => `unknown kind '${String(v)}' (expected records or metadata)`,
  format: (v) => `unknown format '${String(v)}' (expected json, value, kv, csv, regex, nmea or sparkplug_b)`,
  regex: 'format: regex needs a regex with named groups, e.g. "(?<temp>[-\\d.]+)C"',
  kv: 'must be an object { pair_separators, key_value_separator }',
  'kv.pair_separators': 'must be a non-empty string of separator characters',
  'kv.key_value_separator': NON_EMPTY,
  csv: 'format: csv needs csv: { header: [names...] }',
  'csv.header': 'must be a non-empty list of column names',
  'csv.header[]': NON_EMPTY,
  'csv.delimiter': 'must be one character (not a quote or newline)',
  nmea: 'must be an object { sentences, require_fix }',
  'nmea.sentences': 'must be a non-empty list of GGA, RMC',
  'nmea.sentences[]': (v) => `unsupported sentence '${String(v)}' (expected GGA or RMC)`,
  'nmea.require_fix': 'must be true or false',
  sparkplug: 'must be an object { node_document }',
  'sparkplug.node_document': NON_EMPTY,
  timestamp: 'must be an object { field, unit }',
  'timestamp.field': 'is required: the path of the timestamp in the payload',
  'timestamp.unit': (v) => `unknown unit '${String(v)}' (expected s, ms, us, ns or iso)`,
  fields: 'must be a map of output name to payload path',
  'fields.*': (v) => (typeof v === 'string' ? 'must not be empty' : 'must be a payload path (string)'),
  coerce: 'must be none, number, string, or a map of field name to one of them',
  'coerce.*': (v) => `unknown coercion '${String(v)}' (${COERCE_HELP})`,
  tags: 'must be a map of tag name to template',
  'tags.*': 'must be a string template',
  passthrough: 'must be true or false',
  match: 'must be an object { prefix, regex, nmea_type, cells }',
  'match.prefix': NON_EMPTY,
  'match.regex': NON_EMPTY,
  'match.nmea_type': 'must be a sentence type or a list of them, e.g. GGA or [GGA, RMC] (upper case)',
  'match.cells': 'must be a positive integer',
};

/** Maps whose keys are names the user chose. */
const MAPS = new Set(['fields', 'tags', 'coerce']);

export function shapeMessage(iss: z.core.$ZodIssue, path: Path, raw: unknown): string {
  const value = valueAt(raw, path);
  if (iss.code === 'unrecognized_keys') return path[0] === 'match' ? 'unknown setting (expected prefix, regex, nmea_type or cells)' : 'unknown setting';
  if (iss.code === 'invalid_key') return path[0] === 'fields' ? 'an output name must not be empty' : 'a tag name must not be empty';
  // The schema's own messages (a refinement) say it best.
  if (iss.code === 'custom') return iss.message;
  const field = pattern(path);
  if (field === 'topic' && typeof value === 'string') return 'topic must not be empty';
  if (field === 'coerce' && typeof value === 'string') return `unknown coercion '${value}' (${COERCE_HELP})`;
  const wording = BY_FIELD[field];
  if (wording !== undefined) return typeof wording === 'string' ? wording : wording(value);
  // report:, aggregate: and anything not listed above.
  if (iss.code === 'invalid_type' && value === undefined) return 'is required';
  return iss.message;
}

function pattern(path: Path): string {
  let out = '';
  path.forEach((seg, i) => {
    if (typeof seg === 'number') out += '[]';
    else if (i === 1 && MAPS.has(String(path[0]))) out += '.*';
    else out += out === '' ? String(seg) : `.${String(seg)}`;
  });
  return out;
}

function valueAt(tree: unknown, path: Path): unknown {
  let v = tree;
  for (const seg of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<PropertyKey, unknown>)[seg];
  }
  return v;
}
