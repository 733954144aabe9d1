/**
 * One WebSocket to FluxionDB: opening it (one attempt, up to the `ready` frame) and, once
 * ready, the pipelined requests in flight on it, matched to their answers by id.
 */
import type { Socket } from 'node:net';
import { WebSocket, type ClientOptions, type RawData } from 'ws';
import { FluxionError, FluxionErrorCodes } from './errors.js';
import { decodeFrame } from './frame.js';
import type { TlsOptions } from './types.js';

/** The 401 body is a short sentence; anything longer is not worth keeping. */
const MAX_BODY_CHARS = 1024;
/** How long a graceful close may wait for the server's closing handshake. */
const CLOSE_GRACE_MS = 1000;

/**
 * permessage-deflate as the server speaks it: every frame compressed alone (the server
 * answers `client_no_context_takeover; server_no_context_takeover`), so one deflate stream
 * is kept and reset after each frame rather than created per frame. Measured on realistic
 * readings (bench/compression.bench.mjs): a frame of 1,000 compresses to about 0.07 of its
 * size, a frame of one to about 0.6; frames under `threshold` (256 bytes: an answer-sized
 * request) go as they are. Level 1 keeps nearly all of level 6's ratio on batches for about
 * 60 % of its CPU (1.2 against 2 us per reading).
 */
const DEFLATE = {
  clientNoContextTakeover: true,
  serverNoContextTakeover: true,
  threshold: 256,
  zlibDeflateOptions: { level: 1 },
} as const;

interface Pending {
  type: string;
  resolve: (response: Record<string, unknown>) => void;
  reject: (err: FluxionError) => void;
  timer: NodeJS.Timeout;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
}

export interface OpenOptions {
  /** The URL to open, with the API key in it: never put it in a message. */
  url: string;
  /** The same URL as messages may show it. */
  displayUrl: string;
  apiKey: string;
  connectTimeoutMs: number;
  tls: TlsOptions | undefined;
  /** Offer permessage-deflate and compress frames (see DEFLATE). */
  compression: boolean;
}

/** An error message (or cause) with the API key masked, should a lower layer have echoed it. */
export function scrub(text: string, apiKey: string): string {
  if (apiKey === '') return text;
  return text.split(apiKey).join('***').split(encodeURIComponent(apiKey)).join('***');
}

function scrubCause(err: unknown, apiKey: string): Error {
  const e = err instanceof Error ? err : new Error(String(err));
  if (apiKey === '' || (!e.message.includes(apiKey) && !e.message.includes(encodeURIComponent(apiKey)))) return e;
  const clean = new Error(scrub(e.message, apiKey));
  clean.name = e.name;
  return clean;
}

/**
 * Opens a socket and resolves once the server's `ready` frame arrived (nothing may be sent
 * before it). A 401 rejects with AUTH carrying the status and the server's body; anything
 * else that fails rejects with CONNECT. `signal` (the client's close) aborts the attempt.
 */
