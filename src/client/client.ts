/**
 * The FluxionDB client: every operation of the seed API over one WebSocket, pipelined,
 * each request with its own timeout, every argument checked before anything is sent.
 */
import { EventEmitter } from 'node:events';
import { backoffDelay } from './backoff.js';
import { type Connection, openConnection } from './connection.js';
import { FluxionError, FluxionErrorCodes, isFluxionError } from './errors.js';
import { encodeRequest } from './frame.js';
import type {
  FluxionClientEvents,
  FluxionClientOptions,
  OperationOptions,
  TlsOptions,
} from './types.js';
import { buildConnectUrl, redactUrl } from './url.js';
import { assertOptionalPositive } from './validate.js';

const DEFAULTS = {
  requestTimeoutMs: 10_000,
  connectTimeoutMs: 10_000,
  baseMs: 500,
  capMs: 30_000,
  maxAttempts: Infinity,
  maxFrameBytes: 8 * 1024 * 1024,
} as const;

function optionError(field: string, rule: string): FluxionError {
  return new FluxionError(FluxionErrorCodes.VALIDATION, `option ${field} must be ${rule}`, { field });
}

function clientClosed(cause?: unknown): FluxionError {
  return new FluxionError(FluxionErrorCodes.CLIENT_CLOSED, 'the client was closed', { cause });
}

function aborted(signal: AbortSignal, what: string): FluxionError {
  return new FluxionError(FluxionErrorCodes.ABORTED, `${what} was aborted`, { cause: signal.reason });
}

/** Resolves after `ms`, or rejects with CLIENT_CLOSED as soon as `signal` fires. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(clientClosed());
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(clientClosed());
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** `promise`, unless `signal` fires first (then ABORTED; the promise goes on for others). */
function raceAbort<T>(promise: Promise<T>, signal: AbortSignal | undefined, what: string): Promise<T> {
  if (!signal) return promise;
  if (signal.aborted) return Promise.reject(aborted(signal, what));
  return new Promise((resolve, reject) => {
    const onAbort = (): void => reject(aborted(signal, what));
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err);
      },
    );
  });
}

/**
 * The connection machinery; `FluxionClient` (operations.ts) adds the operations on top.
 * The API key and the URL that carries it live in private fields, so neither `inspect()`
 * nor `toString()` nor any message shows them.
 */
export class FluxionClientBase extends EventEmitter<FluxionClientEvents> {
  readonly #url: string;
  readonly #displayUrl: string;
  readonly #apiKey: string;
  readonly #tls: TlsOptions | undefined;
  readonly #requestTimeoutMs: number;
  readonly #connectTimeoutMs: number;
  readonly #baseMs: number;
  readonly #capMs: number;
  readonly #maxAttempts: number;
  readonly #maxFrameBytes: number;
  readonly #compression: boolean;
  /** Bytes written by connections that have closed (see bytesSent). */
  #bytesClosed = 0;
  /** Fires on close(): cancels a connect attempt in progress and the backoff sleep. */
  readonly #closing = new AbortController();
  #conn: Connection | null = null;
  #connecting: Promise<Connection> | null = null;
  #closed: Promise<void> | null = null;
  /** One counter for the client's life: ids are then unique on every connection. */
  #nextId = 0;
  #connections = 0;

