/**
 * The sender: leases batches from the queue, ships them with `insertMultipleRecords`, and
 * acks them on the server's answer. It owns the connection's life (backoff with full jitter,
 * slow retries after an authentication failure), a window of pipelined batches, replay
 * pacing, live-first ordering, re-sending recently acked rows after every reconnect (an
 * ack only means "in the server's memory"), and poison isolation (batch-isolation.ts).
 */
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import { isAuthRefusal, isFluxionError, FluxionErrorCodes } from '../client/index.js';
import { ReconnectBackoff } from '../reconnect-backoff.js';
import { judgeFailedProbe, splitBatch, wholeBatch, type Batch } from './batch-isolation.js';
import { Resender, toRecords, type ResendClient } from './resend.js';
import { RttHistogram } from './rtt-histogram.js';
import { TokenBucket } from './token-bucket.js';
import { WireMeter } from './wire-meter.js';
import { sleepUnlessAborted, WakeSignal } from '../wake-signal.js';
import type { QueuedRow, SenderLease, SenderOptions, SenderQueue, SenderState, SenderStatus } from './types.js';
import type { WireStats } from './wire-meter.js';

type PumpOutcome = 'stopping' | 'lost' | 'probe_failed' | 'auth';

export interface SenderDeps {
  queue: SenderQueue;
  client: ResendClient;
  logger: Logger;
  now?: () => number;
}

export class Sender extends EventEmitter {
  readonly rtt = new RttHistogram();
  private readonly queue: SenderQueue;
  private readonly client: ResendClient;
  private readonly resender: Resender;
  private readonly logger: Logger;
  private readonly now: () => number;
  private readonly bucket: TokenBucket;
  /** sender.max_bytes_per_second, fed with the bytes the client's socket really wrote. */
  private readonly byteBucket: TokenBucket;
  private readonly wire: WireMeter;
  /** client.bytesSent when last counted. */
  private bytesCounted = 0;

  private state: SenderState = 'idle';
  private running: Promise<void> | null = null;
  private stopping = false;
  private readonly abort = new AbortController();
  private readonly wakeSignal = new WakeSignal();
  private appendedSinceWake = 0;
  private lingerTimer: NodeJS.Timeout | null = null;
  private readonly inFlight = new Set<Promise<void>>();
  private readonly suspects: Batch[] = [];
  private connectionLost = false;
  private probeFailed = false;
  private authFailed = false;
  private readonly backoff: ReconnectBackoff;
  private liveMark = 0;
  private readonly counters = {
    connections: 0,
    reconnects: 0,
    sentRecords: 0,
    sentBatches: 0,
    deadLettered: 0,
  };
  private lastAckAt: number | null = null;
  private lastError: SenderStatus['lastError'] = null;

  private readonly onClose = (): void => {
    this.connectionLost = true;
    this.wake();
  };

  constructor(
    private readonly options: SenderOptions,
    deps: SenderDeps,
  ) {
    super();
    this.queue = deps.queue;
    this.client = deps.client;
    this.logger = deps.logger;
    this.now = deps.now ?? Date.now;
    this.bucket = new TokenBucket(options.maxRecordsPerSecond, this.now);
    this.byteBucket = new TokenBucket(options.maxBytesPerSecond ?? 0, this.now);
    this.wire = new WireMeter(this.now);
    this.backoff = new ReconnectBackoff({ baseMs: options.backoffBaseMs, capMs: options.backoffCapMs, resetAfterMs: options.backoffResetAfterMs });
    this.resender = new Resender(
      {
        windowMs: options.resendAfterReconnectMs,
        batchMaxRecords: options.batchMaxRecords,
        window: options.window,
        requestTimeoutMs: options.requestTimeoutMs,
      },
      this.queue,
      this.client,
      this.now,
      (err) => this.noteError(err),
    );
  }

  start(): void {
    if (this.running !== null || this.stopping) return;
    this.client.on('close', this.onClose);
    this.running = this.loop();
  }

  /**
   * Called by the agent after `count` rows were appended: a full batch goes at once, a
   * partial one after the linger, so light traffic still makes batches rather than frames
   * of one record.
   */
  notify(count = 1): void {
    this.appendedSinceWake += count;
    if (this.appendedSinceWake >= this.options.batchMaxRecords) {
      this.wake();
    } else if (this.lingerTimer === null) {
      this.lingerTimer = setTimeout(() => {
        this.lingerTimer = null;
        this.wake();
      }, this.options.lingerMs);
    }
  }

