/**
 * The report stage at work in the agent: applies each rule's `report:` / `aggregate:` to the
 * records the sink is about to commit, saves open windows in the same transaction as those
 * records, and closes due windows on a timer (a window closes on time even when no reading
 * arrives).
 *
 * Across a restart: open windows are in the queue file (WindowStore) with every reading that
 * was acknowledged upstream, so start() resumes them and they close whole; a window whose end
 * passed while the agent was down closes at the first tick. Report-by-exception state is NOT
 * kept: the first reading of each document after a start is sent (one record per document
 * per restart, and the server's latest value is re-anchored after an outage that may have
 * lost acked data).
 */
import type { Logger } from 'pino';
import type { FluxionRecord } from '../client/types.js';
import { isAgentError, ErrorCodes } from '../errors.js';
import type { ReportStage, RuleReportCounters, SavedWindow } from '../mapping/report/index.js';
import type { WindowAcc } from '../mapping/report/window-aggregator.js';
import { WindowStore, type SqliteQueue } from '../queue/index.js';
import { RateLimitedLog } from '../shared/rate-limited-log.js';

export interface IngestReportOptions {
  /** How often due windows are looked for, in ms. Default 1000. */
  tickMs?: number;
  now?: () => number;
}

export class IngestReport {
  private readonly store: WindowStore;
  private readonly warnings: RateLimitedLog;
  private readonly now: () => number;
  private readonly tickMs: number;
  private timer: NodeJS.Timeout | null = null;
  /** Closed windows whose records the queue refused (full): retried at the next tick. */
  private pending: { records: FluxionRecord[]; closed: SavedWindow[] } = { records: [], closed: [] };

  constructor(
    readonly stage: ReportStage,
    private readonly queue: SqliteQueue,
    logger: Logger,
    private readonly onCommitted: (count: number) => void,
    options: IngestReportOptions = {},
  ) {
    this.store = new WindowStore(queue.database);
    this.warnings = new RateLimitedLog(logger);
    this.now = options.now ?? Date.now;
    this.tickMs = options.tickMs ?? 1000;
  }

  /** Resumes the windows saved in the queue file and starts closing windows on time. Safe to call twice. */
  start(): void {
    if (this.timer !== null) return;
    this.stage.restore(this.store.load().map((w) => ({ rule: w.rule, key: w.key, acc: w.state as WindowAcc })));
    this.timer = setInterval(() => this.tick(), this.tickMs);
    this.timer.unref();
  }

  /** Stops the timer; open windows stay saved for the next start. Safe to call twice. */
  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  /** The records of a mapped group to queue, and what to write with them (open windows). */
  admit(
    records: readonly FluxionRecord[],
    ruleOf: readonly number[],
    originOf: readonly string[],
  ): { records: FluxionRecord[]; alsoInTxn: (() => void) | undefined } {
    const r = this.stage.admit(records, ruleOf, originOf);
    if (r.touched.length === 0) return { records: r.records, alsoInTxn: undefined };
    const rows = r.touched.map((w) => ({ rule: w.rule, key: w.key, start: w.acc.start, state: w.acc }));
    return { records: r.records, alsoInTxn: () => this.store.save(rows) };
  }

  /** Closes the windows due now: their records and the removal of their saved state in one transaction. */
  tick(): void {
    const due = this.stage.close(this.now());
    const records = [...this.pending.records, ...due.records];
    const closed = [...this.pending.closed, ...due.closed];
    if (records.length === 0 && closed.length === 0) return;
    try {
      const result = this.queue.append(records, () => this.store.remove(closed.map((w) => ({ key: w.key, start: w.acc.start }))));
      this.pending = { records: [], closed: [] };
      if (result.accepted > 0) this.onCommitted(result.accepted);
    } catch (err) {
      // Queue full (block) or disk full: the windows stay saved as open; retried next tick.
      this.pending = { records, closed };
      const code = isAgentError(err) ? err.code : ErrorCodes.QUEUE_IO;
      this.warnings.warn('window-close', { err: (err as Error).message, code }, 'cannot queue closed windows; will retry');
    }
  }

  counters(): RuleReportCounters[] {
    return this.stage.counters();
  }
}