  constructor(options: FluxionClientOptions) {
    super();
    if (typeof options !== 'object' || options === null) throw optionError('options', 'an object');
    if (typeof options.url !== 'string') throw optionError('url', 'a ws:// or wss:// URL string');
    if (typeof options.apiKey !== 'string') throw optionError('apiKey', 'a string');
    if (options.connectionName !== undefined && typeof options.connectionName !== 'string') {
      throw optionError('connectionName', 'a string');
    }
    this.#url = buildConnectUrl(options.url, options.apiKey, options.connectionName);
    this.#displayUrl = redactUrl(options.url);
    this.#apiKey = options.apiKey;
    this.#tls = options.tls;
    assertOptionalPositive(options.requestTimeoutMs, 'requestTimeoutMs');
    assertOptionalPositive(options.connectTimeoutMs, 'connectTimeoutMs');
    this.#requestTimeoutMs = options.requestTimeoutMs ?? DEFAULTS.requestTimeoutMs;
    this.#connectTimeoutMs = options.connectTimeoutMs ?? DEFAULTS.connectTimeoutMs;
    const reconnect = options.reconnect === false ? { maxAttempts: 1 } : (options.reconnect ?? {});
    this.#baseMs = reconnect.baseMs ?? DEFAULTS.baseMs;
    this.#capMs = reconnect.capMs ?? DEFAULTS.capMs;
    this.#maxAttempts = reconnect.maxAttempts ?? DEFAULTS.maxAttempts;
    if (!(this.#baseMs >= 0) || !(this.#capMs >= 0)) throw optionError('reconnect', 'baseMs and capMs >= 0');
    if (!(this.#maxAttempts >= 1)) throw optionError('reconnect.maxAttempts', 'an integer >= 1 or Infinity');
    this.#maxFrameBytes = options.maxFrameBytes ?? DEFAULTS.maxFrameBytes;
    if (options.compression !== undefined && typeof options.compression !== 'boolean') throw optionError('compression', 'a boolean');
    this.#compression = options.compression ?? false;
    if (!Number.isSafeInteger(this.#maxFrameBytes) || this.#maxFrameBytes <= 0) {
      throw optionError('maxFrameBytes', 'an integer > 0 (bytes; the server cuts frames over 16 MiB)');
    }
  }

  /** True while a ready connection is open. */
  get connected(): boolean {
    return this.#conn?.isOpen ?? false;
  }

  /**
   * Bytes written on the wire by every connection of this client so far, counted by the
   * sockets themselves (after compression, WebSocket framing included), not estimated.
   */
  get bytesSent(): number {
    return this.#bytesClosed + (this.#conn?.bytesWritten ?? 0);
  }

  /** Requests written on the current connection and not yet answered. */
  get inFlight(): number {
    return this.#conn?.inFlight ?? 0;
  }

  override toString(): string {
    return `FluxionClient(${this.#displayUrl})`;
  }

  /**
   * Opens the connection if it is not open, retrying network failures with backoff until
   * `reconnect.maxAttempts` or close(). A 401 rejects at once (AUTH). Concurrent callers
   * share one attempt. The signal stops this caller's wait, not the shared attempt.
   */
  async connect(options: { signal?: AbortSignal } = {}): Promise<void> {
    await this.#ready(options.signal);
  }

  /**
   * Stops reconnecting, fails every pending request with CLIENT_CLOSED and closes the
   * socket; resolves once it is closed. Safe to call twice.
   */
  close(): Promise<void> {
    if (this.#closed) return this.#closed;
    this.#closing.abort();
    const conn = this.#conn;
    if (!conn) {
      this.#closed = Promise.resolve();
      return this.#closed;
    }
    conn.failAll((p) => new FluxionError(FluxionErrorCodes.CLIENT_CLOSED, `the client was closed before ${p.type} was answered`, { requestType: p.type }));
    this.#closed = conn.close();
    return this.#closed;
  }

  /**
   * Low-level escape hatch: sends `payload` as a `type` request with no validation besides
   * the frame size and resolves with the raw answer object. A payload the server rejects
   * closes the socket and loses every request in flight; the operations are the safe way.
   */
  async request(type: string, payload: unknown, options?: OperationOptions): Promise<Record<string, unknown>> {
    if (typeof type !== 'string' || type === '') {
      throw new FluxionError(FluxionErrorCodes.VALIDATION, 'type must be a non-empty string', { field: 'type' });
    }
    return this.send(type, payload, options);
  }

  /** Encodes (refusing oversize frames before connecting), connects if needed, sends. */
  protected async send(type: string, payload: unknown, options?: OperationOptions): Promise<Record<string, unknown>> {
    if (this.#closed) throw clientClosed();
    assertOptionalPositive(options?.timeoutMs, 'timeoutMs');
    const signal = options?.signal;
    if (signal?.aborted) throw aborted(signal, type);
    const id = String(++this.#nextId);
    const frame = encodeRequest(id, type, payload, this.#maxFrameBytes);
    const conn = this.#conn?.isOpen ? this.#conn : await this.#ready(signal);
    if (this.#closed) throw clientClosed();
    if (signal?.aborted) throw aborted(signal, type);
    return conn.send(id, type, frame, options?.timeoutMs ?? this.#requestTimeoutMs, signal);
  }

  #ready(signal: AbortSignal | undefined): Promise<Connection> {
    if (this.#closed) return Promise.reject(clientClosed());
    if (this.#conn?.isOpen) return Promise.resolve(this.#conn);
    if (!this.#connecting) {
      this.#connecting = this.#connectLoop().finally(() => {
        this.#connecting = null;
      });
    }
    return raceAbort(this.#connecting, signal, 'connect');
  }

  async #connectLoop(): Promise<Connection> {
    const policy = { baseMs: this.#baseMs, capMs: this.#capMs };
    for (let attempt = 1; ; attempt++) {
      let conn: Connection;
      try {
        conn = await openConnection(
          {
            url: this.#url,
            displayUrl: this.#displayUrl,
            apiKey: this.#apiKey,
            connectTimeoutMs: this.#connectTimeoutMs,
            tls: this.#tls,
            compression: this.#compression,
          },
          this.#closing.signal,
          (c, code, reason) => this.#onConnectionClose(c, code, reason),
        );
      } catch (err) {
        if (this.#closed) throw clientClosed(err);
        // A 401 will not change by asking again at once: the caller decides when to retry.
        if (isFluxionError(err, FluxionErrorCodes.AUTH)) throw err;
        const error = err instanceof Error ? err : new Error(String(err));
        if (attempt >= this.#maxAttempts) {
          if (attempt === 1) throw error;
          throw new FluxionError(
            FluxionErrorCodes.CONNECT,
            `gave up connecting to ${this.#displayUrl} after ${attempt} attempt(s): ${error.message}`,
            { cause: error, status: isFluxionError(err) ? err.status : undefined },
          );
        }
        const delayMs = backoffDelay(attempt - 1, policy);
        this.emit('reconnecting', { attempt, delayMs, error });
        await sleep(delayMs, this.#closing.signal);
        continue;
      }
      if (this.#closed) {
        void conn.close();
        throw clientClosed();
      }
      this.#conn = conn;
      conn.announced = true;
      this.#connections++;
      this.emit('open', { connection: this.#connections });
      return conn;
    }
  }

  #onConnectionClose(conn: Connection, code: number, reason: string): void {
    // No background reconnect: the next operation (or connect()) opens a new socket.
    if (this.#conn === conn) this.#conn = null;
    this.#bytesClosed += conn.bytesWritten;
    if (conn.announced) this.emit('close', { code, reason });
  }
}
