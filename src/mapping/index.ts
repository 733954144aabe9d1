/**
 * The mapping engine: pure code that turns a raw message from MQTT or a serial port into
 * FluxionDB records (or metadata pairs), or a rejection with a reason. No I/O, no timers.
 */
import { MappingConfigError } from './errors.js';
import type { PayloadParser } from './payload-formats.js';
import { compileRule, type CompiledRule } from './rule-compile.js';
import { CompiledRuleSet, type RuleSet } from './rule-set.js';
import { checkShape, engineRuleSchema, inReportOrder, shapeProblems, type RuleSchema } from './rule-shape.js';
import { SparkplugDecoder } from './sparkplug/decoder.js';
import { SparkplugState } from './sparkplug/node-state.js';
import type { MappingOptions, MappingProblem, MappingRuleSpec } from './types.js';

export { MappingConfigError } from './errors.js';
export { CollisionGuard, RECENT_READINGS } from './collisions.js';
export { deadLetterReason } from './dead-letter-reason.js';
export type { RuleSet } from './rule-set.js';
export type { RuleSchema } from './rule-shape.js';
export { mqttSubscriptions, type MqttSubscription } from './subscriptions.js';
export { SparkplugDecoder, type DecoderOptions as SparkplugDecoderOptions } from './sparkplug/decoder.js';
export { SparkplugState, type BirthChange, type BirthRow, type SparkplugNodeCounters, type StoredBirth } from './sparkplug/node-state.js';
export { encodeRebirthRequest } from './sparkplug/payload.js';
export { CERTIFICATES_PREFIX, commandTopic, stateTopic } from './sparkplug/topic.js';
export {
  MAPPING_DEFAULTS,
  REJECT_CODES,
  type CollectionSettings,
  type CoerceMode,
  type CsvFormatSpec,
  type KvFormatSpec,
  type MapFailure,
  type MappingCounters,
  type MappingOptions,
  type MappingProblem,
  type MappingRuleSpec,
  type MatchSpec,
  type MapResult,
  type MapSuccess,
  type MetadataPair,
  type OutputTsUnit,
  type PayloadFormat,
  type RawMessage,
  type RejectCode,
  type RuleRejection,
  type TimestampSpec,
  type TimestampUnit,
} from './types.js';

/** What stateful formats share across rule sets (a reload keeps it). */
export interface MappingContext {
  /** Decoder of `format: sparkplug_b` rules; default: a fresh one (empty state, gaps do not hold). */
  sparkplug?: SparkplugDecoder;
  /** Subscribe to `$sparkplug/certificates/` for retained births too. Default false. */
  sparkplugCertificates?: boolean;
}

/** Compiles the rules; throws MappingConfigError listing every problem with its path. */
export function compileRules(rules: readonly MappingRuleSpec[], options: MappingOptions = {}, context: MappingContext = {}): RuleSet {
  const { compiled, problems } = compileAll(rules, options);
  if (problems.length > 0) throw new MappingConfigError(problems);
  const sparkplug = compiled.some((r) => r.sparkplug !== null)
    ? (context.sparkplug ?? new SparkplugDecoder(new SparkplugState(), { holdAfterGap: false }))
    : null;
  return new CompiledRuleSet(compiled, options, sparkplug, context.sparkplugCertificates === true);
}

/** The same checks as compileRules, returned instead of thrown (empty when all is well). */
export function checkRules(rules: readonly unknown[], options: MappingOptions = {}): MappingProblem[] {
  return compileAll(rules, options).problems;
}

function compileAll(rules: readonly unknown[], options: unknown): { compiled: CompiledRule[]; problems: MappingProblem[] } {
  const problems: MappingProblem[] = checkOptions(options);
  const compiled: CompiledRule[] = [];
  if (!Array.isArray(rules)) {
    problems.push({ path: 'rules', message: 'must be a list of rules' });
    return { compiled, problems };
  }
  const parsers = new Map<string, PayloadParser>();
  rules.forEach((raw: unknown, index) => {
    const { rule, found } = checkRule(raw, index, parsers, engineRuleSchema, true);
    problems.push(...found);
    if (rule !== null && found.length === 0) compiled.push(rule);
  });
  return { compiled, problems };
}

