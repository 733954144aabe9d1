/**
 * A FluxionDB-compatible server in memory, faithful to the wire protocol as upstream
 * really behaves (/work/shared/fluxiondb-protocol.md), traps included, plus fault switches
 * for tests. One Node thread, synchronous handlers: responses leave in request order.
 */
import { isUtf8 } from 'node:buffer';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { Duplex } from 'node:stream';
import pino, { type Logger } from 'pino';
import { WebSocket, WebSocketServer } from 'ws';
import { AgentError, ErrorCodes } from '../errors.js';
import { ClientConnection } from './connection.js';
import { FrameSizeGuard } from './frame-guard.js';
import { HandlerError, MESSAGE_HANDLERS, REJECT, type HandlerServices } from './handlers.js';
import { parseExactJson } from './exact-json.js';
import { ApiKeyRegistry } from './keys.js';
import type { Int64 } from './numbers.js';
import { upstreamIp } from './peer-address.js';
import { MemoryStore } from './store.js';

/** Largest request message, in bytes; one byte more and the TCP connection is cut. */
export const MAX_FRAME_BYTES = 16 * 1024 * 1024;

export interface DevServerFaults {
  /** Delay every response (acks and answers alike, order preserved) by this many ms. Default 0. */
  ackDelayMs?: number;
  /**
   * Close each connection with code 1011 once it has received this many request frames;
   * the last frame is applied but never answered (the ack is lost). 0 = never. Default 0.
   */
  closeAfterFrames?: number;
  /** Answer `{"error":"permission denied","id":X}` to every `ins`. Default false. */
  denyInserts?: boolean;
  /** Refuse new connections (HTTP 503 on upgrade) until this many ms from now. Default 0. */
  refuseConnectionsMs?: number;
  /**
   * Treat an `ins` whose data holds this text as a request the server cannot take: store
   * nothing of it, answer nothing, close 1008 (as upstream does with a malformed request).
   * Emulates a poison record for the agent's isolation tests. Default '' (off).
   */
  poisonText?: string;
}

export interface DevServerOptions {
  /** TCP port; 0 picks a free one. Default 8080. */
  port?: number;
  /** Address to bind. Default 127.0.0.1. */
  host?: string;
  /** The master key (required): every scope, the only key that may send `keys`. */
  masterKey: string;
  /** Idle connections (no frame, no pong) are dropped after this many ms. Default 120000. */
  idleTimeoutMs?: number;
  /** A pino logger; default silent. */
  logger?: Logger;
  /** Fault switches, off by default; change them live with setFaults(). */
  faults?: DevServerFaults;
}

/** The `Sec-WebSocket-Extensions` answer of upstream when the client offers permessage-deflate. */
export const DEFLATE_ANSWER = 'permessage-deflate; client_no_context_takeover; server_no_context_takeover';

/**
 * ws answers a message over `maxPayload` with a 1009 close frame. Upstream cuts the TCP
 * connection without one (the client sees 1006): FrameSizeGuard catches a frame too long on
 * the wire before ws sees it, and this catches what only inflating shows (a compressed
 * frame that inflates past 16 MiB; ws stops inflating at the limit).
 */
class UpstreamSocket extends WebSocket {
  override close(code?: number, data?: string | Buffer): void {
    if (code === 1009) this.terminate();
    else super.close(code, data);
  }
}

const READY = '{"message":"Authentication successful","type":"ready"}';
const AUTH_NOT_SUPPORTED = 'auth messages are not supported; use the api-key query parameter';

/** Error responses carry their keys in alphabetical order, as upstream's JSON library writes them. */
function errorResponse(message: string, id: string): string {
  return `{"error":${JSON.stringify(message)},"id":${JSON.stringify(id)}}`;
}

