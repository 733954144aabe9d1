/**
 * Pure helpers of metadata sync: the key template, the stringification of YAML values,
 * and the static metadata of the config turned into key/value pairs.
 */
import type { Secrets } from '../shared/secrets.js';

/** Default key template: `device-1:location`. */
export const DEFAULT_KEY_TEMPLATE = '<device>:<field>';

/** One key/value pair for the metadata collection. */
export interface MetadataKv {
  key: string;
  value: string;
}

/** Why a pair was left out. */
export type SkipReason = 'empty' | 'secret';

export interface StaticPairs {
  pairs: MetadataKv[];
  /** Fields left out, with why (never the value itself: it may be a secret). */
  skipped: Array<{ device: string; field: string; reason: SkipReason }>;
}

/** The key of a device's field: `<device>` and `<field>` of the template replaced, in one pass. */
export function metadataKey(template: string, device: string, field: string): string {
  return template.replace(/<device>|<field>/g, (m) => (m === '<device>' ? device : field));
}

/**
 * FluxionDB values are strings: strings stay as they are, numbers and booleans are written
 * as YAML shows them (`42`, `true`), lists and maps as JSON, null as '' (which is then
 * skipped: the server refuses an empty value and closes the connection).
 */
export function stringifyValue(v: unknown): string {
  if (typeof v === 'string') return v;
  if (v === null || v === undefined) return '';
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  return JSON.stringify(v);
}

/**
 * `metadata.devices` as pairs, in config order. Empty values and values holding a secret
 * are left out and reported.
 */
export function staticPairs(
  devices: Readonly<Record<string, Readonly<Record<string, unknown>>>>,
  template: string,
  secrets: Secrets,
): StaticPairs {
  const out: StaticPairs = { pairs: [], skipped: [] };
  for (const [device, fields] of Object.entries(devices)) {
    for (const [field, raw] of Object.entries(fields)) {
      const value = stringifyValue(raw);
      if (value.length === 0) out.skipped.push({ device, field, reason: 'empty' });
      else if (secrets.heldBy(value)) out.skipped.push({ device, field, reason: 'secret' });
      else out.pairs.push({ key: metadataKey(template, device, field), value });
    }
  }
  return out;
}

/** The fields the heartbeat writes, in order. */
export const HEARTBEAT_FIELDS = ['last_seen', 'version', 'queue_depth', 'oldest_unsent_age_s'] as const;