/**
 * The meaning problems only (topic syntax, templates, regular expressions, settings that go
 * together) of rules given untyped, whose shape `schema` checks: for a caller that reports
 * the schema's issues itself, in its own words (the config loader, with its rule schemas).
 */
export function checkRuleMeaning(rules: readonly unknown[], schema: RuleSchema): MappingProblem[] {
  const parsers = new Map<string, PayloadParser>();
  return rules.flatMap((raw, index) => checkRule(raw, index, parsers, schema, false).found);
}

/** Shape by the one rule schema, then meaning by the compiler, on what the schema kept. */
function checkRule(
  raw: unknown,
  index: number,
  parsers: Map<string, PayloadParser>,
  schema: RuleSchema,
  withShape: boolean,
): { rule: CompiledRule | null; found: MappingProblem[] } {
  const { spec, unusable, issues } = checkShape(raw, schema);
  const pairs = withShape ? shapeProblems(issues, raw) : [];
  let rule: CompiledRule | null = null;
  if (spec !== null) {
    const result = compileRule(spec, index, parsers, unusable);
    pairs.push(...result.problems);
    rule = result.rule;
  }
  const found = inReportOrder(pairs).map(([field, message]) => ({
    path: field === '' ? `rules[${index}]` : `rules[${index}].${field}`, message, rule: index, field,
  }));
  return { rule: issues.length === 0 ? rule : null, found };
}

const OPTION_KEYS = new Set([
  'max_payload_bytes', 'timestamp_floor', 'on_bad_timestamp', 'on_collision', 'collision_memory', 'ts_unit_out', 'collections',
]);
const OUT_UNITS: readonly unknown[] = ['s', 'ms', 'us'];

function checkOptions(raw: unknown): MappingProblem[] {
  const problems: MappingProblem[] = [];
  const add = (field: string, message: string): void => {
    problems.push({ path: `options.${field}`, message, field });
  };
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    problems.push({ path: 'options', message: 'must be an object' });
    return problems;
  }
  const o = raw as Record<string, unknown>;
  for (const k of Object.keys(o)) if (!OPTION_KEYS.has(k)) add(k, 'unknown setting');
  const posInt = (k: string): void => {
    const v = o[k];
    if (v !== undefined && (typeof v !== 'number' || !Number.isSafeInteger(v) || v <= 0)) add(k, 'must be a positive integer');
  };
  posInt('max_payload_bytes');
  posInt('collision_memory');
  const floor = o.timestamp_floor;
  if (floor !== undefined && (typeof floor !== 'number' || !Number.isSafeInteger(floor) || floor < 0)) {
    add('timestamp_floor', 'must be an integer number of ms since the epoch, >= 0');
  }
  if (o.on_bad_timestamp !== undefined && o.on_bad_timestamp !== 'receive_time' && o.on_bad_timestamp !== 'dead_letter') {
    add('on_bad_timestamp', 'must be receive_time or dead_letter');
  }
  if (o.on_collision !== undefined && o.on_collision !== 'bump' && o.on_collision !== 'keep') add('on_collision', 'must be bump or keep');
  if (o.ts_unit_out !== undefined && !OUT_UNITS.includes(o.ts_unit_out)) add('ts_unit_out', 'must be s, ms or us');
  const cols = o.collections;
  if (cols !== undefined) {
    if (cols === null || typeof cols !== 'object' || Array.isArray(cols)) add('collections', 'must be a map of collection name to settings');
    else {
      for (const [name, s] of Object.entries(cols as Record<string, unknown>)) {
        if (s === null || typeof s !== 'object' || Array.isArray(s)) {
          add(`collections.${name}`, 'must be an object { ts_unit_out }');
          continue;
        }
        for (const [k, v] of Object.entries(s as Record<string, unknown>)) {
          if (k !== 'ts_unit_out') add(`collections.${name}.${k}`, 'unknown setting');
          else if (!OUT_UNITS.includes(v)) add(`collections.${name}.ts_unit_out`, 'must be s, ms or us');
        }
      }
    }
  }
  return problems;
}