  /**
   * Stops leasing, lets batches in flight finish until `deadlineMs`, then closes the
   * connection; whatever was not acked stays in the queue and goes out after a restart.
   */
  async stop(deadlineMs = 10_000): Promise<void> {
    if (this.stopping) {
      await this.running;
      return;
    }
    this.stopping = true;
    this.abort.abort();
    if (this.lingerTimer !== null) clearTimeout(this.lingerTimer);
    this.wake();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.allSettled([...this.inFlight]),
      new Promise<void>((r) => (timer = setTimeout(r, deadlineMs))),
    ]);
    clearTimeout(timer);
    await this.client.close();
    await this.running;
    for (const lease of new Set(this.suspects.splice(0).map((b) => b.lease))) this.queue.release(lease);
    this.client.off('close', this.onClose);
    this.state = 'stopped';
  }

  status(): SenderStatus {
    return {
      state: this.state,
      ...this.counters,
      resentRecords: this.resender.resent,
      resendsSkipped: this.resender.skipped,
      inFlightBatches: this.inFlight.size,
      isolating: this.suspects.length,
      lastAckAt: this.lastAckAt,
      lastError: this.lastError,
      wire: this.wireStats(),
    };
  }

  private async loop(): Promise<void> {
    while (!this.stopping) {
      this.state = 'connecting';
      this.connectionLost = false;
      try {
        await this.client.connect({ signal: this.abort.signal });
      } catch (err) {
        if (this.stopping) break;
        this.counters.reconnects++;
        this.noteError(err);
        if (isAuthRefusal(err)) {
          await this.authPause();
        } else {
          const delay = this.backoff.next();
          this.state = 'backoff';
          this.logger.warn({ err: this.describe(err), retryInMs: delay }, 'cannot reach FluxionDB; will retry');
          await this.sleep(delay);
        }
        continue;
      }
      const upAt = this.now();
      this.counters.connections++;
      this.state = 'connected';
      this.authFailed = false;
      this.probeFailed = false;
      this.logger.info({ connection: this.counters.connections }, 'connected to FluxionDB');
      // Everything appended before this instant is backlog; live_first sends what comes after it first.
      this.liveMark = this.queue.newestId();
      const live = (): boolean => !this.stopping && !this.connectionLost;
      await this.resender.check();
      // A suspect batch goes first, alone: a connection that dies on its first insert
      // points at that batch without doubt (see batch-isolation.ts).
      if (this.suspects.length > 0 && live()) await this.launch(this.suspects.pop()!, true);
      await this.resender.run(live);
      const outcome = await this.pump();
      await Promise.allSettled([...this.inFlight]);
      if (outcome === 'stopping') break;
      this.counters.reconnects++;
      if (outcome === 'auth') {
        // The socket stays: only the key's scope is wrong, and a fixed key takes effect on it.
        await this.authPause();
        continue;
      }
      if (outcome === 'probe_failed') this.backoff.reset();
      else this.backoff.ended(this.now() - upAt);
      // Isolating a poison record costs one connection per halving: reconnect at once.
      if (outcome === 'probe_failed') continue;
      const delay = this.backoff.next();
      this.state = 'backoff';
      this.logger.warn({ retryInMs: delay, lastError: this.lastError?.message }, 'connection to FluxionDB lost; will reconnect');
      await this.sleep(delay);
    }
    this.state = 'stopped';
  }

  private async pump(): Promise<PumpOutcome> {
    for (;;) {
      if (this.stopping) return 'stopping';
      if (this.authFailed) return 'auth';
      if (this.connectionLost) return this.probeFailed ? 'probe_failed' : 'lost';
      if (this.suspects.length > 0) {
        // While isolating, one batch at a time: a close then points at the batch that was out.
        if (this.inFlight.size === 0) this.launch(this.suspects.pop()!);
      } else {
        this.fillWindow();
      }
      await this.waitForWake();
    }
  }

  /** Bytes on the wire so far; what was written since the last call is taken from the byte budget. */
  wireStats(): WireStats {
    this.countWireBytes();
    return this.wire.stats(this.counters.sentRecords + this.resender.resent, this.options.maxBytesPerSecond ?? 0);
  }

  private countWireBytes(): void {
    const total = this.client.bytesSent ?? 0;
    const delta = total - this.bytesCounted;
    if (delta <= 0) return;
    this.bytesCounted = total;
    this.wire.add(delta);
    this.byteBucket.take(delta);
  }

  private fillWindow(): void {
    while (this.inFlight.size < this.options.window) {
      // The budget is paid in bytes the socket wrote, known only after a frame went out
      // (compression is asynchronous): a batch overdraws it, and the debt is waited off
      // before the next one. live_first (leaseNext) decides what goes first within it.
      this.countWireBytes();
      const delay = Math.max(this.bucket.delayMs(), this.byteBucket.delayMs());
      if (delay > 0) {
        setTimeout(() => this.wake(), delay).unref();
        return;
      }
      const lease = this.leaseNext();
      if (lease === null) return;
      this.bucket.take(lease.count);
      this.launch(wholeBatch(lease));
    }
  }

  private leaseNext(): SenderLease | null {
    const opts = { maxRecords: this.options.batchMaxRecords, maxBytes: this.options.batchMaxBytes };
    if (this.options.order === 'live_first') {
      const live = this.queue.lease({ ...opts, minId: this.liveMark + 1 });
      if (live !== null) return live;
    }
    return this.queue.lease(opts);
  }

  private launch(batch: Batch, firstOnConnection = false): Promise<void> {
    batch.first = firstOnConnection;
    const p: Promise<void> = this.send(batch).finally(() => {
      this.inFlight.delete(p);
      this.wake();
    });
    this.inFlight.add(p);
    return p;
  }

  private async send(batch: Batch): Promise<void> {
    // The queue stores only records that pass validateRecord (checked at append): a whole
    // lease goes as the payload SQLite encoded, a probe as its rows.
    const payload = batch.probe ? null : batch.lease.payload;
    const rows = payload === null ? batch.rows : null;
    if (rows !== null && rows.length === 0) return;
    const started = this.now();
    try {
      const opts = { timeoutMs: this.options.requestTimeoutMs };
      if (rows === null) await this.client.insertEncodedRecords(payload!, opts);
      else await this.client.insertMultipleRecords(toRecords(rows), opts);
    } catch (err) {
      this.onSendFailure(batch, err);
      return;
    }
    try {
      // A probe is part of a split lease: ack exactly its rows; a whole batch acks its lease.
      if (batch.probe) this.queue.ack(batch.lease, rows!.map((r) => r.id));
      else this.queue.ack(batch.lease);
    } catch (err) {
      // E.g. a full disk: the rows stay unsent and go out again later (inserts are idempotent).
      this.noteError(err);
      this.logger.error({ err: this.describe(err) }, 'cannot record an ack in the queue; the batch will be sent again');
      this.putBack(batch);
      return;
    }
    const t = this.now();
    this.rtt.observe(t - started);
    this.resender.noteAcked(rows === null ? batch.lease.last : rows[rows.length - 1]!);
    this.lastAckAt = t;
    this.counters.sentRecords += rows === null ? batch.lease.count : rows.length;
    this.counters.sentBatches++;
    // Listeners (benchmarks, diagnostics) get the rows; without one, an encoded lease's rows are never read.
    if (this.listenerCount('acked') > 0) this.emit('acked', batch.rows);
  }

  private onSendFailure(batch: Batch, err: unknown): void {
    this.noteError(err);
    const code = isFluxionError(err) ? err.code : undefined;
    switch (code) {
      case FluxionErrorCodes.AUTH:
      case FluxionErrorCodes.PERMISSION_DENIED:
        this.authFailed = true;
        this.putBack(batch);
        return;
      case FluxionErrorCodes.CLIENT_CLOSED:
      case FluxionErrorCodes.TIMEOUT:
        // Not a sign of poison: we are stopping, or the server is slow or dropped the answer.
        this.putBack(batch);
        return;
      case FluxionErrorCodes.SERVER:
      case FluxionErrorCodes.VALIDATION:
        // The server (or our frame limit) refused this very request: isolate it now.
        if (batch.rows.length === 1) this.deadLetter(batch.lease, batch.rows[0]!, `refused: ${this.describe(err)}`);
        else this.suspects.push(...splitBatch(batch));
        return;
      default: {
        // The connection died with this batch out: it is a suspect until it goes through alone.
        this.connectionLost = true;
        if (!batch.probe) {
          this.suspects.push({ ...batch, probe: true, strikes: 0 });
          return;
        }
        this.probeFailed = true;
        const verdict = judgeFailedProbe(batch);
        if (verdict.action === 'dead_letter') {
          this.deadLetter(batch.lease, verdict.row, `connection closed each time this record was sent alone: ${this.describe(err)}`);
        } else {
          this.suspects.push(...verdict.batches);
        }
      }
    }
  }

  /** A batch that failed for a reason unrelated to its content goes out again later. */
  private putBack(batch: Batch): void {
    if (batch.probe) this.suspects.push(batch);
    else this.queue.release(batch.lease);
  }

  private deadLetter(lease: SenderLease, row: QueuedRow, reason: string): void {
    this.queue.deadLetterLeased(lease, [row.id], reason);
    this.counters.deadLettered++;
    this.logger.error({ col: row.col, doc: row.doc, ts: row.ts, reason }, 'record dead-lettered by the sender');
  }

  private async authPause(): Promise<void> {
    this.state = 'auth_failed';
    this.logger.error(
      { err: this.lastError?.message, retryInMs: this.options.authRetryMs },
      'FluxionDB refused the API key or its scope: nothing can be sent until this is fixed; data stays queued',
    );
    await this.sleep(this.options.authRetryMs);
  }

  private noteError(err: unknown): void {
    const code = isFluxionError(err) ? err.code : 'EDGE_ERR_SEND';
    this.lastError = { code, message: this.describe(err), at: this.now() };
  }

  private describe(err: unknown): string {
    return err instanceof Error ? err.message : String(err);
  }

  private wake(): void {
    this.appendedSinceWake = 0;
    this.wakeSignal.wake();
  }

  /** A slow tick as a safety net: rows appended without notify() (e.g. by the CLI) still go out. */
  private waitForWake(): Promise<void> {
    return this.wakeSignal.wait(1000);
  }

  private sleep(ms: number): Promise<void> {
    return sleepUnlessAborted(ms, this.abort.signal);
  }
}
