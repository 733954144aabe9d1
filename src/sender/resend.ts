/**
 * Re-sending after a reconnect. FluxionDB's ack means "in the server's memory": it writes
 * to disk every 15 s and is stopped by SIGKILL, so a reconnect may mean the server died
 * and forgot what it acked last. Rows acked within the window go out again before new
 * work; inserts are idempotent, so when the server did not die this costs only bandwidth.
 *
 * The window ends at the newest ack on file, not at the reconnect: nothing is acked while
 * the link is down, so that ack is the last one before the link was lost, and what the
 * server may have forgotten is what it acked in the window before it, however long the
 * outage lasted (issue 11: counted back from the reconnect, a 60 s outage lost everything
 * acked in the 30 s before the crash). Read from the queue file, it holds across an agent
 * restart during the outage too.
 *
 * Two refinements keep that cheap and keep it from starving new readings:
 * - When this process saw the last ack, it first asks the server for that very record.
 *   The server flushes everything it holds at each flush, so if the newest acked record is
 *   still there, nothing older was lost either, and the resend is skipped. When it is
 *   missing, or the question cannot be asked, everything in the window is resent.
 * - A pass that a dropped connection interrupts resumes after its last confirmed page on
 *   the next connection instead of starting over: a link that drops every few frames must
 *   not be fed the same re-sends forever while new readings wait.
 */
import type { Logger } from 'pino';
import type { FluxionRecord } from '../client/types.js';
import type { QueuedRow, SenderClient, SenderQueue } from './types.js';

/** Rows without their queue id: the frame carries exactly the protocol's four fields. */
export function toRecords(rows: readonly QueuedRow[]): FluxionRecord[] {
  const out = new Array<FluxionRecord>(rows.length);
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i]!;
    out[i] = { ts: r.ts, doc: r.doc, data: r.data, col: r.col };
  }
  return out;
}

export interface ResendOptions {
  /** Rows acked this long before the last ack preceding a lost link are sent again, in ms; 0: never. */
  windowMs: number;
  batchMaxRecords: number;
  /** Pages in flight at once. */
  window: number;
  requestTimeoutMs: number;
}

export interface ResendClient extends SenderClient {
  fetchLatestRecords(
    params: { col: string; ts: number; doc?: string },
    opts?: { timeoutMs?: number },
  ): Promise<Record<string, { ts: number; data: string }>>;
}

/** Why a pass was started: the server lacks the newest ack, or it could not be asked. */
type ResendReason = 'newest_ack_missing' | 'newest_ack_unknown' | 'check_failed';

interface Pass {
  sinceMs: number;
  afterId: number;
  /** The last ack before the link was lost (the window's end), ms since the epoch. */
  anchorMs: number;
  reason: ResendReason;
  /** Rows re-sent by this pass so far (over interrupted connections). */
  sent: number;
}

const REASON_TEXT: Record<ResendReason, string> = {
  newest_ack_missing: 'the server no longer holds the newest acked reading (it probably restarted and lost what it had not written to disk)',
  newest_ack_unknown: 'this process has seen no ack yet (it restarted), so the server may have lost what was acked before',
  check_failed: 'the server could not be asked whether it still holds the newest acked reading',
};

export class Resender {
  /** Records re-sent since start. */
  resent = 0;
  /** Reconnects after which the server still held the newest ack, so nothing was re-sent. */
  skipped = 0;
  private pass: Pass | null = null;
  private lastAcked: FluxionRecord | null = null;

  constructor(
    private readonly options: ResendOptions,
    private readonly queue: SenderQueue,
    private readonly client: ResendClient,
    private readonly now: () => number,
    private readonly onError: (err: unknown) => void,
    private readonly logger: Logger,
  ) {}

  /** The newest record the server acked on this process's watch. */
  noteAcked(row: FluxionRecord): void {
    this.lastAcked = row;
  }

  /**
   * First thing on a new connection: decides whether a pass is needed (one read). Called
   * before anything is inserted on the connection, so the answer is about the old server,
   * and the newest ack on file is the last one before the link went down.
   */
  async check(): Promise<void> {
    if (this.pass !== null || this.options.windowMs <= 0) return;
    const anchorMs = this.queue.lastAckedAt();
    if (anchorMs === null) return;
    const newest = this.lastAcked;
    let reason: ResendReason = 'newest_ack_unknown';
    if (newest !== null) {
      const held = await this.serverHolds(newest);
      if (held === true) {
        this.skipped++;
        this.logger.info({ lastAckBeforeLoss: new Date(anchorMs).toISOString() }, 're-sent nothing: the server still holds the newest acked reading');
        return;
      }
      reason = held === false ? 'newest_ack_missing' : 'check_failed';
    }
    this.pass = { sinceMs: anchorMs - this.options.windowMs, afterId: 0, anchorMs, reason, sent: 0 };
  }

  /** Sends the pending pass, if any; `live()` turns false when the connection is lost or we stop. */
  async run(live: () => boolean): Promise<void> {
    const pass = this.pass;
    if (pass === null || !(await this.runPass(pass, live))) return;
    this.pass = null;
    this.logger.info(
      {
        resent: pass.sent,
        reason: pass.reason,
        windowMs: this.options.windowMs,
        lastAckBeforeLoss: new Date(pass.anchorMs).toISOString(),
        sinceLastAckMs: Math.max(0, this.now() - pass.anchorMs),
      },
      `re-sent ${pass.sent} readings acked in the ${this.options.windowMs / 1000} s before the link was lost: ${REASON_TEXT[pass.reason]}`,
    );
  }

  /** True: the server holds it; false: it does not; null: the question could not be asked. */
  private async serverHolds(record: FluxionRecord): Promise<boolean | null> {
    // A document written `/.../` would be read as a regex by qry: no exact question possible.
    if (record.doc.length > 1 && record.doc.startsWith('/')) return null;
    try {
      const found = await this.client.fetchLatestRecords(
        { col: record.col, ts: record.ts, doc: record.doc },
        { timeoutMs: this.options.requestTimeoutMs },
      );
      const point = found[record.doc];
      return point !== undefined && point.ts === record.ts && point.data === record.data;
    } catch (err) {
      this.onError(err);
      return null;
    }
  }

  /** Sends the pass's pages, pipelined; true when it went through to the end. */
  private async runPass(pass: Pass, live: () => boolean): Promise<boolean> {
    let afterId = pass.afterId;
    let failed = false;
    const pending: Array<{ sent: Promise<boolean>; lastId: number }> = [];
    // Pages settle in order; the pass is confirmed only up to the first page that failed.
    const settleOldest = async (): Promise<void> => {
      const oldest = pending.shift()!;
      const ok = await oldest.sent;
      if (!ok) failed = true;
      else if (!failed) pass.afterId = oldest.lastId;
    };
    while (live() && !failed) {
      const page = this.queue.resendCandidates(pass.sinceMs, { afterId, limit: this.options.batchMaxRecords });
      afterId = page.nextAfterId;
      const n = page.rows.length;
      if (n > 0) {
        const sent = this.client.insertMultipleRecords(toRecords(page.rows), { timeoutMs: this.options.requestTimeoutMs }).then(
          () => {
            this.resent += n;
            pass.sent += n;
            return true;
          },
          (err: unknown) => {
            this.onError(err);
            return false;
          },
        );
        pending.push({ sent, lastId: afterId });
      } else if (pending.length === 0) {
        pass.afterId = afterId;
      }
      if (page.done) break;
      if (pending.length >= this.options.window) await settleOldest();
    }
    while (pending.length > 0) await settleOldest();
    return !failed && live();
  }
}
