/**
 * Modbus TCP to a device or a gateway (several unit ids behind one connection): a
 * transaction id per request, at most `maxOutstanding` requests in flight, reconnect with
 * the shared backoff.
 *
 * A link whose transaction ids fall out of step (an answer to no request in flight: a late
 * answer after a timeout, a gateway that lost count) is dropped and reconnected: waiting for
 * it to recover is how peers end up reading every value one poll late, or never again.
 */
import { Socket } from 'node:net';
import type { Logger } from 'pino';
import { ReconnectBackoff } from '../../shared/reconnect-backoff.js';
import { TcpFrameReader, tcpAnswer, tcpRequestFrame, type ModbusRequest } from './frames.js';
import type { ModbusTransport, RequestOutcome } from './transport.js';
import type { ModbusBusOptions } from './types.js';

const CONNECT_TIMEOUT_MS = 5000;

interface InFlight {
  req: ModbusRequest;
  timer: NodeJS.Timeout;
  finish: (o: RequestOutcome) => void;
}

export class TcpBus implements ModbusTransport {
  readonly concurrency: number;
  private socket: Socket | null = null;
  private connected = false;
  private lifecycle: 'new' | 'started' | 'stopped' = 'new';
  private nextId = 1;
  private readonly inFlight = new Map<number, InFlight>();
  private readonly slotWaiters: Array<() => void> = [];
  private reader = new TcpFrameReader();
  private reconnectTimer: NodeJS.Timeout | null = null;
  private readonly backoff: ReconnectBackoff;
  private connectedAt = 0;
  private wasConnected = false;
  private away = false;
  reopens = 0;
  strayBytes = 0;
  /** Connections dropped because transaction ids fell out of step or a frame was not Modbus. */
  outOfStep = 0;
  lastError: { message: string; at: number } | null = null;

  constructor(
    private readonly options: ModbusBusOptions,
    private readonly logger: Logger,
  ) {
    this.concurrency = options.maxOutstanding;
    this.backoff = new ReconnectBackoff({ baseMs: options.reconnectBaseMs, capMs: options.reconnectCapMs, resetAfterMs: options.reconnectResetAfterMs });
  }

  get linkState(): 'open' | 'waiting' | 'closed' {
    if (this.connected) return 'open';
    return this.lifecycle === 'started' ? 'waiting' : 'closed';
  }

  async start(): Promise<void> {
    if (this.lifecycle !== 'new') return;
    this.lifecycle = 'started';
    await this.connect();
  }

  async stop(): Promise<void> {
    if (this.lifecycle === 'stopped') return;
    this.lifecycle = 'stopped';
    if (this.reconnectTimer !== null) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    this.drop();
    for (const w of this.slotWaiters.splice(0)) w();
  }

  async request(req: ModbusRequest, timeoutMs: number): Promise<RequestOutcome> {
    while (this.connected && this.inFlight.size >= this.concurrency) await new Promise<void>((r) => this.slotWaiters.push(r));
    const socket = this.socket;
    if (!this.connected || socket === null) return { ok: false, error: 'disconnected', crcErrors: 0, garbage: 0 };
    let id = this.nextId;
    while (this.inFlight.has(id)) id = (id % 0xffff) + 1;
    this.nextId = (id % 0xffff) + 1;
    return new Promise<RequestOutcome>((resolve) => {
      const finish = (o: RequestOutcome): void => {
        const entry = this.inFlight.get(id);
        if (entry !== undefined && entry.finish === finish) {
          clearTimeout(entry.timer);
          this.inFlight.delete(id);
          this.slotWaiters.shift()?.();
        }
        resolve(o);
      };
      const timer = setTimeout(() => finish({ ok: false, error: 'timeout', crcErrors: 0, garbage: 0 }), timeoutMs);
      this.inFlight.set(id, { req, timer, finish });
      socket.write(tcpRequestFrame(id, req));
    });
  }

  private connect(): Promise<void> {
    const o = this.options;
    return new Promise((resolve) => {
      const socket = new Socket();
      this.socket = socket;
      this.reader = new TcpFrameReader();
      let settled = false;
      const settle = (): void => {
        if (!settled) {
          settled = true;
          resolve();
        }
      };
      socket.setNoDelay(true);
      socket.setTimeout(CONNECT_TIMEOUT_MS, () => socket.destroy(new Error(`connect timed out after ${CONNECT_TIMEOUT_MS} ms`)));
      socket.once('connect', () => {
        socket.setTimeout(0);
        this.onConnected();
        settle();
      });
      socket.on('data', (chunk: Buffer) => this.onData(socket, chunk));
      socket.on('error', (err) => this.recordError(err.message));
      socket.on('close', () => {
        this.onClosed(socket);
        settle();
      });
      socket.connect({ host: o.host!, port: o.port! });
    });
  }

  private onConnected(): void {
    if (this.lifecycle !== 'started') return;
    this.connected = true;
    this.connectedAt = Date.now();
    const o = this.options;
    if (this.wasConnected) {
      this.reopens++;
      this.logger.info({ host: o.host, port: o.port }, 'Modbus TCP connection is back; polling again');
    } else this.logger.info({ host: o.host, port: o.port }, 'Modbus TCP connected');
    this.wasConnected = true;
    this.away = false;
  }

  private onData(socket: Socket, chunk: Buffer): void {
    if (socket !== this.socket) return;
    let frames;
    try {
      frames = this.reader.push(chunk);
    } catch (err) {
      this.outOfStep++;
      this.recordError((err as Error).message);
      this.logger.warn({ err: (err as Error).message }, 'Modbus TCP stream out of step; reconnecting');
      this.drop();
      return;
    }
    for (const f of frames) {
      const entry = this.inFlight.get(f.transactionId);
      const answer = entry === undefined ? null : tcpAnswer(f, entry.req);
      if (entry === undefined || answer === null) {
        this.outOfStep++;
        this.strayBytes++;
        this.recordError(`answer with transaction id ${f.transactionId} matches no request in flight`);
        this.logger.warn({ transactionId: f.transactionId }, 'Modbus TCP transaction ids out of step; dropping the connection and reconnecting');
        this.drop();
        return;
      }
      entry.finish({ ok: true, answer, at: Date.now(), crcErrors: 0, garbage: 0 });
    }
  }

  /** Ends the connection now; the close handler fails what was in flight and reconnects. */
  private drop(): void {
    const socket = this.socket;
    if (socket === null) return;
    socket.destroy();
    this.onClosed(socket);
  }

  private onClosed(socket: Socket): void {
    if (socket !== this.socket) return;
    this.socket = null;
    const wasUp = this.connected;
    this.connected = false;
    for (const entry of [...this.inFlight.values()]) entry.finish({ ok: false, error: 'disconnected', crcErrors: 0, garbage: 0 });
    for (const w of this.slotWaiters.splice(0)) w();
    if (this.lifecycle !== 'started') return;
    if (wasUp) {
      this.backoff.ended(Date.now() - this.connectedAt);
      this.logger.warn({ host: this.options.host, port: this.options.port }, 'Modbus TCP connection closed; reconnecting');
    } else if (!this.away) {
      this.logger.warn({ host: this.options.host, port: this.options.port, err: this.lastError?.message }, 'Modbus TCP device not reachable; retrying until it is');
    }
    this.away = true;
    if (this.reconnectTimer === null) {
      this.reconnectTimer = setTimeout(() => {
        this.reconnectTimer = null;
        if (this.lifecycle === 'started') void this.connect();
      }, this.backoff.next());
    }
  }

  private recordError(message: string): void {
    this.lastError = { message, at: Date.now() };
  }
}
