/**
 * Checks one rule spec (as read from YAML, so every type is checked) and compiles it into
 * the form the hot path uses. Every problem is reported, not only the first.
 */
import { compileFieldPath, type FieldPath } from './field-paths.js';
import { compileSelector, type LineSelector } from './line-selector.js';
import { checkSparkplugRule, sparkplugScope } from './sparkplug/rule-compile.js';
import type { SparkplugRuleParts } from './sparkplug/rule-output.js';
import { buildParser, checkFormat, type PayloadParser } from './payload-formats.js';
import { compileTemplate, type Template } from './template.js';
import { compileTopicPattern, TopicPattern } from './topic-pattern.js';
import type { CoerceMode, MappingRuleSpec, PayloadFormat, TimestampUnit } from './types.js';

export interface CompiledField {
  name: string;
  path: FieldPath;
  /** Path written with a trailing `?`: left out when absent. */
  optional: boolean;
  coerce: CoerceMode;
}

export interface CompiledRule {
  index: number;
  /** MQTT rules: the topic pattern; serial rules: null. */
  pattern: TopicPattern | null;
  /** Serial rules: the port name; MQTT rules: null. */
  port: string | null;
  qos: 0 | 1 | 2;
  /** Scratch space for the topic captures of the message being mapped. */
  captures: string[];
  kind: 'records' | 'metadata';
  collection: Template | null;
  document: Template;
  parser: PayloadParser;
  /** Index of the parser's slot in the rule set's per-message parse cache (set by the rule set). */
  parserSlot: number;
  timestamp: { path: FieldPath; unit: TimestampUnit } | null;
  /** Selected fields, or null to keep every top-level field. */
  fields: CompiledField[] | null;
  /** Coercion of every field when `fields` is null (per-field map: `coerceByName`). */
  coerceAll: CoerceMode;
  coerceByName: Map<string, CoerceMode> | null;
  tags: Array<{ name: string; template: Template }>;
  passthrough: boolean;
  /** False when nothing needs the parsed payload (passthrough of a non-JSON format). */
  needsParse: boolean;
  /** `match:` (serial rules): the lines this rule owns; null: it tries every line of its port. */
  selector: LineSelector | null;
  /** Serial rules: index among the rules of the same port (set by the rule set); else -1. */
  portIndex: number;
  /** `format: sparkplug_b`: the node document and the capture slots of the Sparkplug names; else null. */
  sparkplug: SparkplugRuleParts | null;
}

type Problems = Array<[string, string]>;

const RULE_KEYS = new Set([
  'topic', 'port', 'qos', 'collection', 'document', 'format', 'kv', 'csv', 'regex', 'nmea',
  'timestamp', 'fields', 'coerce', 'tags', 'passthrough', 'kind', 'match', 'sparkplug',
  // Read by the report stage (src/mapping/report/), after mapping; checked by the config schema.
  'report', 'aggregate',
]);
const UNITS: readonly string[] = ['s', 'ms', 'us', 'ns', 'iso'];
const COERCE: readonly string[] = ['none', 'number', 'string'];

