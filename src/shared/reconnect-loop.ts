/**
 * The reconnect loop of a component that owns a FluxionDB connection (the sender, the
 * metadata sync): connect, run the component's session while connected, back off with
 * jitter after a failure, pause longer after an authentication refusal, until stopped.
 * The component supplies only its session (what it does on a live connection).
 *
 * "Cannot reach" and "lost" warnings go through a RateLimitedLog: a server down for a day
 * is a few lines an interval carrying how many attempts failed, not one line per attempt.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { isAuthRefusal, isFluxionError } from '../client/index.js';
import { RateLimitedLog } from './rate-limited-log.js';
import { ReconnectBackoff } from './reconnect-backoff.js';
import { WakeSignal } from './wake-signal.js';

export type LinkState = 'idle' | 'connecting' | 'connected' | 'backoff' | 'auth_failed' | 'stopped';

/**
 * Why a session ended: `stopping`; `lost` (the connection failed: back off); `auth` (the
 * server refused the key or its scope: pause `authRetryMs`); `again` (reconnect at once
 * with the backoff started over, e.g. the sender isolating a poison record).
 */
export type SessionEnd = 'stopping' | 'lost' | 'auth' | 'again';

/** The part of a FluxionDB client the loop drives. */
export interface LinkClient {
  connect(options: { signal: AbortSignal }): Promise<unknown>;
  close(): void | Promise<void>;
  on(event: 'close', listener: () => void): unknown;
  off(event: 'close', listener: () => void): unknown;
}

/** The retry settings, as the sender's and the metadata sync's options both carry them. */
export interface ReconnectRetryOptions {
  /** Ceiling of the first reconnect delay, in ms (full jitter). */
  backoffBaseMs: number;
  /** Largest ceiling, in ms. */
  backoffCapMs: number;
  /** A connection up at least this long starts the backoff over, in ms. */
  backoffResetAfterMs: number;
  /** Pause after an authentication refusal, in ms. */
  authRetryMs: number;
}

export interface ReconnectLoopOptions {
  retry: ReconnectRetryOptions;
  /** `lastError.code` of an error that carries none (e.g. EDGE_ERR_SEND). */
  fallbackCode: string;
  /** What the connection is for, in log lines ("FluxionDB", "FluxionDB for metadata"). */
  target: string;
  /** Logged (at error level, each pause) when the server refuses the key. */
  authRefusedMessage: string;
}

export interface ReconnectLoopDeps {
  client: LinkClient;
  logger: Logger;
  /** What to do on a live connection; resolves with why it ended. */
  session: () => Promise<SessionEnd>;
  /** Called after each failed attempt or ended session (not when stopping): e.g. count reconnects. */
  onReconnect?: () => void;
  now?: () => number;
}

export interface LinkError {
  code: string;
  message: string;
  at: number;
}

export class ReconnectLoop {
  state: LinkState = 'idle';
  lastError: LinkError | null = null;
  private stoppingFlag = false;
  private lost = false;
  private running: Promise<void> | null = null;
  /** Attempts that failed since the last connection, for the log lines. */
  private failures = 0;
  private readonly abort = new AbortController();
  private readonly wakeSignal = new WakeSignal();
  private readonly backoff: ReconnectBackoff;
  private readonly warnings: RateLimitedLog;
  private readonly now: () => number;

  private readonly onClose = (): void => {
    this.lost = true;
    this.wakeSignal.wake();
  };

  constructor(
    private readonly options: ReconnectLoopOptions,
    private readonly deps: ReconnectLoopDeps,
  ) {
    this.now = deps.now ?? Date.now;
    const r = options.retry;
    this.backoff = new ReconnectBackoff({ baseMs: r.backoffBaseMs, capMs: r.backoffCapMs, resetAfterMs: r.backoffResetAfterMs });
    this.warnings = new RateLimitedLog(deps.logger, undefined, this.now);
  }

