/**
 * A rule given to the engine untyped (from YAML, JSON, a test) is checked for shape by the
 * one rule schema (rule-schema.ts), never by hand. What the schema rejects is left out of
 * the spec that goes on to the meaning checks (rule-compile.ts), so each problem is found
 * by exactly one of them; the keys left out are passed along as `unusable`, so that a
 * meaning check does not also call them missing.
 */
import { z } from 'zod';
import { matchSchema, ruleSchema } from './rule-schema.js';
import { shapeMessage } from './rule-shape-messages.js';
import type { MappingRuleSpec } from './types.js';

type Problems = Array<[string, string]>;
type Path = ReadonlyArray<PropertyKey>;

/** A rule as the engine takes it: an MQTT rule (topic) or a serial one (port, match). */
export const engineRuleSchema = ruleSchema.extend({
  topic: z.string().min(1).optional(),
  port: z.string().min(1).optional(),
  match: matchSchema,
});

/** Any object schema of a rule: the engine's, or the config's MQTT or serial rule. */
export type RuleSchema = z.ZodType<Partial<MappingRuleSpec>>;

export interface CheckedShape {
  /** The typed spec without what the schema rejected; null when the rule is not an object. */
  spec: MappingRuleSpec | null;
  /** Top-level keys the schema rejected (or found missing): present, but not usable. */
  unusable: ReadonlySet<string>;
  /** The schema's issues, for a caller that words them itself (the config loader). */
  issues: readonly z.core.$ZodIssue[];
}

/** Parses one rule with `schema`, keeping what is valid (see the file comment). */
export function checkShape(raw: unknown, schema: RuleSchema = engineRuleSchema): CheckedShape {
  const first = schema.safeParse(raw);
  if (first.success) return { spec: first.data as MappingRuleSpec, unusable: new Set(), issues: [] };
  const issues = first.error.issues;
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return { spec: null, unusable: new Set(), issues };
  const unusable = new Set<string>();
  const value = structuredClone(raw) as Record<string, unknown>;
  for (const iss of issues) {
    if (iss.code === 'unrecognized_keys') for (const k of iss.keys) remove(value, [...iss.path, k]);
    else if (iss.code === 'invalid_key') remove(value, iss.path);
    else {
      remove(value, iss.path);
      if (iss.path.length === 1) unusable.add(String(iss.path[0]));
    }
  }
  // What is left may still miss a required inner key (timestamp.field): drop that key whole.
  for (let round = 0; round < 2; round++) {
    const again = schema.safeParse(value);
    if (again.success) return { spec: again.data as MappingRuleSpec, unusable, issues };
    for (const iss of again.error.issues) {
      const top = String(iss.path[0] ?? '');
      delete value[top];
      unusable.add(top);
    }
  }
  return { spec: null, unusable, issues };
}

/** The schema's issues as the engine words them: [field, message], field dotted (`csv.header[1]`). */
export function shapeProblems(issues: readonly z.core.$ZodIssue[], raw: unknown): Problems {
  const out: Problems = [];
  for (const iss of issues) {
    if (iss.code === 'unrecognized_keys') {
      for (const k of iss.keys) out.push([fieldOf([...iss.path, k]), shapeMessage(iss, [...iss.path, k], raw)]);
    } else if (iss.code === 'invalid_union' && iss.path.length === 1 && iss.path[0] === 'coerce' && isMap(valueAtTop(raw, 'coerce'))) {
      // A map of coercions: name the entries that are wrong.
      for (const [name, v] of Object.entries(valueAtTop(raw, 'coerce') as Record<string, unknown>)) {
        if (!COERCE.includes(v)) out.push([`coerce.${name}`, shapeMessage(iss, ['coerce', name], raw)]);
      }
    } else {
      const path = iss.code === 'invalid_key' ? iss.path.slice(0, -1) : iss.path;
      out.push([fieldOf(path), shapeMessage(iss, path, raw)]);
    }
  }
  return out;
}

/** Top-level keys in the order the engine reports them (its checks run in this order). */
const REPORT_ORDER = [
  'topic', 'port', 'qos', 'kind', 'sparkplug', 'document', 'report', 'aggregate', 'collection',
  'format', 'nmea', 'kv', 'csv', 'regex', 'timestamp', 'match', 'passthrough', 'fields', 'coerce', 'tags',
];

/**
 * Shape and meaning problems of one rule merged in one order: unknown keys first, then by
 * key (in the engine's order above; inside a setting, in the schema's order). Stable, so
 * problems of one key keep the order they were found in.
 */
export function inReportOrder(problems: Problems): Problems {
  const rank = (field: string): [number, number] => {
    const [top = '', second] = field.split(/[.[]/);
    const first = field === '' ? -2 : REPORT_ORDER.indexOf(top);
    if (second === undefined) return [first, -2];
    return [first, innerKeys(top).indexOf(second)];
  };
  return problems
    .map((p, i) => ({ p, i, r: rank(p[0]) }))
    .sort((a, b) => a.r[0] - b.r[0] || a.r[1] - b.r[1] || a.i - b.i)
    .map((x) => x.p);
}

function innerKeys(top: string): string[] {
  let s: unknown = (engineRuleSchema.shape as Record<string, unknown>)[top];
  // Unwrap optional/default wrappers down to the object schema, if there is one.
  for (let i = 0; i < 4 && s instanceof z.ZodType; i++) {
    if (s instanceof z.ZodObject) return Object.keys(s.shape);
    s = (s._zod.def as { innerType?: unknown }).innerType;
  }
  return [];
}

const COERCE: readonly unknown[] = ['none', 'number', 'string'];

function isMap(v: unknown): boolean {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function valueAtTop(raw: unknown, key: string): unknown {
  return isMap(raw) ? (raw as Record<string, unknown>)[key] : undefined;
}

function fieldOf(path: Path): string {
  let out = '';
  for (const seg of path) out += typeof seg === 'number' ? `[${seg}]` : out === '' ? String(seg) : `.${String(seg)}`;
  return out;
}

function remove(tree: Record<string, unknown>, path: Path): void {
  let node: unknown = tree;
  for (const seg of path.slice(0, -1)) {
    if (node === null || typeof node !== 'object') return;
    node = (node as Record<PropertyKey, unknown>)[seg];
  }
  const last = path[path.length - 1];
  if (last === undefined || node === null || typeof node !== 'object') return;
  if (Array.isArray(node) && typeof last === 'number') node.splice(last, 1, undefined);
  else delete (node as Record<PropertyKey, unknown>)[last];
}
