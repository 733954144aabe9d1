/**
 * Checks the meaning of one rule spec (topic syntax, templates, field paths, regular
 * expressions, settings that go together; its shape is the rule schema's) and compiles it
 * into the form the hot path uses. Every problem is reported, not only the first.
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
  /** Index of the parser's slot in the rule mapper's per-message parse cache (set by it). */
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

/**
 * Compiles one rule whose shape the rule schema checked (rule-shape.ts). `unusable`: keys
 * the schema rejected, left out of `spec`: present for a requirement (no second report that
 * they are missing), absent for an exclusion, and what depends on them is not compiled.
 */
export function compileRule(
  spec: MappingRuleSpec,
  index: number,
  parsers: Map<string, PayloadParser>,
  unusable: ReadonlySet<string> = new Set(),
): { rule: CompiledRule | null; problems: Problems } {
  const problems: Problems = [];
  // An unusable key is not missing (a requirement holds), nor used (an exclusion holds).
  const given = (k: keyof MappingRuleSpec): boolean => spec[k] !== undefined || unusable.has(k);

  // Source: topic pattern or serial port.
  let pattern: TopicPattern | null = null;
  let names: string[] | null = null;
  if (spec.topic !== undefined && spec.port !== undefined) problems.push(['topic', 'a rule has either topic (MQTT) or port (serial), not both']);
  else if (!given('topic') && !given('port')) problems.push(['topic', 'a rule needs topic (MQTT) or port (serial)']);
  if (spec.topic !== undefined) {
    const p = compileTopicPattern(spec.topic);
    if (p instanceof TopicPattern) {
      pattern = p;
      names = [...p.names];
    } else {
      for (const m of p.problems) problems.push(['topic', m]);
      names = p.names;
    }
  }
  const port = spec.topic === undefined ? (spec.port ?? null) : null;
  const isSparkplug = spec.format === 'sparkplug_b';
  const scope = { names: isSparkplug && names !== null ? sparkplugScope(names) : names };
  // Templates are checked against what the source offers, even when the source has problems.
  const sourceOk = names !== null || port !== null;
  const kind = spec.kind ?? 'records';

  const template = (field: 'document' | 'collection', required: boolean, fallback?: string): Template | null => {
    const v = spec[field] ?? fallback;
    if (v === undefined) {
      if (required && !unusable.has(field)) problems.push([field, 'is required']);
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

  // An unusable format, or unusable settings of the format, leave the rule without a parser.
  const format: PayloadFormat = spec.format ?? 'json';
  const formatUsable = !unusable.has('format') && !unusable.has(format);
  const formatProblems = formatUsable ? checkFormat(spec) : [];
  for (const p of formatProblems) problems.push(p);
  // Settings of another format ("kv: only used with format: kv") do not stop the parser.
  const formatOk = formatUsable && !formatProblems.some(([f]) => f === 'format' || f === format || f.startsWith(`${format}.`));
  const parser = formatOk ? buildParser({ format, kv: spec.kv, csv: spec.csv, regex: spec.regex, nmea: spec.nmea }, parsers) : null;

  const timestamp = compileTimestamp(spec.timestamp, problems);
  if (spec.match !== undefined && given('topic')) problems.push(['match', 'only for serial rules (an MQTT rule selects by its topic)']);
  const selector = compileSelector(spec.match, spec.csv?.delimiter ?? ',', problems);

  const passthrough = spec.passthrough === true;
  if (passthrough) {
    if (spec.fields !== undefined) problems.push(['fields', 'not used with passthrough: true (data is the whole payload)']);
    if (spec.coerce !== undefined) problems.push(['coerce', 'not used with passthrough: true']);
  }

  const fields = compileFields(spec.fields, problems);
  // Names a field may have in data, when they are known before any message arrives.
  const fieldNames = fields !== null ? fields.map((f) => f.name) : passthrough || unusable.has('fields') ? null : (parser?.knownFields ?? null);
  const { all: coerceAll, byName } = compileCoerce(spec.coerce, fieldNames, problems);
  if (fields !== null) for (const f of fields) f.coerce = byName?.get(f.name) ?? coerceAll;

  const tags: CompiledRule['tags'] = [];
  for (const [name, v] of Object.entries(spec.tags ?? {})) {
    if (fieldNames?.includes(name)) problems.push([`tags.${name}`, `clashes with the field '${name}' (rename one of them)`]);
    if (!sourceOk) continue;
    const t = compileTemplate(v, scope);
    if (Array.isArray(t)) for (const m of t) problems.push([`tags.${name}`, m]);
    else tags.push({ name, template: t });
  }

  if (sp !== null) sp.checkTemplates([document, collection, ...tags.map((t) => t.template)]);
  if (problems.length > 0 || unusable.size > 0 || parser === null || document === null) return { rule: null, problems };
  const templatesNeedPayload = document.usesPayload || (collection?.usesPayload ?? false) || tags.some((t) => t.template.usesPayload);
  return {
    rule: {
      index,
      pattern,
      port,
      qos: spec.qos ?? 1,
      captures: new Array<string>(scope.names?.length ?? 0).fill(''),
      kind,
      collection,
      document,
      parser,
      parserSlot: -1,
      timestamp,
      fields,
      coerceAll,
      coerceByName: fields === null ? byName : null,
      tags,
      passthrough,
      // NMEA is always parsed: its checksum decides whether the line is kept at all.
      needsParse: !isSparkplug && (!passthrough || parser.format === 'json' || parser.format === 'nmea' || timestamp !== null || templatesNeedPayload),
      selector,
      portIndex: -1,
      sparkplug: sp?.parts ?? null,
    },
    problems,
  };
}

function compileTimestamp(ts: MappingRuleSpec['timestamp'], problems: Problems): CompiledRule['timestamp'] {
  if (ts === undefined) return null;
  const path = compileFieldPath(ts.field);
  if (typeof path === 'string') {
    problems.push(['timestamp.field', path]);
    return null;
  }
  return { path, unit: ts.unit ?? 'ms' };
}

function compileFields(raw: MappingRuleSpec['fields'], problems: Problems): CompiledField[] | null {
  if (raw === undefined) return null;
  const out: CompiledField[] = [];
  for (const [name, v] of Object.entries(raw)) {
    const optional = v.endsWith('?');
    const path = compileFieldPath(optional ? v.slice(0, -1) : v);
    if (typeof path === 'string') problems.push([`fields.${name}`, path]);
    else out.push({ name, path, optional, coerce: 'none' });
  }
  return out;
}

function compileCoerce(
  raw: MappingRuleSpec['coerce'],
  fieldNames: readonly string[] | null,
  problems: Problems,
): { all: CoerceMode; byName: Map<string, CoerceMode> | null } {
  if (raw === undefined) return { all: 'none', byName: null };
  if (typeof raw === 'string') return { all: raw, byName: null };
  const byName = new Map<string, CoerceMode>();
  for (const [name, v] of Object.entries(raw)) {
    if (fieldNames !== null && !fieldNames.includes(name)) problems.push([`coerce.${name}`, `'${name}' is not one of the fields`]);
    else byName.set(name, v);
  }
  return { all: 'none', byName };
}
