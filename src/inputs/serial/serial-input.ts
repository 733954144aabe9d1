/**
 * One serial port as an input: lines framed (line-framer.ts), committed to the sink in small
 * groups (line-committer.ts), optionally polled (poller.ts).
 *
 * Serial devices come and go: a cable is pulled, a USB adapter re-enumerates, a device is
 * not plugged in yet when the agent starts. All of these are the same case here: the port
 * is reopened with exponential backoff and full jitter (ceilings from reopenBaseMs doubling up
 * to reopenCapMs, shared/reconnect-backoff.ts: many gateways re-plugged at once must not hit
 * the same server at the same instant) until the device is back; one log line when it goes, one when it returns, and the rest of the
 * agent never notices. Lines read before a disconnect are committed at once; a partial
 * line cut by it is dead-lettered.
 */
import { existsSync } from 'node:fs';
import { SerialPort } from 'serialport';
import type { Logger } from 'pino';
import { AgentError, ErrorCodes } from '../../errors.js';
import { ReconnectBackoff } from '../../shared/reconnect-backoff.js';
import type { Input, MessageSink, RawMessage } from '../types.js';
import { LineCommitter } from './line-committer.js';
import { LineFramer } from './line-framer.js';
import { Poller } from './poller.js';
import type { SerialInputStatus, SerialPortOptions } from './types.js';

/** How often an open port checks that its device node still exists, in ms. */
const GONE_CHECK_MS = 1000;

export interface SerialInputDeps {
  sink: MessageSink;
  /** The input binds `port` itself: pass a logger without it (a key bound twice appears twice in a JSON line). */
  logger: Logger;
  /** Clock in ms since the epoch. Default `Date.now`. */
  now?: () => number;
}

export class SerialInput implements Input {
  private port: SerialPort | null = null;
  private lifecycle: 'new' | 'started' | 'stopping' | 'stopped' = 'new';
  private portOpen = false;
  private triedOnce = false;
  /** The port is known to be away (logged once per outage). */
  private away = false;
  private wasOpenOnce = false;
  private readonly backoff: ReconnectBackoff;
  private reopenTimer: NodeJS.Timeout | null = null;
  private goneCheck: NodeJS.Timeout | null = null;
  private stopping: Promise<void> | null = null;
  private framer: LineFramer;
  private committer: LineCommitter;
  private poller: Poller | null = null;
  private linesRead = 0;
  private reopens = 0;
  private lastLineAt: number | null = null;
  private lastError: { message: string; at: number } | null = null;
  private readonly now: () => number;
  private readonly log: Logger;
  private readonly sink: MessageSink;

  constructor(
    private readonly options: SerialPortOptions,
    deps: SerialInputDeps,
  ) {
    this.now = deps.now ?? Date.now;
    this.sink = deps.sink;
    // Started over each time the port opens, however briefly.
    this.backoff = new ReconnectBackoff({ baseMs: options.reopenBaseMs, capMs: options.reopenCapMs, resetAfterMs: 0 });
    this.log = deps.logger.child({ port: options.name });
    this.framer = new LineFramer(options, { line: (b) => this.onLine(b), reject: (b, r) => this.onReject(b, r) });
    this.committer = new LineCommitter(options.commitDelayMs, {
      sink: deps.sink,
      logger: this.log,
      pause: () => this.port?.pause(),
      resume: () => this.port?.resume(),
      now: this.now,
    });
  }

  /** Starts opening the port; resolves after the first attempt, whether or not the device is there. */
  async start(): Promise<void> {
    if (this.lifecycle !== 'new') return;
    const o = this.options;
    if (o.frameRegex !== undefined) {
      try {
        new RegExp(o.frameRegex);
      } catch (err) {
        throw new AgentError(ErrorCodes.CONFIG_INVALID, `serial ${o.name}: frame_regex is invalid: ${(err as Error).message}`, { cause: err });
      }
    }
    this.lifecycle = 'started';
    if (o.poll !== undefined) {
      this.poller = new Poller(o.poll, o.encoding, { write: (cmd) => this.write(cmd), logger: this.log, now: this.now });
      this.poller.start();
    }
    this.log.info({ path: o.path, baud: o.baudRate }, 'serial input opening');
    await this.open();
  }

  /** Closes the port, commits the lines read (if the sink takes them now); safe to call twice. */
  stop(): Promise<void> {
    if (this.stopping !== null) return this.stopping;
    this.stopping = this.shutdown();
    return this.stopping;
  }

  status(): SerialInputStatus {
    let state: SerialInputStatus['state'];
    if (this.lifecycle === 'new' || this.lifecycle === 'stopped') state = 'stopped';
    else if (this.committer.waiting) state = 'waiting';
    else if (this.portOpen) state = 'connected';
    else state = this.triedOnce ? 'disconnected' : 'starting';
    const commitError = this.committer.lastError;
    const lastError = commitError !== null && (this.lastError === null || commitError.at >= this.lastError.at) ? commitError : this.lastError;
    const p = this.poller;
    return {
      name: `serial:${this.options.name}`,
      state,
      received: this.linesRead,
      committed: this.committer.committed,
      lastMessageAt: this.lastLineAt,
      lastError: lastError === null ? null : { ...lastError },
      port: this.options.name,
      path: this.options.path,
      portState: this.portOpen ? 'open' : this.lifecycle === 'started' ? 'waiting' : 'closed',
      linesRead: this.linesRead,
      linesRejected: this.committer.deadLettered,
      lastLineAt: this.lastLineAt,
      reopens: this.reopens,
      ...(p !== null ? { polls: { sent: p.sent, answered: p.answered, timeouts: p.timeouts, skipped: p.skipped } } : {}),
    };
  }