export function openConnection(
  opts: OpenOptions,
  signal: AbortSignal,
  onClose: (conn: Connection, code: number, reason: string) => void,
): Promise<Connection> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(new FluxionError(FluxionErrorCodes.CLIENT_CLOSED, 'the client was closed'));
      return;
    }
    const wsOptions: ClientOptions = { perMessageDeflate: opts.compression ? { ...DEFLATE } : false, ...opts.tls };
    const ws = new WebSocket(opts.url, wsOptions);
    let settled = false;
    /** The TCP (or TLS) socket, to count the bytes really written: known once upgraded. */
    let socket: Socket | null = null;
    ws.once('upgrade', (res) => {
      socket = res.socket;
    });

    const finish = (err: FluxionError | null): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      ws.removeAllListeners();
      if (err) {
        ws.on('error', () => {}); // terminate() of a connecting socket emits one.
        ws.terminate();
        reject(err);
        return;
      }
      resolve(new Connection(ws, opts.apiKey, onClose, socket));
    };
    const connectError = (what: string, cause?: unknown, status?: number): FluxionError =>
      new FluxionError(FluxionErrorCodes.CONNECT, `cannot connect to ${opts.displayUrl}: ${scrub(what, opts.apiKey)}`, {
        cause: cause === undefined ? undefined : scrubCause(cause, opts.apiKey),
        status,
      });
    const onAbort = (): void => finish(new FluxionError(FluxionErrorCodes.CLIENT_CLOSED, 'the client was closed'));
    const timer = setTimeout(
      () => finish(connectError(`no ready frame within connectTimeoutMs (${opts.connectTimeoutMs} ms)`)),
      opts.connectTimeoutMs,
    );
    signal.addEventListener('abort', onAbort, { once: true });

    ws.on('unexpected-response', (_req, res) => {
      const status = res.statusCode ?? 0;
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        if (body.length < MAX_BODY_CHARS) body += chunk;
      });
      res.on('error', (err) => finish(connectError(`HTTP ${status}`, err, status)));
      res.on('end', () => {
        const text = scrub(body.slice(0, MAX_BODY_CHARS).trim(), opts.apiKey);
        if (status === 401) {
          finish(
            new FluxionError(FluxionErrorCodes.AUTH, `FluxionDB refused the API key (HTTP 401: ${text})`, {
              status,
              serverMessage: text,
            }),
          );
        } else {
          finish(connectError(`HTTP ${status}${text ? `: ${text}` : ''}`, undefined, status));
        }
      });
    });
    ws.on('error', (err) => finish(connectError(err.message, err)));
    ws.on('close', (code) => finish(connectError(`closed (${code}) before the ready frame`)));
    ws.on('message', (data, isBinary) => {
      const frame = isBinary ? null : decodeFrame(data.toString());
      if (frame?.type === 'ready') finish(null);
      else {
        finish(
          new FluxionError(FluxionErrorCodes.PROTOCOL, `${opts.displayUrl} sent something other than the ready frame`),
        );
      }
    });
  });
}

/** A ready socket and the requests in flight on it. */
export class Connection {
  readonly #ws: WebSocket;
  readonly #apiKey: string;
  readonly #pending = new Map<string, Pending>();
  /** Set once the client reported it with an `open` event: only those report `close`. */
  announced = false;
  #closed: Promise<void> | null = null;

  readonly #socket: Socket | null;