  /** True once start() or stop() was called. */
  get started(): boolean {
    return this.running !== null || this.stoppingFlag;
  }

  get stopping(): boolean {
    return this.stoppingFlag;
  }

  /** The current connection closed (set by the client's `close` event, cleared at each connect). */
  get connectionLost(): boolean {
    return this.lost;
  }

  /** Marks the current connection as lost (e.g. a request failed in a way that kills it). */
  markLost(): void {
    this.lost = true;
  }

  /** Aborted by stop(): for requests that must not outlive the component. */
  get signal(): AbortSignal {
    return this.abort.signal;
  }

  start(): void {
    if (this.started) return;
    this.deps.client.on('close', this.onClose);
    this.running = this.run();
  }

  /**
   * Stops the loop: aborts waits and the connect in progress, lets `drain` finish what is
   * in flight, closes the client, waits for the loop to end. Safe to call twice.
   */
  async stop(drain?: () => Promise<void>): Promise<void> {
    if (this.stoppingFlag) {
      await this.running;
      return;
    }
    this.stoppingFlag = true;
    this.abort.abort();
    this.wakeSignal.wake();
    await drain?.();
    await this.deps.client.close();
    await this.running;
    this.deps.client.off('close', this.onClose);
    this.state = 'stopped';
  }

  /** Lets the session run now (or as soon as it next waits). */
  wake(): void {
    this.wakeSignal.wake();
  }

  /** Resolves at the next wake, or after `tickMs` when given. */
  waitForWake(tickMs?: number): Promise<void> {
    return this.wakeSignal.wait(tickMs);
  }

  /** Records `err` as the last error (shown in status). */
  noteError(err: unknown): void {
    const own = (err as { code?: unknown } | null)?.code;
    const code = isFluxionError(err) ? err.code : typeof own === 'string' ? own : this.options.fallbackCode;
    this.lastError = { code, message: err instanceof Error ? err.message : String(err), at: this.now() };
  }

  private async run(): Promise<void> {
    while (!this.stoppingFlag) {
      this.state = 'connecting';
      this.lost = false;
      try {
        await this.deps.client.connect({ signal: this.abort.signal });
      } catch (err) {
        if (this.stoppingFlag) break;
        this.deps.onReconnect?.();
        this.noteError(err);
        this.failures++;
        if (isAuthRefusal(err)) await this.authPause();
        else await this.backOff('unreachable', 'err', `cannot reach ${this.options.target}; will retry`);
        continue;
      }
      const upAt = this.now();
      this.failures = 0;
      this.state = 'connected';
      const end = await this.deps.session();
      if (end === 'stopping' || this.stoppingFlag) break;
      this.deps.onReconnect?.();
      if (end === 'auth') {
        // The socket stays: only the key's scope is wrong, and a fixed key takes effect on it.
        await this.authPause();
        continue;
      }
      if (end === 'again') {
        this.backoff.reset();
        continue;
      }
      this.backoff.ended(this.now() - upAt);
      this.failures++;
      await this.backOff('lost', 'lastError', `connection to ${this.options.target} lost; will reconnect`);
    }
    this.state = 'stopped';
  }

  private async backOff(key: string, errField: string, message: string): Promise<void> {
    const delay = this.backoff.next();
    this.state = 'backoff';
    this.warnings.warn(key, { [errField]: this.lastError?.message, retryInMs: delay, failures: this.failures }, message);
    await this.sleep(delay);
  }

  private async authPause(): Promise<void> {
    this.state = 'auth_failed';
    const ms = this.options.retry.authRetryMs;
    this.deps.logger.error({ err: this.lastError?.message, retryInMs: ms }, this.options.authRefusedMessage);
    await this.sleep(ms);
  }

  /** Waits `ms`, or less when stopping (a stop must not wait out a backoff). Never rejects. */
  private sleep(ms: number): Promise<void> {
    return sleep(ms, undefined, { signal: this.abort.signal }).catch(() => undefined);
  }
}
