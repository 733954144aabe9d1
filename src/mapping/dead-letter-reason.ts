/**
 * The reason stored with a dead letter of a message no rule mapped (or mapped only in part).
 * Every failing rule's reason is kept, since the one a user needs is often not the first
 * (a GGA sentence tried by a CSV rule, then a kv rule, then the NMEA rule with a bad
 * checksum), but bounded: a port with many rules must not write kilobytes per bad line.
 */
import type { MapResult } from './types.js';

/** Longest reason of one rule, in characters. */
export const MAX_RULE_REASON_CHARS = 300;
/** Longest dead-letter reason, in characters. */
export const MAX_REASON_CHARS = 1000;

/** `code: reason` of a failure, or of every failing rule joined with `; `; null when nothing failed. */
export function deadLetterReason(result: MapResult): string | null {
  if (result.rejections.length === 0) return result.ok ? null : `${result.code}: ${result.reason}`;
  const one = result.rejections.length === 1;
  const parts = result.rejections.map((r) => {
    const where = !one && r.portRule !== undefined ? `rules[${r.portRule}] ` : '';
    return `${where}${r.code}: ${cut(r.reason, MAX_RULE_REASON_CHARS)}`;
  });
  let out = '';
  for (let i = 0; i < parts.length; i++) {
    const next = out === '' ? parts[i]! : `${out}; ${parts[i]!}`;
    if (next.length > MAX_REASON_CHARS) return `${out}; … ${parts.length - i} more`;
    out = next;
  }
  return out;
}

function cut(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}
