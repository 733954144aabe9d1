/**
 * Where the inputs' raw messages become queued records: maps each message with the rule
 * set and commits the group's records in one queue transaction, then files the messages
 * that could not be mapped as dead letters (with their reason, counted, logged rate
 * limited). The input acknowledges its source only after `commit` returned.
 *
 * A group is mapped once. Mapping has memory (timestamp collisions are bumped against the
 * previous reading of each document), so a group retried after `EDGE_ERR_QUEUE_FULL` must
 * not be mapped again: its records would be bumped against themselves and stored twice.
 * The sink keeps the mapped form of the last refused group and reuses it when the same
 * group comes back.
 */
import type { Logger } from 'pino';
import type { FluxionRecord } from '../client/types.js';
import type { IngestReport } from './ingest-report.js';
import type { CommitOutcome, MessageSink, RawMessage, RejectedMessage } from '../inputs/types.js';
import { deadLetterReason, type RuleSet } from '../mapping/index.js';
import type { MetadataPair } from '../mapping/types.js';
import { DropReasons, recordBytes, type DeadLetterInput, type SqliteQueue } from '../queue/index.js';
import { RateLimitedLog } from '../shared/rate-limited-log.js';

interface MappedGroup {
  messages: readonly RawMessage[];
  records: FluxionRecord[];
  deadLetters: DeadLetterInput[];
  metadata: MetadataPair[];
  /** State committed with the records (open report windows), or undefined. */
  alsoInTxn: (() => void) | undefined;
}

export interface IngestCounters {
  /** Raw messages received from every input. */
  received: number;
  /** Records committed to the queue. */
  committed: number;
  /** Messages (or failing rules of a message) filed as dead letters. */
  deadLettered: number;
}

export class IngestSink implements MessageSink {
  readonly counters: IngestCounters = { received: 0, committed: 0, deadLettered: 0 };
  private refused: MappedGroup | null = null;
  /** Dead letters whose own write failed (e.g. disk full): written with the next group. */
  private pendingDeadLetters: DeadLetterInput[] = [];
  private readonly warnings: RateLimitedLog;

  constructor(
    private rules: RuleSet,
    private readonly queue: SqliteQueue,
    logger: Logger,
    /** Told how many records were committed, to wake the sender. */
    private readonly onCommitted: (count: number) => void,
    /** Receives metadata pairs from `kind: metadata` rules. */
    private readonly onMetadata: (pairs: MetadataPair[]) => void = () => undefined,
    /** Report by exception and windows of the rules that have them; null when none has. */
    private report: IngestReport | null = null,
    /** True while FluxionDB is unreachable (the sender has no connection). */
    private readonly linkDown: () => boolean = () => false,
  ) {
    this.warnings = new RateLimitedLog(logger);
  }

  /** Swaps the rule set (config reload); the queue is untouched. */
  replaceRules(rules: RuleSet, report: IngestReport | null = this.report): void {
    this.rules = rules;
    this.report = report;
  }

  commit(messages: readonly (RawMessage | RejectedMessage)[]): CommitOutcome {
    const group = this.refused?.messages === messages ? this.refused : this.map(messages);
    this.refused = group;
    // Throws QUEUE_FULL / DISK_FULL with nothing stored: the input retries this very group.
    const result = this.queue.append(group.records, group.alsoInTxn);
    this.refused = null;
    this.counters.received += messages.length;
    this.counters.committed += result.accepted;
    if (result.accepted > 0) this.onCommitted(result.accepted);
    if (group.metadata.length > 0) this.onMetadata(group.metadata);
    this.fileDeadLetters(group.deadLetters);
    return { deadLettered: group.deadLetters.length };
  }

  dropRefused(messages: readonly RawMessage[]): number {
    const group = this.refused?.messages === messages ? this.refused : null;
    this.refused = null;
    // Mapped readings when the group was mapped; else one per message (a line is a reading).
    const n = group !== null ? group.records.length : messages.length;
    this.counters.received += messages.length;
    this.queue.noteDropped(DropReasons.DISK_FULL, n);
    return n;
  }

