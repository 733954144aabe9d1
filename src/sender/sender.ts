/**
 * The sender: leases batches from the queue, ships them with `insertMultipleRecords`, and
 * acks them on the server's answer. It owns the connection's life (backoff with full jitter,
 * slow retries after an authentication failure), a window of pipelined batches, replay
 * pacing, live-first ordering, re-sending recently acked rows after every reconnect (an
 * ack only means "in the server's memory"), and poison isolation (batch-isolation.ts).
 */
import { EventEmitter } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { isFluxionError, FluxionErrorCodes } from '../client/index.js';
import { ErrorCodes } from '../errors.js';
import { ReconnectLoop, type SessionEnd } from '../shared/reconnect-loop.js';
import { ReconnectBackoff } from '../shared/reconnect-backoff.js';
import { RateLimitedLog } from '../shared/rate-limited-log.js';
import { judgeFailedProbe, splitBatch, wholeBatch, type Batch } from './batch-isolation.js';
import { Resender, toRecords, type ResendClient } from './resend.js';
import { RttHistogram } from './rtt-histogram.js';
import { TokenBucket } from './token-bucket.js';
import { WireMeter } from './wire-meter.js';
import type { QueuedRow, SenderLease, SenderOptions, SenderQueue, SenderState, SenderStatus } from './types.js';
import type { WireStats } from './wire-meter.js';

type PumpOutcome = 'stopping' | 'lost' | 'probe_failed' | 'auth';

