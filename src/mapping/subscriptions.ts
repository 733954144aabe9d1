/**
 * The MQTT subscriptions a rule list needs, derived from the rules (never stored beside
 * them): one filter per distinct topic, minus filters another one covers, each with the
 * highest qos of the rules it stands for. The rule set and the config loader use this one
 * function, so what the loader shows is what the agent subscribes to.
 */
import { compileTopicPattern, filterCovers, TopicPattern } from './topic-pattern.js';
import type { MappingRuleSpec } from './types.js';

export interface MqttSubscription {
  filter: string;
  qos: 0 | 1 | 2;
}

/**
 * Merges the (filter, qos) of each MQTT rule: a kept filter gets the highest qos of the
 * filters it covers. Shared and plain filters are never merged with each other.
 */
export function mergeSubscriptions(rules: readonly MqttSubscription[]): MqttSubscription[] {
  const distinct = [...new Set(rules.map((r) => r.filter))];
  const kept = distinct.filter((f) => !distinct.some((g) => g !== f && covers(g, f) && !covers(f, g)));
  return kept.map((filter) => {
    let qos: 0 | 1 | 2 = 0;
    for (const r of rules) if (r.qos > qos && covers(filter, r.filter)) qos = r.qos;
    return { filter, qos };
  });
}

/**
 * The subscriptions of valid rule specs (checked before: a bad topic throws). Compiles only
 * the topic patterns, not the rules.
 */
export function mqttSubscriptions(specs: readonly MappingRuleSpec[]): MqttSubscription[] {
  const rules: MqttSubscription[] = [];
  for (const s of specs) {
    if (s.topic === undefined) continue;
    const p = compileTopicPattern(s.topic);
    if (!(p instanceof TopicPattern)) throw new Error(`unchecked rule topic '${s.topic}': ${p.problems.join('; ')}`);
    rules.push({ filter: p.filter, qos: s.qos ?? 1 });
  }
  return mergeSubscriptions(rules);
}

/** Coverage between subscription filters; a `$share/<group>/` prefix must be the same on both. */
function covers(a: string, b: string): boolean {
  const pa = sharePrefix(a);
  const pb = sharePrefix(b);
  if (pa !== pb) return false;
  return filterCovers(a.slice(pa.length), b.slice(pb.length));
}

function sharePrefix(f: string): string {
  if (!f.startsWith('$share/')) return '';
  return f.slice(0, f.indexOf('/', '$share/'.length) + 1);
}
