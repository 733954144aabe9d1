/**
 * The mapping engine checks the rules in depth (topic syntax, templates, formats); its
 * problems are moved under the config path they belong to (`rules[2].topic` becomes
 * `mqtt.subscriptions[2].topic`), minus those the schema already reported at or above
 * the same path (the engine also checks shape, for rules given to it without the schema).
 */
import { checkRules as checkMappingRules } from '../mapping/index.js';
import { pathToString } from './problems.js';
import { serialPortName } from './schema/serial.js';
import type { RawProblem } from './zod-issues.js';

type Path = Array<string | number>;

export function subscriptionProblems(tree: Record<string, unknown>, schemaProblems: readonly RawProblem[]): RawProblem[] {
  const mqtt = tree.mqtt;
  const subs = mqtt !== null && typeof mqtt === 'object' ? (mqtt as Record<string, unknown>).subscriptions : undefined;
  if (!Array.isArray(subs)) return [];
  return rulesProblems(subs, ['mqtt', 'subscriptions'], schemaProblems);
}

/** The same for the rules of each serial port (`rules[1].fields` becomes `serial[0].rules[1].fields`). */
export function serialRuleProblems(tree: Record<string, unknown>, schemaProblems: readonly RawProblem[]): RawProblem[] {
  const ports = tree.serial;
  if (!Array.isArray(ports)) return [];
  return ports.flatMap((entry: unknown, i) => {
    if (entry === null || typeof entry !== 'object') return [];
    const e = entry as Record<string, unknown>;
    if (!Array.isArray(e.rules) || typeof e.path !== 'string') return [];
    const name = serialPortName({ path: e.path, name: typeof e.name === 'string' ? e.name : undefined });
    // The port is implied; a rule that names one (or a topic) is reported by the schema.
    const rules = e.rules.map((r: unknown) => (r !== null && typeof r === 'object' && !Array.isArray(r) ? { ...r, port: name } : r));
    return rulesProblems(rules, ['serial', i, 'rules'], schemaProblems);
  });
}

function rulesProblems(rules: readonly unknown[], at: Path, schemaProblems: readonly RawProblem[]): RawProblem[] {
  const reported = schemaProblems.map((p) => pathToString(p.path));
  const covered = (path: string): boolean => reported.some((r) => path === r || path.startsWith(`${r}.`) || path.startsWith(`${r}[`));
  const out: RawProblem[] = [];
  for (const p of checkMappingRules(rules)) {
    if (p.rule === undefined) continue;
    const path: Path = [...at, p.rule];
    if (p.field !== undefined && p.field !== '') path.push(...p.field.split('.'));
    if (!covered(pathToString(path))) out.push({ path, message: p.message });
  }
  return out;
}