  /**
   * Waits for room for the group the queue refused, not for one row: `block` is all or
   * nothing, so waking at the first free row would refuse the group again at once, and an
   * input retrying in a loop of resolved promises would starve the event loop.
   */
  waitForRoom(signal?: AbortSignal): Promise<void> {
    const records = this.refused?.records ?? [];
    let bytes = 0;
    for (const r of records) bytes += recordBytes(r);
    return this.queue.waitForRoom(Math.max(1, records.length), bytes, signal);
  }

  /** FluxionDB unreachable and the queue staging (no batch left for `stage_flush`). */
  backlogged(): boolean {
    return this.queue.staging() && this.linkDown();
  }

  /** A source came back after being away (a serial port reopened): its documents' next readings are sent. */
  sourceOnline(_source: RawMessage['source'], origin: string): void {
    this.report?.stage.forgetOrigin(origin);
  }

  /** Files a message the input could not even hand to the mapping (e.g. an over-long serial line). */
  deadLetter(msg: RawMessage, reason: string): void {
    const origin = msg.topic ?? msg.port ?? null;
    this.counters.received++;
    this.warnings.warn(`unframed:${origin ?? ''}`, { source: msg.source, origin, reason }, 'input rejected a message before mapping; kept as a dead letter');
    this.fileDeadLetters([{ reason, source: msg.source, origin, payload: toStored(msg.payload) }]);
  }

  private map(messages: readonly (RawMessage | RejectedMessage)[]): MappedGroup {
    const records: FluxionRecord[] = [];
    const ruleOf: number[] = [];
    const originOf: string[] = [];
    const deadLetters: DeadLetterInput[] = [];
    const metadata: MetadataPair[] = [];
    const report = this.report;
    for (const msg of messages) {
      if ('rejection' in msg) {
        // Rejected by its input (an over-long line): filed in its place, so dead letters keep arrival order.
        const origin = msg.topic ?? msg.port ?? null;
        deadLetters.push({ reason: msg.rejection, source: msg.source, origin, payload: toStored(msg.payload) });
        this.warnings.warn(`unframed:${origin ?? ''}`, { source: msg.source, origin, reason: msg.rejection }, 'input rejected a message before mapping; kept as a dead letter');
        continue;
      }
      const r = this.rules.map(msg);
      if (r.ok) {
        for (const rec of r.records) records.push(rec);
        if (report !== null) {
          for (const i of this.rules.recordRules()) ruleOf.push(i);
          for (let k = 0; k < r.records.length; k++) originOf.push(msg.topic ?? msg.port ?? '');
        }
        for (const m of r.metadata) metadata.push(m);
        // The common case on the hot path: nothing to file, nothing to allocate.
        if (r.rejections.length === 0) continue;
      }
      const reason = deadLetterReason(r)!;
      const origin = msg.topic ?? msg.port ?? null;
      deadLetters.push({ reason, source: msg.source, origin, payload: toStored(msg.payload) });
      this.warnings.warn(
        `unmapped:${origin ?? ''}`,
        { source: msg.source, origin, reason },
        'message could not be mapped; kept as a dead letter',
      );
    }
    if (report === null) return { messages, records, deadLetters, metadata, alsoInTxn: undefined };
    const kept = report.admit(records, ruleOf, originOf);
    return { messages, records: kept.records, deadLetters, metadata, alsoInTxn: kept.alsoInTxn };
  }

  private fileDeadLetters(items: DeadLetterInput[]): void {
    const all = this.pendingDeadLetters.length > 0 ? [...this.pendingDeadLetters, ...items] : items;
    if (all.length === 0) return;
    try {
      this.queue.deadLetterMany(all);
      this.counters.deadLettered += all.length;
      this.pendingDeadLetters = [];
    } catch (err) {
      // The records are safe; only the record of the failure waits (bounded, oldest dropped).
      this.pendingDeadLetters = all.slice(-10_000);
      this.warnings.warn('dead-letter-write', { err: (err as Error).message }, 'cannot write dead letters; will retry');
    }
  }
}

function toStored(payload: Uint8Array | string): Buffer | string {
  return typeof payload === 'string' ? payload : Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
}