export function compileRule(
  raw: unknown,
  index: number,
  parsers: Map<string, PayloadParser>,
): { rule: CompiledRule | null; problems: Problems } {
  const problems: Problems = [];
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    return { rule: null, problems: [['', 'a rule must be an object']] };
  }
  const spec = raw as Record<string, unknown>;
  for (const k of Object.keys(spec)) if (!RULE_KEYS.has(k)) problems.push([k, 'unknown setting']);

  // Source: topic pattern or serial port.
  let pattern: TopicPattern | null = null;
  let port: string | null = null;
  let names: string[] | null = null;
  if (spec.topic !== undefined && spec.port !== undefined) problems.push(['topic', 'a rule has either topic (MQTT) or port (serial), not both']);
  else if (spec.topic === undefined && spec.port === undefined) problems.push(['topic', 'a rule needs topic (MQTT) or port (serial)']);
  if (spec.topic !== undefined) {
    if (typeof spec.topic !== 'string') problems.push(['topic', 'must be a string']);
    else {
      const p = compileTopicPattern(spec.topic);
      if (p instanceof TopicPattern) {
        pattern = p;
        names = [...p.names];
      } else {
        for (const m of p.problems) problems.push(['topic', m]);
        names = p.names;
      }
    }
  } else if (spec.port !== undefined) {
    if (typeof spec.port !== 'string' || spec.port.length === 0) problems.push(['port', 'must be a non-empty string']);
    else port = spec.port;
  }
  const isSparkplug = spec.format === 'sparkplug_b';
  const scope = { names: isSparkplug && names !== null ? sparkplugScope(names) : names };
  // Templates are checked against what the source offers, even when the source has problems.
  const sourceOk = names !== null || port !== null;

  if (spec.qos !== undefined && spec.qos !== 0 && spec.qos !== 1 && spec.qos !== 2) problems.push(['qos', 'must be 0, 1 or 2']);
  const kind = spec.kind ?? 'records';
  if (kind !== 'records' && kind !== 'metadata') problems.push(['kind', `unknown kind '${String(kind)}' (expected records or metadata)`]);

  const template = (field: string, required: boolean, fallback?: string): Template | null => {
    const v = spec[field] ?? fallback;
    if (v === undefined) {
      if (required) problems.push([field, 'is required']);
      return null;
    }
    if (typeof v !== 'string' || v.length === 0) {
      problems.push([field, 'must be a non-empty string']);
      return null;
    }
    if (!sourceOk) return null;
    const t = compileTemplate(v, scope);
    if (Array.isArray(t)) {
      for (const m of t) problems.push([field, m]);
      return null;
    }
    return t;
  };
  const sp = isSparkplug ? checkSparkplugRule(spec, scope, sourceOk, problems) : null;
  const document = template('document', true, sp?.defaultDocument);
  if (spec.report !== undefined && spec.aggregate !== undefined) {
    problems.push(['aggregate', 'a rule has either report (by exception) or aggregate (windows), not both']);
  }
  let collection: Template | null = null;
  if (kind === 'metadata') {
    for (const f of ['collection', 'timestamp', 'passthrough', 'report', 'aggregate'] as const) {
      if (spec[f] !== undefined) problems.push([f, 'not used by kind: metadata (pairs go to the metadata collection, without time)']);
    }
  } else {
    collection = template('collection', true);
  }

  const format = (spec.format ?? 'json') as PayloadFormat;
  const formatProblems = checkFormat(spec);
  for (const p of formatProblems) problems.push(p);
  // Settings of another format ("kv: only used with format: kv") do not stop the parser.
  const formatOk = !formatProblems.some(([f]) => f === 'format' || f === format || f.startsWith(`${format}.`));
  const parser = formatOk
    ? buildParser(
        { format, kv: spec.kv as MappingRuleSpec['kv'], csv: spec.csv as MappingRuleSpec['csv'], regex: spec.regex as string, nmea: spec.nmea as MappingRuleSpec['nmea'] },
        parsers,
      )
    : null;

  const timestamp = compileTimestamp(spec.timestamp, problems);
  if (spec.match !== undefined && spec.topic !== undefined) problems.push(['match', 'only for serial rules (an MQTT rule selects by its topic)']);
  const csvDelimiter = (spec.csv as { delimiter?: unknown } | undefined)?.delimiter;
  const selector = compileSelector(spec.match, typeof csvDelimiter === 'string' ? csvDelimiter : ',', problems);

  const passthrough = spec.passthrough ?? false;
  if (typeof passthrough !== 'boolean') problems.push(['passthrough', 'must be true or false']);
  if (passthrough === true) {
    if (spec.fields !== undefined) problems.push(['fields', 'not used with passthrough: true (data is the whole payload)']);
    if (spec.coerce !== undefined) problems.push(['coerce', 'not used with passthrough: true']);
  }

  const fields = compileFields(spec.fields, problems);
  // Names a field may have in data, when they are known before any message arrives.
  const fieldNames = fields !== null ? fields.map((f) => f.name) : passthrough === true ? null : (parser?.knownFields ?? null);
  const { all: coerceAll, byName } = compileCoerce(spec.coerce, fieldNames, problems);
  if (fields !== null) for (const f of fields) f.coerce = byName?.get(f.name) ?? coerceAll;

  const tags: CompiledRule['tags'] = [];
  if (spec.tags !== undefined) {
    if (spec.tags === null || typeof spec.tags !== 'object' || Array.isArray(spec.tags)) problems.push(['tags', 'must be a map of tag name to template']);
    else {
      for (const [name, v] of Object.entries(spec.tags as Record<string, unknown>)) {
        if (name.length === 0) problems.push(['tags', 'a tag name must not be empty']);
        else if (fieldNames?.includes(name)) problems.push([`tags.${name}`, `clashes with the field '${name}' (rename one of them)`]);
        if (typeof v !== 'string') {
          problems.push([`tags.${name}`, 'must be a string template']);
          continue;
        }
        if (!sourceOk) continue;
        const t = compileTemplate(v, scope);
        if (Array.isArray(t)) for (const m of t) problems.push([`tags.${name}`, m]);
        else tags.push({ name, template: t });
      }
    }
  }

  if (sp !== null) sp.checkTemplates([document, collection, ...tags.map((t) => t.template)]);
  if (problems.length > 0 || parser === null || document === null) return { rule: null, problems };
  const isPassthrough = passthrough === true;
  const templatesNeedPayload = document.usesPayload || (collection?.usesPayload ?? false) || tags.some((t) => t.template.usesPayload);
  return {
    rule: {
      index,
      pattern,
      port,
      qos: (spec.qos ?? 1) as 0 | 1 | 2,
      captures: new Array<string>(scope.names?.length ?? 0).fill(''),
      kind: kind as 'records' | 'metadata',
      collection,
      document,
      parser,
      parserSlot: -1,
      timestamp,
      fields,
      coerceAll,
      coerceByName: fields === null ? byName : null,
      tags,
      passthrough: isPassthrough,
      // NMEA is always parsed: its checksum decides whether the line is kept at all.
      needsParse: !isSparkplug && (!isPassthrough || parser.format === 'json' || parser.format === 'nmea' || timestamp !== null || templatesNeedPayload),
      selector,
      portIndex: -1,
      sparkplug: sp?.parts ?? null,
    },
    problems,
  };
}

