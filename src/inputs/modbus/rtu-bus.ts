/**
 * An RS-485 bus as one conversation: one request at a time, whatever the unit id, with the
 * 3.5-character silent interval before every frame (measured from the last byte seen on the
 * line, so a late answer or noise pushes the next request back, as the spec wants).
 *
 * The adapter is reopened like the serial input's port: a USB adapter pulled out closes the
 * port (or its device node vanishes), requests fail as `disconnected` at once (devices are
 * not blamed for it), and the port is reopened with the shared reconnect backoff.
 */
import { existsSync } from 'node:fs';
import type { Logger } from 'pino';
import { SerialPort } from 'serialport';
import { ReconnectBackoff } from '../../shared/reconnect-backoff.js';
import { RtuAnswerScanner, rtuRequestFrame, type ModbusRequest } from './frames.js';
import type { ModbusTransport, RequestOutcome } from './transport.js';
import type { ModbusBusOptions } from './types.js';

const GONE_CHECK_MS = 1000;

/** Bits on the wire per character: start, 8 data, parity or second stop, stop (the spec's 11). */
export const BITS_PER_CHAR = 11;

/** The silent interval before a frame, in ms: 3.5 characters, fixed at 1.75 ms above 19,200 baud (spec). */
export function silentIntervalMs(baud: number): number {
  return baud > 19200 ? 1.75 : (3.5 * BITS_PER_CHAR * 1000) / baud;
}

interface Pending {
  scanner: RtuAnswerScanner;
  finish: (o: RequestOutcome) => void;
}

export class RtuBus implements ModbusTransport {
  readonly concurrency = 1;
  private port: SerialPort | null = null;
  private lifecycle: 'new' | 'started' | 'stopped' = 'new';
  private chain: Promise<unknown> = Promise.resolve();
  private pending: Pending | null = null;
  private lastByteAt = 0;
  private reopenTimer: NodeJS.Timeout | null = null;
  private goneCheck: NodeJS.Timeout | null = null;
  private readonly backoff: ReconnectBackoff;
  private readonly silentMs: number;
  private readonly charMs: number;
  private wasOpen = false;
  private away = false;
  private openedAt = 0;
  reopens = 0;
  strayBytes = 0;
  lastError: { message: string; at: number } | null = null;

  constructor(
    private readonly options: ModbusBusOptions,
    private readonly logger: Logger,
  ) {
    this.backoff = new ReconnectBackoff({ baseMs: options.reconnectBaseMs, capMs: options.reconnectCapMs, resetAfterMs: options.reconnectResetAfterMs });
    this.silentMs = options.silentIntervalMs > 0 ? options.silentIntervalMs : silentIntervalMs(options.baudRate);
    this.charMs = (BITS_PER_CHAR * 1000) / options.baudRate;
  }

  get linkState(): 'open' | 'waiting' | 'closed' {
    if (this.port !== null) return 'open';
    return this.lifecycle === 'started' ? 'waiting' : 'closed';
  }

  async start(): Promise<void> {
    if (this.lifecycle !== 'new') return;
    this.lifecycle = 'started';
    await this.open();
  }

  async stop(): Promise<void> {
    if (this.lifecycle === 'stopped') return;
    this.lifecycle = 'stopped';
    if (this.reopenTimer !== null) clearTimeout(this.reopenTimer);
    this.reopenTimer = null;
    this.stopGoneCheck();
    this.finishPending({ ok: false, error: 'disconnected', crcErrors: 0, garbage: 0 });
    const port = this.port;
    this.port = null;
    if (port !== null) await new Promise<void>((resolve) => port.close(() => resolve()));
  }

  request(req: ModbusRequest, timeoutMs: number): Promise<RequestOutcome> {
    const run = this.chain.then(() => this.exchange(req, timeoutMs));
    this.chain = run.catch(() => undefined);
    return run;
  }