function rejectUpgrade(socket: Duplex, status: number, statusText: string, body: string): void {
  socket.on('error', () => undefined);
  socket.end(
    `HTTP/1.1 ${status} ${statusText}\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
      `Connection: close\r\n\r\n${body}`,
  );
}

export class DevServer {
  /** Request frames received per message type since construction (valid envelopes only). */
  readonly frameCounts = new Map<string, number>();
  private readonly options: DevServerOptions;
  private readonly logger: Logger;
  private readonly store = new MemoryStore();
  private readonly keys: ApiKeyRegistry;
  private readonly services: HandlerServices;
  private readonly connections = new Map<number, ClientConnection>();
  private faults: Required<DevServerFaults>;
  private refuseUntil = 0;
  private http: Server | undefined;
  private wss: WebSocketServer | undefined;
  private sweepTimer: NodeJS.Timeout | undefined;
  private lifecycle: Promise<void> = Promise.resolve();
  private boundPort = 0;
  private nextConnectionId = 1;

  constructor(options: DevServerOptions) {
    this.options = options;
    this.logger = (options.logger ?? pino({ level: 'silent' })).child({ component: 'dev-server' });
    this.keys = new ApiKeyRegistry(options.masterKey);
    this.services = { store: this.store, keys: this.keys, connections: () => this.connections.values() };
    this.faults = { ackDelayMs: 0, closeAfterFrames: 0, denyInserts: false, refuseConnectionsMs: 0, poisonText: '', ...options.faults };
  }

  /** The bound port, after start(). */
  get port(): number {
    return this.boundPort;
  }

  /** `ws://host:port`, after start(). */
  get url(): string {
    const host = this.options.host ?? '127.0.0.1';
    return `ws://${host.includes(':') ? `[${host}]` : host}:${this.boundPort}`;
  }

  /**
   * Listens. Safe to call twice. After stop(), start() listens again on the same port and
   * with the same data: a new DevServer is the way to simulate a server that forgot.
   */
  start(): Promise<void> {
    this.lifecycle = this.lifecycle.catch(() => undefined).then(() => this.doStart());
    return this.lifecycle;
  }

  /** Cuts every socket (no close frame, as a dying server would) and stops listening. Safe to call twice. */
  stop(): Promise<void> {
    this.lifecycle = this.lifecycle.catch(() => undefined).then(() => this.doStop());
    return this.lifecycle;
  }

  /** Changes fault switches live; `refuseConnectionsMs` counts from this call. */
  setFaults(faults: Partial<DevServerFaults>): void {
    this.faults = { ...this.faults, ...faults };
    if (faults.refuseConnectionsMs !== undefined) this.refuseUntil = Date.now() + faults.refuseConnectionsMs;
  }

  private async doStart(): Promise<void> {
    if (this.http !== undefined) return;
    if (typeof this.options.masterKey !== 'string' || this.options.masterKey === '') {
      throw new AgentError(ErrorCodes.USAGE, 'dev server: masterKey must be a non-empty string');
    }
    this.refuseUntil = Date.now() + this.faults.refuseConnectionsMs;
    const wss = new WebSocketServer({
      noServer: true,
      clientTracking: false,
      maxPayload: MAX_FRAME_BYTES,
      // Checked by hand so that bad UTF-8 cuts the TCP connection, as upstream does, instead
      // of ws's 1007 close frame.
      skipUTF8Validation: true,
      // Accepted as upstream accepts it, every message compressed alone; the server never
      // compresses what it sends (see ClientConnection.write).
      perMessageDeflate: { serverNoContextTakeover: true, clientNoContextTakeover: true },
      WebSocket: UpstreamSocket,
    });
    // Upstream's answer is always this exact header, whatever parameters the client offered.
    wss.on('headers', (headers) => {
      const i = headers.findIndex((h) => /^sec-websocket-extensions:/i.test(h));
      if (i >= 0) headers[i] = `Sec-WebSocket-Extensions: ${DEFLATE_ANSWER}`;
    });
    const http = createServer((_req, res) => {
      res.writeHead(426, { 'Content-Type': 'text/plain' }).end('Upgrade Required');
    });
    http.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => this.onUpgrade(req, socket, head));
    const port = this.boundPort !== 0 ? this.boundPort : (this.options.port ?? 8080);
    const host = this.options.host ?? '127.0.0.1';
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error): void => reject(new AgentError(ErrorCodes.USAGE, `dev server cannot listen on ${host}:${port}: ${err.message}`, { cause: err }));
      http.once('error', onError);
      http.listen(port, host, () => {
        http.off('error', onError);
        resolve();
      });
    });
    const addr = http.address();
    this.boundPort = typeof addr === 'object' && addr !== null ? addr.port : port;
    this.http = http;
    this.wss = wss;
    const idle = this.idleTimeoutMs();
    this.sweepTimer = setInterval(() => this.sweepIdle(), Math.max(10, Math.min(idle / 4, 15_000)));
    this.logger.info({ url: this.url }, 'dev server listening');
  }

  private async doStop(): Promise<void> {
    const http = this.http;
    if (http === undefined) return;
    this.http = undefined;
    clearInterval(this.sweepTimer);
    this.sweepTimer = undefined;
    for (const c of this.connections.values()) c.terminate();
    this.connections.clear();
    this.wss?.close();
    this.wss = undefined;
    await new Promise<void>((resolve) => {
      http.close(() => resolve());
      http.closeAllConnections();
    });
    this.logger.info('dev server stopped');
  }

  private idleTimeoutMs(): number {
    return this.options.idleTimeoutMs ?? 120_000;
  }

  /** Pings quiet sockets and cuts those that stayed silent (no frame, no pong) too long. */
  private sweepIdle(): void {
    const now = Date.now();
    const idle = this.idleTimeoutMs();
    for (const c of this.connections.values()) {
      const quiet = now - c.lastActive;
      if (quiet >= idle) {
        this.logger.info({ connection: c.id, ip: c.ip }, 'idle connection dropped');
        c.terminate();
      } else if (quiet >= idle / 2 && !c.pinged) {
        c.ping();
      }
    }
  }

  private onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const wss = this.wss;
    if (wss === undefined) return void socket.destroy();
    if (Date.now() < this.refuseUntil) {
      this.logger.info('connection refused (fault: refuseConnectionsMs)');
      return rejectUpgrade(socket, 503, 'Service Unavailable', 'Service Unavailable');
    }
    let params: URLSearchParams;
    try {
      params = new URL(req.url ?? '/', 'http://localhost').searchParams;
    } catch {
      params = new URLSearchParams();
    }
    const key = params.get('api-key') ?? '';
    if (key === '') return rejectUpgrade(socket, 401, 'Unauthorized', 'Missing API key parameter');
    if (!this.keys.has(key)) {
      this.logger.info({ ip: upstreamIp(req.socket.remoteAddress) }, 'connection refused: unknown API key');
      return rejectUpgrade(socket, 401, 'Unauthorized', 'Unknown API key');
    }
    const name = params.get('name');
    wss.handleUpgrade(req, socket, head, (ws) => this.onConnection(ws, socket, req, key, name === null || name === '' ? null : name));
  }

  private onConnection(ws: WebSocket, socket: Duplex, req: IncomingMessage, key: string, name: string | null): void {
    const conn = new ClientConnection({
      id: this.nextConnectionId++,
      ws,
      key,
      ip: upstreamIp(req.socket.remoteAddress),
      name,
      ackDelayMs: () => this.faults.ackDelayMs,
    });
    this.connections.set(conn.id, conn);
    const guard = new FrameSizeGuard(MAX_FRAME_BYTES);
    // Ahead of ws's own listener, so an oversized frame is cut before ws answers it.
    socket.prependListener('data', (chunk: Buffer) => {
      conn.lastActive = Date.now();
      conn.pinged = false;
      if (!guard.feed(chunk)) {
        this.logger.info({ connection: conn.id }, 'frame over 16 MiB: connection cut');
        conn.terminate();
      }
    });
    ws.on('message', (data, isBinary) => this.onFrame(conn, data as Buffer, isBinary));
    ws.on('error', (err) => this.logger.debug({ connection: conn.id, err }, 'socket error'));
    ws.on('close', (code) => {
      this.connections.delete(conn.id);
      conn.dispose();
      this.logger.debug({ connection: conn.id, code }, 'connection closed');
    });
    this.logger.debug({ connection: conn.id, ip: conn.ip, name }, 'connection open');
    conn.sendNow(READY);
  }

  private onFrame(conn: ClientConnection, data: Buffer, isBinary: boolean): void {
    if (!conn.accepting) return;
    if (isBinary) return conn.closeInOrder(1003, 'text frames only');
    if (!isUtf8(data)) return conn.terminate();
    conn.framesReceived++;
    const limit = this.faults.closeAfterFrames;
    const cut = limit > 0 && conn.framesReceived >= limit;
    // The last frame before the fault's close is applied but its answer is lost.
    if (cut) conn.accepting = false;
    try {
      this.onRequest(conn, data.toString('utf8'));
    } catch (err) {
      this.logger.error({ err, connection: conn.id }, 'request handler failed');
      conn.closeInOrder(1011, 'internal error');
    }
    if (cut) conn.closeInOrder(1011, 'fault: closeAfterFrames');
  }

  private onRequest(conn: ClientConnection, text: string): void {
    let envelope: unknown;
    try {
      envelope = JSON.parse(text);
    } catch {
      return conn.closeInOrder(1008, 'policy violation');
    }
    if (typeof envelope !== 'object' || envelope === null || Array.isArray(envelope)) {
      return conn.closeInOrder(1008, 'policy violation');
    }
    const { id, type, data } = envelope as Record<string, unknown>;
    if (typeof id !== 'string' || id === '' || typeof type !== 'string' || type === '' || typeof data !== 'string' || data === '') {
      return conn.closeInOrder(1008, 'policy violation');
    }
    this.frameCounts.set(type, (this.frameCounts.get(type) ?? 0) + 1);
    const handler = MESSAGE_HANDLERS.get(type);
    if (handler === undefined) {
      if (type === 'auth') return conn.respond(errorResponse(AUTH_NOT_SUPPORTED, id));
      conn.respond('{"error":"Unknown message type"}');
      return conn.closeInOrder(1008, 'policy violation');
    }
    // Scope first, before the payload is even parsed, as upstream does.
    if (handler.need === 'master') {
      // Upstream answers any other key as lacking a scope, whatever its scope.
      if (!this.keys.isMaster(conn.key)) return conn.respond(errorResponse('permission denied', id));
    } else if (!this.keys.allows(conn.key, handler.need) || (type === 'ins' && this.faults.denyInserts)) {
      return conn.respond(errorResponse('permission denied', id));
    }
    if (type === 'ins' && this.faults.poisonText !== '' && data.includes(this.faults.poisonText)) {
      return conn.closeInOrder(1008, 'policy violation');
    }
    let payload: unknown;
    if (handler.parsesPayload) {
      try {
        payload = parseExactJson(data);
      } catch {
        return conn.closeInOrder(1008, 'policy violation');
      }
    }
    let result;
    try {
      result = handler.run(payload, { connectionId: conn.id, key: conn.key }, this.services);
    } catch (err) {
      if (err instanceof HandlerError) return conn.respond(errorResponse(err.message, id));
      throw err;
    }
    if (result === REJECT) return conn.closeInOrder(1008, 'policy violation');
    conn.respond(`{"id":${JSON.stringify(id)}${result}}`);
  }

  /** A document's records, ascending by ts (copies); a ts beyond 2^53 is an exact bigint. */
  records(col: string, doc: string): Array<{ ts: Int64; data: string }> {
    return (this.store.collection(col)?.docs.get(doc) ?? []).map((r) => ({ ts: r.ts, data: r.data }));
  }

  /** Names of the documents of a collection that hold records. */
  documents(col: string): string[] {
    return [...(this.store.collection(col)?.docs.keys() ?? [])];
  }

  collections(): string[] {
    return this.store.collectionNames();
  }

  values(col: string): Record<string, string> {
    return Object.fromEntries(this.store.collection(col)?.kv ?? []);
  }

  /** Every record in every collection. */
  recordCount(): number {
    return this.store.recordCount();
  }
}