/** How the sender's pump ended, as the reconnect loop takes it: a failed probe reconnects at once. */
const SESSION_END: Record<PumpOutcome, SessionEnd> = { stopping: 'stopping', lost: 'lost', probe_failed: 'again', auth: 'auth' };

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

  private readonly link: ReconnectLoop;
  private appendedSinceWake = 0;
  private lingerTimer: NodeJS.Timeout | null = null;
  private readonly inFlight = new Set<Promise<void>>();
  private readonly suspects: Batch[] = [];
  private probeFailed = false;
  private authFailed = false;
  /** Acks the queue could not record: leasing pauses with backoff instead of re-sending in a loop. */
  private readonly ackBackoff: ReconnectBackoff;
  private ackHoldUntil = 0;
  private ackFailures = 0;
  private readonly warnings: RateLimitedLog;
  private liveMark = 0;
  private readonly counters = {
    connections: 0,
    reconnects: 0,
    sentRecords: 0,
    sentBatches: 0,
    deadLettered: 0,
  };
  private lastAckAt: number | null = null;

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
    this.link = new ReconnectLoop(
      {
        retry: options,
        fallbackCode: ErrorCodes.SEND,
        target: 'FluxionDB',
        authRefusedMessage: 'FluxionDB refused the API key or its scope: nothing can be sent until this is fixed; data stays queued',
      },
      {
        client: this.client,
        logger: this.logger,
        session: async () => SESSION_END[await this.session()],
        onReconnect: () => void this.counters.reconnects++,
        now: this.now,
      },
    );
    this.ackBackoff = new ReconnectBackoff({ baseMs: options.backoffBaseMs, capMs: options.backoffCapMs, resetAfterMs: 0 });
    this.warnings = new RateLimitedLog(this.logger);
    this.byteBucket = new TokenBucket(options.maxBytesPerSecond ?? 0, this.now);
    this.wire = new WireMeter(this.now);
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
      this.logger,
    );
  }

  start(): void {
    this.link.start();
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
    if (this.link.stopping) {
      await this.link.stop();
      return;
    }
    if (this.lingerTimer !== null) clearTimeout(this.lingerTimer);
    this.appendedSinceWake = 0;
    await this.link.stop(async () => {
      const deadline = new AbortController();
      await Promise.race([
        Promise.allSettled([...this.inFlight]),
        sleep(deadlineMs, undefined, { signal: deadline.signal }).catch(() => undefined),
      ]);
      deadline.abort();
    });
    for (const lease of new Set(this.suspects.splice(0).map((b) => b.lease))) this.queue.release(lease);
  }

  /** True while a connection to FluxionDB is up. */
  connected(): boolean {
    return this.link.state === 'connected';
  }

  status(): SenderStatus {
    return {
      state: this.link.state as SenderState,
      ...this.counters,
      resentRecords: this.resender.resent,
      resendsSkipped: this.resender.skipped,
      inFlightBatches: this.inFlight.size,
      isolating: this.suspects.length,
      lastAckAt: this.lastAckAt,
      lastError: this.link.lastError,
      wire: this.wireStats(),
    };
  }

  /** What the sender does on a live connection (the loop around it: shared/reconnect-loop.ts). */
  private async session(): Promise<PumpOutcome> {
    this.counters.connections++;
    this.authFailed = false;
    this.probeFailed = false;
    this.logger.info({ connection: this.counters.connections }, 'connected to FluxionDB');
    // Everything appended before this instant is backlog; live_first sends what comes after it first.
    this.liveMark = this.queue.newestId();
    const live = (): boolean => !this.link.stopping && !this.link.connectionLost;
    await this.resender.check();
    // A suspect batch goes first, alone: a connection that dies on its first insert
    // points at that batch without doubt (see batch-isolation.ts).
    if (this.suspects.length > 0 && live()) await this.launch(this.suspects.pop()!, true);
    await this.resender.run(live);
    const outcome = await this.pump();
    await Promise.allSettled([...this.inFlight]);
    return outcome;
  }

  private async pump(): Promise<PumpOutcome> {
    for (;;) {
      if (this.link.stopping) return 'stopping';
      if (this.authFailed) return 'auth';
      if (this.link.connectionLost) return this.probeFailed ? 'probe_failed' : 'lost';
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
    const hold = this.ackHoldUntil - this.now();
    if (hold > 0) {
      setTimeout(() => this.wake(), hold).unref();
      return;
    }
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
    // live_first: what arrived since the connection came up goes first, and the same insert
    // is topped up from the backlog (one round trip and one ack instead of a small batch
    // and a full one).
    if (this.options.order === 'live_first') return this.queue.lease({ ...opts, minId: this.liveMark + 1, olderToo: true });
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
    // lease goes as the payload the queue encoded (and escaped), a probe as its rows.
    const escaped = batch.probe ? null : batch.lease.escaped;
    const rows = escaped === null ? batch.rows : null;
    if (rows !== null && rows.length === 0) return;
    const started = this.now();
    try {
      const opts = { timeoutMs: this.options.requestTimeoutMs };
      if (rows === null) await this.client.insertEscapedRecords(escaped!, opts);
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
      // The queue keeps acks of a full disk in memory itself; this is another failure. The
      // rows stay unsent and go out again (inserts are idempotent), after a backoff: at once,
      // it would be a loop of re-sends hammering the server and the log.
      this.noteError(err);
      this.ackFailures++;
      const delay = this.ackBackoff.next();
      this.ackHoldUntil = this.now() + delay;
      this.warnings.warn('ack-failed', { err: this.describe(err), failures: this.ackFailures, retryInMs: delay }, 'cannot record an ack in the queue; the batch will be sent again after a pause');
      this.putBack(batch);
      return;
    }
    this.ackBackoff.reset();
    const t = this.now();
    this.rtt.observe(t - started);
    this.resender.noteAcked(rows === null ? batch.lease.last : newestOf(rows));
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
        this.link.markLost();
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

  private noteError(err: unknown): void {
    this.link.noteError(err);
  }

  private describe(err: unknown): string {
    return err instanceof Error ? err.message : String(err);
  }

  private wake(): void {
    this.appendedSinceWake = 0;
    this.link.wake();
  }

  /** A slow tick as a safety net: rows appended without notify() (e.g. by the CLI) still go out. */
  private waitForWake(): Promise<void> {
    return this.link.waitForWake(1000);
  }
}

/** The row with the highest id (a topped-up lease sends its newest rows first). */
function newestOf(rows: readonly QueuedRow[]): QueuedRow {
  let newest = rows[0]!;
  for (const r of rows) if (r.id > newest.id) newest = r;
  return newest;
}
