/**
 * The gateway heartbeat: a few keys about the gateway itself in the metadata collection,
 * so operators see next to their devices whether the gateway is alive and how far behind
 * it is. Written on a schedule through the same outbox as the rest of the metadata: one
 * row per key, so a long outage does not pile heartbeats up.
 */
import { HEARTBEAT_FIELDS, metadataKey, type MetadataKv } from './static-metadata.js';

export interface HeartbeatFacts {
  /** Now, ms since the epoch. */
  now: number;
  /** The agent's version. */
  version: string;
  /** Unsent readings in the queue. */
  queueDepth: number;
  /** Age of the oldest unsent reading, in ms; null when none. */
  oldestUnsentAgeMs: number | null;
}

/** The heartbeat keys of a gateway (what a prune must not mistake for stale keys). */
export function heartbeatKeys(template: string, gatewayId: string): string[] {
  return HEARTBEAT_FIELDS.map((f) => metadataKey(template, gatewayId, f));
}

/**
 * `<gateway>:last_seen` (ISO 8601, UTC), `:version`, `:queue_depth`,
 * `:oldest_unsent_age_s` (whole seconds, 0 when nothing waits).
 */
export function heartbeatPairs(template: string, gatewayId: string, f: HeartbeatFacts): MetadataKv[] {
  const values: Record<(typeof HEARTBEAT_FIELDS)[number], string> = {
    last_seen: new Date(f.now).toISOString(),
    version: f.version,
    queue_depth: String(f.queueDepth),
    oldest_unsent_age_s: String(Math.floor((f.oldestUnsentAgeMs ?? 0) / 1000)),
  };
  return HEARTBEAT_FIELDS.map((field) => ({ key: metadataKey(template, gatewayId, field), value: values[field] }));
}
