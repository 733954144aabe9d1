/** Options and status of metadata sync. */

/** What the config says about metadata (built by the config loader). */
export interface MetadataOptions {
  /** Collection of the key/value pairs; never a collection that holds records. Default `metadata`. */
  collection: string;
  /** Key of a device's field: `<device>` and `<field>` are replaced. Default `<device>:<field>`. */
  keyTemplate: string;
  /** Static metadata: device -> field -> value (strings as is, numbers and booleans stringified, the rest JSON). */
  devices: Readonly<Record<string, Readonly<Record<string, unknown>>>>;
  /** Delete keys of fields removed from the config (with `deleteValue`). Default false: they stay on the server. */
  prune: boolean;
  /** node-cron schedule of the full resync (compare with the server, write what differs). Default `0 * * * *` (hourly). */
  resyncSchedule: string;
  /** The gateway heartbeat keys; `schedule` is a node-cron expression. Default enabled, `* * * * *` (every minute). */
  heartbeat: { enabled: boolean; schedule: string };
  /** The gateway's id: the `<device>` of the heartbeat keys. */
  gatewayId: string;
}

/** How the metadata connection retries; the agent passes the sender's settings. */
export interface MetadataRetryOptions {
  /** First reconnect delay ceiling, in ms (full jitter). Default 500. */
  backoffBaseMs: number;
  /** Largest reconnect delay ceiling, in ms. Default 30000. */
  backoffCapMs: number;
  /** A connection that stayed up this long resets the backoff, in ms. Default 60000. */
  backoffResetAfterMs: number;
  /** Delay between retries after the key or its scope was refused, in ms. Default 60000. */
  authRetryMs: number;
  /** Time allowed for one answer, in ms. Default 15000. */
  requestTimeoutMs: number;
}

export const DEFAULT_METADATA_RETRY: Readonly<MetadataRetryOptions> = Object.freeze({
  backoffBaseMs: 500,
  backoffCapMs: 30_000,
  backoffResetAfterMs: 60_000,
  authRetryMs: 60_000,
  requestTimeoutMs: 15_000,
});

export type MetadataState = 'idle' | 'connecting' | 'connected' | 'backoff' | 'auth_failed' | 'stopped';

export interface MetadataStatus {
  state: MetadataState;
  collection: string;
  /** Keys whose newest value the server acknowledged. */
  inSync: number;
  /** Writes waiting for the server (queued offline, or not yet sent). */
  pending: number;
  /** Writes the server refused; retried at the next resync. */
  failed: number;
  /** `setValue` acknowledged since start. */
  written: number;
  /** `deleteValue` acknowledged since start (prune). */
  deleted: number;
  /** Pairs left out since start: empty values (the server refuses them), values holding a secret, or device reports of a key `metadata.devices` sets (the config wins). */
  skipped: number;
  /** Full resyncs done since start. */
  resyncs: number;
  lastResyncAt: number | null;
  /** Heartbeats taken since start. */
  heartbeats: number;
  lastError: { code: string; message: string; at: number } | null;
}
