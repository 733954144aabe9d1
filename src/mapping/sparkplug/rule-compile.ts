/** The checks and compiled parts of a `format: sparkplug_b` rule (the rest is rule-compile.ts). */
import { compileTemplate, Template, type TemplateScope } from '../template.js';
import type { MappingRuleSpec } from '../types.js';
import { DEFAULT_DEVICE_DOCUMENT, DEFAULT_NODE_DOCUMENT, SPARKPLUG_NAMES, type SparkplugRuleParts } from './rule-output.js';

type Problems = Array<[string, string]>;

const TOPIC_RE = /^(\$share\/[^/]+\/)?spBv1\.0\//;
const NOT_USED = ['timestamp', 'fields', 'coerce', 'passthrough'] as const;

/** The topic's own names, then the Sparkplug names the topic does not already use. */
export function sparkplugScope(names: readonly string[]): string[] {
  return [...names, ...SPARKPLUG_NAMES.filter((n) => !names.includes(n))];
}

export interface SparkplugRuleCheck {
  defaultDocument: string;
  /** Null when a problem was found. */
  parts: SparkplugRuleParts | null;
  /** Adds a problem for templates that read the payload (a Sparkplug payload has no paths). */
  checkTemplates(templates: ReadonlyArray<Template | null>): void;
}

export function checkSparkplugRule(spec: MappingRuleSpec, scope: TemplateScope, sourceOk: boolean, problems: Problems): SparkplugRuleCheck {
  if (spec.port !== undefined) problems.push(['format', 'sparkplug_b is an MQTT format (a serial rule cannot use it)']);
  if (spec.kind === 'metadata') problems.push(['kind', 'format: sparkplug_b makes records and metadata itself (births and deaths); use kind: records']);
  for (const f of NOT_USED) {
    if (spec[f] !== undefined) problems.push([f, 'not used with format: sparkplug_b (every metric is kept, at its own timestamp)']);
  }
  if (spec.topic !== undefined && !TOPIC_RE.test(spec.topic)) {
    problems.push(['topic', 'a sparkplug_b rule listens under spBv1.0/, e.g. spBv1.0/{group}/+/{node}/# or spBv1.0/#']);
  }
  const source = spec.sparkplug?.node_document ?? DEFAULT_NODE_DOCUMENT;
  let parts: SparkplugRuleParts | null = null;
  if (sourceOk && scope.names !== null) {
    const t = compileTemplate(source, scope);
    if (Array.isArray(t)) for (const m of t) problems.push(['sparkplug.node_document', m]);
    else {
      const names = scope.names;
      parts = { nodeDocument: t, slots: SPARKPLUG_NAMES.map((n) => names.indexOf(n)) };
      if (t.usesPayload) problems.push(['sparkplug.node_document', 'a Sparkplug payload has no {payload.…} values; use {group}, {node}, {device}, {message_type}']);
    }
  }
  return {
    defaultDocument: DEFAULT_DEVICE_DOCUMENT,
    parts,
    checkTemplates(templates) {
      if (templates.some((t) => t?.usesPayload === true)) {
        problems.push(['format', 'a Sparkplug payload has no {payload.…} values for templates; use {group}, {node}, {device}, {message_type}']);
      }
    },
  };
}
