/** A time-series record as FluxionDB stores it. `data` is an opaque string, by convention JSON. */
export interface FluxionRecord {
  /** Collection name, non-empty. */
  col: string;
  /** Document name, non-empty. */
  doc: string;
  /** Timestamp, an integer > 0 (this project uses milliseconds since the epoch). */
  ts: number;
  /** The payload, a string (by convention a JSON text). */
  data: string;
}

/** One stored point as queries return it. */
export interface StoredPoint {
  ts: number;
  data: string;
}

export type ApiKeyScope = 'readonly' | 'read_write' | 'read_write_delete';

export interface ApiKeyInfo {
  key: string;
  scope: string;
  deletable: boolean;
}

export interface ConnectionInfo {
  ip: string;
  /** Milliseconds since that socket connected. */
  since: number;
  name: string | null;
  /** True for the caller's own socket. */
  self: boolean;
}

export interface ReconnectPolicy {
  /** First retry delay ceiling, in ms. Default 500. */
  baseMs?: number;
  /** Largest delay ceiling, in ms. Default 30000. */
  capMs?: number;
  /** Attempts before giving up; `Infinity` retries forever. Default Infinity. */
  maxAttempts?: number;
}

export interface TlsOptions {
  /** PEM CA bundle to trust (e.g. the TLS proxy's private CA). */
  ca?: string | Buffer;
  /** PEM client certificate, for mutual TLS. */
  cert?: string | Buffer;
  /** PEM private key of the client certificate. */
  key?: string | Buffer;
  /** Verify the server certificate. Default true; turn off only for tests. */
  rejectUnauthorized?: boolean;
}

export interface FluxionClientOptions {
  /** `ws://` or `wss://` URL; it may carry its own query string. */
  url: string;
  /** API key, sent as the `api-key` query parameter. Never logged or echoed. */
  apiKey: string;
  /** Label shown by `getConnections` (the `name` query parameter). */
  connectionName?: string;
  /** Per-request timeout in ms. Default 10000. */
  requestTimeoutMs?: number;
  /** Time allowed to open the socket and receive `ready`, in ms. Default 10000. */
  connectTimeoutMs?: number;
  /**
   * Retry policy for opening the connection (exponential backoff with full jitter).
   * `false` tries once. A 401 is never retried within one connect call. Default: `{}`
   * (the defaults above).
   */
  reconnect?: ReconnectPolicy | false;
  /** Largest request frame the client will send, in bytes. Default 8 MiB (server limit 16 MiB). */
  maxFrameBytes?: number;
  /** TLS settings for `wss://`. */
  tls?: TlsOptions;
}