  private open(): Promise<void> {
    const o = this.options;
    return new Promise((resolve) => {
      let port: SerialPort;
      try {
        port = new SerialPort({
          path: o.path,
          baudRate: o.baudRate,
          dataBits: o.dataBits,
          parity: o.parity,
          stopBits: o.stopBits,
          rtscts: o.flowControl === 'rts_cts',
          xon: o.flowControl === 'xon_xoff',
          xoff: o.flowControl === 'xon_xoff',
          autoOpen: false,
        });
      } catch (err) {
        this.onOpenFailed(err as Error);
        return resolve();
      }
      port.open((err) => {
        if (err) this.onOpenFailed(err);
        else this.onOpened(port);
        resolve();
      });
    });
  }

  private onOpened(port: SerialPort): void {
    this.triedOnce = true;
    if (this.lifecycle !== 'started') {
      port.close(() => undefined);
      return;
    }
    this.port = port;
    this.portOpen = true;
    this.backoff.reset();
    port.on('data', (chunk: Buffer) => this.framer.push(chunk));
    port.on('error', (err: Error) => this.recordError(err.message));
    port.on('close', () => this.onClosed(port));
    // Some USB-serial drivers (and ptys) leave a read hanging when the device goes, without
    // the error that would close the port: the device node vanishing says it as well.
    this.goneCheck = setInterval(() => {
      if (port === this.port && !existsSync(this.options.path)) port.close(() => undefined);
    }, GONE_CHECK_MS);
    this.goneCheck.unref();
    if (this.committer.waiting) port.pause();
    const o = this.options;
    if (this.wasOpenOnce) {
      this.reopens++;
      this.sink.sourceOnline?.('serial', o.name);
      this.log.info({ path: o.path }, 'serial port is back; reading again');
    } else {
      this.log.info({ path: o.path }, 'serial port open');
    }
    this.wasOpenOnce = true;
    this.away = false;
  }

  private onOpenFailed(err: Error): void {
    this.triedOnce = true;
    this.recordError(err.message);
    if (this.lifecycle !== 'started') return;
    if (!this.away) {
      this.away = true;
      this.log.warn(
        { path: this.options.path, err: err.message },
        'serial port not available; retrying until the device is there',
      );
    }
    this.scheduleReopen();
  }

  private onClosed(port: SerialPort): void {
    if (port !== this.port) return;
    this.stopGoneCheck();
    this.port = null;
    this.portOpen = false;
    this.framer.end('incomplete line: the port closed before its delimiter');
    // Everything read so far is committed now, not after the device returns.
    this.committer.flush();
    if (this.lifecycle !== 'started') return;
    this.away = true;
    this.log.warn({ path: this.options.path }, 'serial port closed (unplugged?); reopening when the device is back');
    this.scheduleReopen();
  }

  private scheduleReopen(): void {
    if (this.reopenTimer !== null) return;
    const delay = this.backoff.next();
    this.reopenTimer = setTimeout(() => {
      this.reopenTimer = null;
      if (this.lifecycle === 'started') void this.open();
    }, delay);
  }

  private onLine(bytes: Buffer): void {
    const at = this.now();
    this.linesRead++;
    this.lastLineAt = at;
    this.poller?.onLine();
    this.committer.add(this.message(bytes, at));
  }

  private onReject(bytes: Buffer, reason: string): void {
    const at = this.now();
    this.linesRead++;
    this.lastLineAt = at;
    // Copied: it waits in the commit group, the read buffer must not. Committed with the lines
    // around it (not filed at once), so its dead letter keeps its place in arrival order.
    this.committer.add({ ...this.message(Buffer.from(bytes), at), rejection: reason });
  }

  private message(bytes: Buffer, at: number): RawMessage {
    const payload = this.options.encoding === 'latin1' ? bytes.toString('latin1') : bytes;
    return { source: 'serial', port: this.options.name, payload, receivedAt: at };
  }

  private write(command: Buffer): boolean {
    const port = this.port;
    if (port === null || !this.portOpen) return false;
    port.write(command, (err) => {
      if (err) this.recordError(`poll write failed: ${err.message}`);
    });
    return true;
  }

  private stopGoneCheck(): void {
    if (this.goneCheck !== null) clearInterval(this.goneCheck);
    this.goneCheck = null;
  }

  private recordError(message: string): void {
    this.lastError = { message, at: this.now() };
    this.log.debug({ err: message }, 'serial port error');
  }

  private async shutdown(): Promise<void> {
    const wasStarted = this.lifecycle === 'started';
    this.lifecycle = 'stopping';
    if (this.reopenTimer !== null) clearTimeout(this.reopenTimer);
    this.reopenTimer = null;
    this.stopGoneCheck();
    this.poller?.stop();
    const port = this.port;
    if (port !== null) {
      this.port = null;
      await new Promise<void>((resolve) => port.close(() => resolve()));
    }
    this.portOpen = false;
    if (wasStarted) {
      this.framer.end('incomplete line: the agent stopped before its delimiter');
      const lost = this.committer.stop();
      if (lost > 0) this.log.warn({ lines: lost }, 'serial input stopped with lines the queue refused; they are lost');
      this.log.info({ lines: this.linesRead, committed: this.committer.committed }, 'serial input stopped');
    }
    this.lifecycle = 'stopped';
  }
}
