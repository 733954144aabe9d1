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
  /**
   * Offer permessage-deflate and compress request frames of 1 KiB or more (each frame on its
   * own: the server answers `client_no_context_takeover`). The server never compresses its
   * answers. `maxFrameBytes` still bounds the uncompressed size, which is what the server's
   * 16 MiB limit applies to. Default false.
   */
  compression?: boolean;
}

/** The last, optional argument of every operation. */
export interface OperationOptions {
  /** Cancels the operation: before it is sent, nothing is sent; after, its answer is ignored. */
  signal?: AbortSignal;
  /**
   * Time allowed for the answer, in ms, counted from the moment the frame is written
   * (waiting for the connection is bounded by `connectTimeoutMs` and the reconnect policy).
   * Default: the client's `requestTimeoutMs`.
   */
  timeoutMs?: number;
}

/** `fetchLatestRecords` (`qry`): for each document, the latest record with `ts <= ts`. */
export interface FetchLatestParams {
  col: string;
  /** Upper bound (inclusive), an integer > 0. */
  ts: number;
  /** Exact document name or `/regex/flags`; absent or empty means every document. */
  doc?: string;
  /** Drops a document whose latest-at-`ts` record is older than this (0: keep all). */
  from?: number;
  /** Keep only records whose `data` contains this substring or matches `/regex/flags`. */
  where?: string;
  /** Drop records whose `data` contains this substring or matches `/regex/flags`. */
  filter?: string;
}

/** `fetchDocument` (`qdoc`): the records of one document with `from <= ts <= to`. */
export interface FetchDocumentParams {
  col: string;
  /** Exact document name. */
  doc: string;
  /** Lower bound, inclusive, an integer `<= to`. */
  from: number;
  /** Upper bound, inclusive, an integer > 0. */
  to: number;
  /** Caps the number of records, counted from the end `reverse` starts at; `<= 0` is unlimited. */
  limit?: number;
  /** Newest first. Default false. */
  reverse?: boolean;
  where?: string;
  filter?: string;
}

/** `deleteDocument` (`ddoc`). Without `col` the document is cleared in every collection. */
export interface DeleteDocumentParams {
  doc: string;
  col?: string;
}

/** The identity of one record, for `deleteRecord` (`drec`) and `deleteMultipleRecords` (`dmrec`). */
export interface RecordKey {
  col: string;
  doc: string;
  ts: number;
}

/** `deleteRecordsRange` (`drrng`): both bounds inclusive, integers > 0 (`fromTs` 0 makes the server close the socket). */
export interface DeleteRangeParams {
  col: string;
  doc: string;
  fromTs: number;
  toTs: number;
}

export interface CollectionParams {
  col: string;
}

export interface KeyParams {
  col: string;
  key: string;
}

export interface SetValueParams {
  col: string;
  key: string;
  value: string;
}

/** `getValues`: with `key` (literal or `/regex/`) it sends `gvalues`, without it `gvals`. */
export interface GetValuesParams {
  col: string;
  key?: string;
}

/** Events of `FluxionClient`. */
export interface FluxionClientEvents {
  /** A connection became ready; `connection` counts them from 1 over the client's life. */
  open: [{ connection: number }];
  /** A ready connection closed (dropped by the server, the network, or `close()`). */
  close: [{ code: number; reason: string }];
  /** An attempt to connect failed and another follows after `delayMs`; `attempt` counts from 1. */
  reconnecting: [{ attempt: number; delayMs: number; error: Error }];
}