function compileTimestamp(ts: unknown, problems: Problems): CompiledRule['timestamp'] {
  if (ts === undefined) return null;
  if (ts === null || typeof ts !== 'object' || Array.isArray(ts)) {
    problems.push(['timestamp', 'must be an object { field, unit }']);
    return null;
  }
  const o = ts as Record<string, unknown>;
  for (const k of Object.keys(o)) if (k !== 'field' && k !== 'unit') problems.push([`timestamp.${k}`, 'unknown setting']);
  const unit = o.unit ?? 'ms';
  if (typeof unit !== 'string' || !UNITS.includes(unit)) problems.push(['timestamp.unit', `unknown unit '${String(unit)}' (expected s, ms, us, ns or iso)`]);
  if (typeof o.field !== 'string') {
    problems.push(['timestamp.field', 'is required: the path of the timestamp in the payload']);
    return null;
  }
  const path = compileFieldPath(o.field);
  if (typeof path === 'string') {
    problems.push(['timestamp.field', path]);
    return null;
  }
  return { path, unit: unit as TimestampUnit };
}

function compileFields(raw: unknown, problems: Problems): CompiledField[] | null {
  if (raw === undefined) return null;
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    problems.push(['fields', 'must be a map of output name to payload path']);
    return null;
  }
  const out: CompiledField[] = [];
  for (const [name, v] of Object.entries(raw as Record<string, unknown>)) {
    if (name.length === 0) problems.push(['fields', 'an output name must not be empty']);
    if (typeof v !== 'string') {
      problems.push([`fields.${name}`, 'must be a payload path (string)']);
      continue;
    }
    const optional = v.endsWith('?');
    const path = compileFieldPath(optional ? v.slice(0, -1) : v);
    if (typeof path === 'string') problems.push([`fields.${name}`, path]);
    else out.push({ name, path, optional, coerce: 'none' });
  }
  return out;
}

function compileCoerce(
  raw: unknown,
  fieldNames: readonly string[] | null,
  problems: Problems,
): { all: CoerceMode; byName: Map<string, CoerceMode> | null } {
  if (raw === undefined) return { all: 'none', byName: null };
  if (typeof raw === 'string') {
    if (!COERCE.includes(raw)) problems.push(['coerce', `unknown coercion '${raw}' (expected none, number or string)`]);
    return { all: raw as CoerceMode, byName: null };
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    problems.push(['coerce', 'must be none, number, string, or a map of field name to one of them']);
    return { all: 'none', byName: null };
  }
  const byName = new Map<string, CoerceMode>();
  for (const [name, v] of Object.entries(raw as Record<string, unknown>)) {
    if (typeof v !== 'string' || !COERCE.includes(v)) problems.push([`coerce.${name}`, `unknown coercion '${String(v)}' (expected none, number or string)`]);
    else if (fieldNames !== null && !fieldNames.includes(name)) problems.push([`coerce.${name}`, `'${name}' is not one of the fields`]);
    else byName.set(name, v as CoerceMode);
  }
  return { all: 'none', byName };
}