  private async exchange(req: ModbusRequest, timeoutMs: number): Promise<RequestOutcome> {
    const port = this.port;
    if (port === null) return { ok: false, error: 'disconnected', crcErrors: 0, garbage: 0 };
    // The line must have been quiet for the silent interval; any byte read meanwhile restarts it.
    // Timers fire late by up to a millisecond, which at 2 ms per interval costs a tenth of a
    // bus's throughput: sleep the whole milliseconds, then yield turn by turn for the rest.
    for (;;) {
      const wait = this.lastByteAt + this.silentMs - performance.now();
      if (wait <= 0) break;
      await (wait >= 1 ? sleep(Math.floor(wait)) : new Promise<void>((resolve) => setImmediate(resolve)));
    }
    if (this.port !== port) return { ok: false, error: 'disconnected', crcErrors: 0, garbage: 0 };
    const frame = rtuRequestFrame(req);
    const scanner = new RtuAnswerScanner(req);
    return new Promise<RequestOutcome>((resolve) => {
      let timer: NodeJS.Timeout | null = null;
      const finish = (o: RequestOutcome): void => {
        if (timer !== null) clearTimeout(timer);
        if (this.pending?.scanner === scanner) this.pending = null;
        resolve(o);
      };
      this.pending = { scanner, finish };
      port.write(frame, (err) => {
        if (err) {
          this.recordError(`write failed: ${err.message}`);
          return finish({ ok: false, error: 'disconnected', crcErrors: 0, garbage: 0 });
        }
        // The timeout runs from the end of the request on the wire, not from the write call.
        timer = setTimeout(() => {
          const bad = scanner.crcErrors > 0;
          finish({ ok: false, error: bad ? 'crc' : 'timeout', crcErrors: scanner.crcErrors, garbage: scanner.garbage + scanner.pending });
        }, timeoutMs + frame.length * this.charMs);
      });
    });
  }

  private onData(chunk: Buffer): void {
    this.lastByteAt = performance.now();
    const p = this.pending;
    if (p === null) {
      this.strayBytes += chunk.length;
      return;
    }
    const answer = p.scanner.push(chunk);
    if (answer !== null) p.finish({ ok: true, answer, at: Date.now(), crcErrors: p.scanner.crcErrors, garbage: p.scanner.garbage });
  }

  private finishPending(o: RequestOutcome): void {
    const p = this.pending;
    this.pending = null;
    p?.finish(o);
  }

  private async open(): Promise<void> {
    const o = this.options;
    try {
      const port = new SerialPort({ path: o.path!, baudRate: o.baudRate, dataBits: o.dataBits, parity: o.parity, stopBits: o.stopBits, autoOpen: false });
      await new Promise<void>((resolve, reject) => port.open((err) => (err ? reject(err) : resolve())));
      this.onOpened(port);
    } catch (err) {
      this.onOpenFailed(err as Error);
    }
  }

  private onOpened(port: SerialPort): void {
    if (this.lifecycle !== 'started') {
      port.close(() => undefined);
      return;
    }
    this.port = port;
    this.openedAt = Date.now();
    this.lastByteAt = performance.now();
    port.on('data', (chunk: Buffer) => this.onData(chunk));
    port.on('error', (err: Error) => this.recordError(err.message));
    port.on('close', () => this.onClosed(port));
    // Some USB-serial drivers (and ptys) leave a read hanging when the adapter goes.
    this.goneCheck = setInterval(() => {
      if (port === this.port && !existsSync(this.options.path!)) port.close(() => undefined);
    }, GONE_CHECK_MS);
    this.goneCheck.unref();
    if (this.wasOpen) {
      this.reopens++;
      this.logger.info({ path: this.options.path }, 'Modbus RTU adapter is back; polling again');
    } else {
      this.logger.info({ path: this.options.path, baud: this.options.baudRate }, 'Modbus RTU bus open');
    }
    this.wasOpen = true;
    this.away = false;
  }

  private onOpenFailed(err: Error): void {
    this.recordError(err.message);
    if (this.lifecycle !== 'started') return;
    if (!this.away) {
      this.away = true;
      this.logger.warn({ path: this.options.path, err: err.message }, 'Modbus RTU adapter not available; retrying until it is there');
    }
    this.scheduleReopen();
  }

  private onClosed(port: SerialPort): void {
    if (port !== this.port) return;
    this.stopGoneCheck();
    this.port = null;
    this.finishPending({ ok: false, error: 'disconnected', crcErrors: 0, garbage: 0 });
    if (this.lifecycle !== 'started') return;
    this.away = true;
    this.backoff.ended(Date.now() - this.openedAt);
    this.logger.warn({ path: this.options.path }, 'Modbus RTU adapter closed (unplugged?); reopening when it is back');
    this.scheduleReopen();
  }

  private scheduleReopen(): void {
    if (this.reopenTimer !== null) return;
    this.reopenTimer = setTimeout(() => {
      this.reopenTimer = null;
      if (this.lifecycle === 'started') void this.open();
    }, this.backoff.next());
  }

  private stopGoneCheck(): void {
    if (this.goneCheck !== null) clearInterval(this.goneCheck);
    this.goneCheck = null;
  }

  private recordError(message: string): void {
    this.lastError = { message, at: Date.now() };
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
