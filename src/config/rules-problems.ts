/**
 * The meaning of the rules (topic syntax, templates, regular expressions, settings that go
 * together), checked by the mapping engine on what the config's rule schemas accepted; its
 * problems are moved under the config path they belong to (`rules[2].topic` becomes
 * `mqtt.subscriptions[2].topic`). Their shape is the schema's alone, reported with the rest
 * of the config's issues.
 */
import { z } from 'zod';
import { checkRuleMeaning, type RuleSchema } from '../mapping/index.js';
import { ruleSchema } from '../mapping/rule-schema.js';
import { serialPortName, serialRuleSchema } from './schema/serial.js';
import type { RawProblem } from './zod-issues.js';

type Path = Array<string | number>;

/** A serial rule with its port filled in (the config implies it from the entry). */
const portRuleSchema: RuleSchema = serialRuleSchema.extend({ port: z.string() });

export function subscriptionProblems(tree: Record<string, unknown>): RawProblem[] {
  const mqtt = tree.mqtt;
  const subs = mqtt !== null && typeof mqtt === 'object' ? (mqtt as Record<string, unknown>).subscriptions : undefined;
  if (!Array.isArray(subs)) return [];
  return rulesProblems(subs, ruleSchema, ['mqtt', 'subscriptions']);
}

/** The same for the rules of each serial port (`rules[1].fields` becomes `serial[0].rules[1].fields`). */
export function serialRuleProblems(tree: Record<string, unknown>): RawProblem[] {
  const ports = tree.serial;
  if (!Array.isArray(ports)) return [];
  return ports.flatMap((entry: unknown, i) => {
    if (entry === null || typeof entry !== 'object') return [];
    const e = entry as Record<string, unknown>;
    if (!Array.isArray(e.rules) || typeof e.path !== 'string') return [];
    const name = serialPortName({ path: e.path, name: typeof e.name === 'string' ? e.name : undefined });
    const rules = e.rules.map((r: unknown) => (r !== null && typeof r === 'object' && !Array.isArray(r) ? { ...r, port: name } : r));
    return rulesProblems(rules, portRuleSchema, ['serial', i, 'rules']);
  });
}

function rulesProblems(rules: readonly unknown[], schema: RuleSchema, at: Path): RawProblem[] {
  return checkRuleMeaning(rules, schema).map((p) => {
    const path: Path = [...at, p.rule!];
    if (p.field !== undefined && p.field !== '') path.push(...p.field.split('.'));
    return { path, message: p.message };
  });
}
