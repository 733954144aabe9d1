/**
 * Builds what a rule produces from a parsed payload: the `data` JSON text of a record
 * (selected fields, coerced, then tags merged at the top level) or the metadata pairs.
 * Objects built here have no prototype, so a key named `__proto__` is plain data.
 */
import { ABSENT, lookupPath } from './field-paths.js';
import { Rejection } from './rejection.js';
import type { CompiledRule } from './rule-compile.js';
import type { CoerceMode, MetadataPair } from './types.js';

/** The counters these builders add to. */
export interface DataCounters {
  tagClashes: number;
  metadataSkipped: number;
}

const NUMERIC_RE = /^[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?$/;
const BAD: unique symbol = Symbol('bad');

function coerceValue(v: unknown, mode: CoerceMode): unknown {
  if (mode === 'number') {
    if (typeof v === 'number') return v;
    if (typeof v === 'string') {
      const t = v.trim();
      if (NUMERIC_RE.test(t)) {
        const n = Number(t);
        if (Number.isFinite(n)) return n;
      }
    }
    return BAD;
  }
  if (mode === 'string') {
    if (typeof v === 'string') return v;
    if (typeof v === 'number' || typeof v === 'boolean') return String(v);
    return BAD;
  }
  return v;
}

function badType(name: string, v: unknown, mode: CoerceMode): Rejection {
  const shown = JSON.stringify(v);
  return new Rejection('bad_type', `field '${name}' is ${shown.length > 40 ? `${shown.slice(0, 40)}…` : shown}, not a ${mode}`);
}

/** The top-level object of a payload when no fields are selected: scalars become {value}. */
function topLevel(body: unknown): Record<string, unknown> | Rejection {
  if (body === null || Array.isArray(body)) {
    return new Rejection('bad_type', `payload is ${body === null ? 'null' : 'an array'}; select values with fields (e.g. values.0)`);
  }
  if (typeof body === 'object') return body as Record<string, unknown>;
  const out: Record<string, unknown> = Object.create(null);
  out.value = body;
  return out;
}

/** Selected (or all top-level) fields, coerced, in a fresh object. */
function selectFields(rule: CompiledRule, body: unknown): Record<string, unknown> | Rejection {
  const out: Record<string, unknown> = Object.create(null);
  const fields = rule.fields;
  if (fields !== null) {
    for (let i = 0; i < fields.length; i++) {
      const f = fields[i]!;
      const v = lookupPath(body, f.path);
      if (v === ABSENT) {
        if (f.optional) continue;
        return new Rejection('missing_field', `field '${f.path.source}' (for '${f.name}') is missing`);
      }
      const cv = f.coerce === 'none' ? v : coerceValue(v, f.coerce);
      if (cv === BAD) return badType(f.name, v, f.coerce);
      out[f.name] = cv;
    }
    return out;
  }
  const top = topLevel(body);
  if (top instanceof Rejection) return top;
  const byName = rule.coerceByName;
  for (const key of Object.keys(top)) {
    const v = top[key];
    const mode = byName === null ? rule.coerceAll : (byName.get(key) ?? 'none');
    const cv = mode === 'none' ? v : coerceValue(v, mode);
    if (cv === BAD) return badType(key, v, mode);
    out[key] = cv;
  }
  return out;
}

/**
 * The `data` text of a record. `body` is what the data is made of (the payload, or
 * {raw} for passthrough), `root` what templates read.
 */
export function buildData(rule: CompiledRule, body: unknown, root: unknown, port: string | undefined, counters: DataCounters): string | Rejection {
  let out: Record<string, unknown>;
  if (rule.passthrough) {
    if (rule.tags.length === 0) return JSON.stringify(body);
    out = Object.assign(Object.create(null) as Record<string, unknown>, body);
  } else if (rule.fields === null && rule.tags.length === 0 && rule.coerceAll === 'none' && rule.coerceByName === null) {
    // Fast path: the payload object itself, no copy.
    const top = topLevel(body);
    if (top instanceof Rejection) return top;
    return JSON.stringify(top);
  } else {
    const sel = selectFields(rule, body);
    if (sel instanceof Rejection) return sel;
    out = sel;
  }
  const tags = rule.tags;
  for (let i = 0; i < tags.length; i++) {
    const t = tags[i]!;
    if (Object.hasOwn(out, t.name)) {
      counters.tagClashes++;
      continue;
    }
    const v = t.template.render(rule.captures, port, root);
    if (v === null) return new Rejection('missing_field', `tag '${t.name}' template '${t.template.source}' needs a payload value that is missing or not a scalar`);
    out[t.name] = v;
  }
  return JSON.stringify(out);
}

/**
 * Metadata pairs of one device: every selected field, then every tag, value stringified
 * (strings as they are, objects as JSON). Null and empty values are left out and counted:
 * FluxionDB refuses an empty value and closes the connection.
 */
export function metadataPairs(
  rule: CompiledRule,
  root: unknown,
  device: string,
  port: string | undefined,
  counters: DataCounters,
): MetadataPair[] | Rejection {
  const sel = selectFields(rule, root);
  if (sel instanceof Rejection) return sel;
  const pairs: MetadataPair[] = [];
  for (const key of Object.keys(sel)) {
    const v = sel[key];
    const value = typeof v === 'string' ? v : v === null ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v);
    if (value.length === 0 || key.length === 0) counters.metadataSkipped++;
    else pairs.push({ device, key, value });
  }
  for (const t of rule.tags) {
    if (Object.hasOwn(sel, t.name)) {
      counters.tagClashes++;
      continue;
    }
    const value = t.template.render(rule.captures, port, root);
    if (value === null) return new Rejection('missing_field', `tag '${t.name}' template '${t.template.source}' needs a payload value that is missing or not a scalar`);
    if (value.length === 0) counters.metadataSkipped++;
    else pairs.push({ device, key: t.name, value });
  }
  return pairs;
}