  constructor(
    ws: WebSocket,
    apiKey: string,
    onClose: (conn: Connection, code: number, reason: string) => void,
    socket: Socket | null = null,
  ) {
    this.#ws = ws;
    this.#socket = socket;
    this.#apiKey = apiKey;
    ws.on('message', (data, isBinary) => this.#onMessage(data, isBinary));
    ws.on('error', () => {}); // Always followed by 'close', which is where requests fail.
    ws.on('close', (code, reason) => {
      const text = reason.toString();
      this.failAll(
        (p) =>
          new FluxionError(
            FluxionErrorCodes.CONNECTION_CLOSED,
            `the connection closed (${code}${text ? ` ${text}` : ''}) before ${p.type} was answered`,
            { closeCode: code, requestType: p.type },
          ),
      );
      onClose(this, code, text);
    });
  }

  /** True while requests can be written. */
  get isOpen(): boolean {
    return this.#ws.readyState === WebSocket.OPEN;
  }

  /**
   * Bytes this connection's socket wrote: the upgrade request and every frame as it went on
   * the wire (compressed when compression is on, WebSocket headers included; TCP/IP headers
   * not). Still readable after the socket closed.
   */
  get bytesWritten(): number {
    return this.#socket?.bytesWritten ?? 0;
  }

  /** Requests written and not yet answered, timed out or aborted. */
  get inFlight(): number {
    return this.#pending.size;
  }

  /** Writes a frame and resolves with the server's answer (an error answer rejects). */
  send(
    id: string,
    type: string,
    frame: string | Buffer,
    timeoutMs: number,
    signal: AbortSignal | undefined,
  ): Promise<Record<string, unknown>> {
    return new Promise((resolve, reject) => {
      if (!this.isOpen) {
        reject(
          new FluxionError(FluxionErrorCodes.CONNECTION_CLOSED, `the connection is closing; ${type} was not sent`, {
            requestType: type,
          }),
        );
        return;
      }
      // A timed-out request is forgotten: its late answer then matches nothing and is dropped.
      const timer = setTimeout(() => {
        this.#settle(id)?.reject(
          new FluxionError(FluxionErrorCodes.TIMEOUT, `no answer to ${type} within ${timeoutMs} ms`, {
            requestType: type,
          }),
        );
      }, timeoutMs);
      const onAbort =
        signal &&
        ((): void => {
          this.#settle(id)?.reject(
            new FluxionError(FluxionErrorCodes.ABORTED, `${type} was aborted`, { cause: signal.reason, requestType: type }),
          );
        });
      signal?.addEventListener('abort', onAbort!, { once: true });
      this.#pending.set(id, { type, resolve, reject, timer, signal, onAbort });
      // A failed write destroys the socket, and its 'close' fails this request.
      // A Buffer is a frame already in UTF-8 (EscapedPayload): still a text frame.
      this.#ws.send(frame, { binary: false });
    });
  }

  /** Fails every request in flight at once, each with the error `make` builds for it. */
  failAll(make: (p: { type: string }) => FluxionError): void {
    for (const id of [...this.#pending.keys()]) {
      const p = this.#settle(id);
      p?.reject(make(p));
    }
  }

  /** Closes the socket (1000); resolves once it is closed, terminating it after a grace period. */
  close(): Promise<void> {
    if (this.#closed) return this.#closed;
    this.#closed = new Promise((resolve) => {
      if (this.#ws.readyState === WebSocket.CLOSED) {
        resolve();
        return;
      }
      const grace = setTimeout(() => this.#ws.terminate(), CLOSE_GRACE_MS);
      this.#ws.once('close', () => {
        clearTimeout(grace);
        resolve();
      });
      this.#ws.close(1000, 'client closed');
    });
    return this.#closed;
  }

  /** Removes a pending request and its timer and abort listener; returns it, or undefined. */
  #settle(id: string): Pending | undefined {
    const p = this.#pending.get(id);
    if (!p) return undefined;
    this.#pending.delete(id);
    clearTimeout(p.timer);
    if (p.onAbort) p.signal?.removeEventListener('abort', p.onAbort);
    return p;
  }

  #oldestId(): string | undefined {
    // A Map iterates in insertion order: the first key is the oldest request.
    for (const id of this.#pending.keys()) return id;
    return undefined;
  }

  #onMessage(data: RawData, isBinary: boolean): void {
    const frame = isBinary ? null : decodeFrame(data.toString());
    if (!frame) {
      // Answers come in order, so an unreadable one most likely belongs to the oldest request.
      const id = this.#oldestId();
      const p = id === undefined ? undefined : this.#settle(id);
      p?.reject(
        new FluxionError(FluxionErrorCodes.PROTOCOL, `the server answered ${p.type} with something other than a JSON object`, {
          requestType: p.type,
        }),
      );
      return;
    }
    // The unknown-type error carries no id: it answers the oldest request in flight.
    const id = typeof frame.id === 'string' ? frame.id : 'error' in frame ? this.#oldestId() : undefined;
    if (id === undefined) return;
    const p = this.#settle(id);
    if (!p) return; // The answer to a request that timed out or was aborted.
    if ('error' in frame) {
      const message = scrub(String(frame.error), this.#apiKey);
      const code =
        message === 'permission denied' ? FluxionErrorCodes.PERMISSION_DENIED : FluxionErrorCodes.SERVER;
      p.reject(new FluxionError(code, `FluxionDB refused ${p.type}: ${message}`, { serverMessage: message, requestType: p.type }));
      return;
    }
    p.resolve(frame);
  }
}
