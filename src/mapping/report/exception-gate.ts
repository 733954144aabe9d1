/**
 * Report by exception for one rule: decides, reading by reading, whether a document's
 * reading tells something new. Pure: the caller passes each reading's time (ms); no clock,
 * no timers. State per document is the last sent values and two instants, bounded by
 * `maxDocuments` (a forgotten document's next reading is sent as a first reading).
 *
 * Time is the reading's own time, so a backlog a device replays is judged as it happened.
 * A reading older than the newest one seen for its document (a late or redelivered one) is
 * judged on its values alone and leaves the state untouched.
 */
import type { CompiledReport } from './spec.js';

/** Why a reading was sent. */
export type SendReason = 'first' | 'gap' | 'heartbeat' | 'change' | 'interval' | 'late_change';
/** Why a reading was not sent. */
export type SuppressReason = 'unchanged' | 'min_interval' | 'late_unchanged';
export type Decision = SendReason | SuppressReason;

const SEND: ReadonlySet<Decision> = new Set<Decision>(['first', 'gap', 'heartbeat', 'change', 'interval', 'late_change']);
export function isSend(d: Decision): d is SendReason {
  return SEND.has(d);
}

interface DocState {
  sentAt: number;
  seenAt: number;
  sent: Record<string, unknown>;
  /** Where the document's last reading came from (topic, port), for forgetOrigin(). */
  origin: string;
}

export class ExceptionGate {
  /** Documents forgotten because the memory was full. */
  evicted = 0;
  private readonly docs = new Map<string, DocState>();

  constructor(
    private readonly spec: CompiledReport,
    private readonly maxDocuments = 100_000,
  ) {}

  get size(): number {
    return this.docs.size;
  }

  /** Decides on one reading of document `key` at `tsMs` with its `data` fields. */
  decide(key: string, tsMs: number, data: Record<string, unknown>, origin = ''): Decision {
    const s = this.docs.get(key);
    if (s === undefined) {
      this.remember(key, { sentAt: tsMs, seenAt: tsMs, sent: data, origin });
      return 'first';
    }
    s.origin = origin;
    const spec = this.spec;
    if (tsMs < s.seenAt) return this.changed(s.sent, data) ? 'late_change' : 'late_unchanged';
    const gap = tsMs - s.seenAt;
    s.seenAt = tsMs;
    let d: Decision;
    if (gap > spec.maxIntervalMs) d = 'gap';
    else if (tsMs - s.sentAt >= spec.maxIntervalMs) d = 'heartbeat';
    else {
      const want: Decision | null = !spec.onChange ? 'interval' : this.changed(s.sent, data) ? 'change' : null;
      if (want === null) return 'unchanged';
      if (tsMs - s.sentAt < spec.minIntervalMs) return 'min_interval';
      d = want;
    }
    s.sentAt = tsMs;
    s.sent = data;
    return d;
  }

  /** Forgets a document (its device came back online): its next reading is sent. */
  forget(key: string): void {
    this.docs.delete(key);
  }

  /** Forgets every document last fed from `origin` (a serial port that reopened): their next readings are sent. */
  forgetOrigin(origin: string): number {
    let n = 0;
    for (const [key, s] of this.docs) {
      if (s.origin === origin) {
        this.docs.delete(key);
        n++;
      }
    }
    return n;
  }

  clear(): void {
    this.docs.clear();
  }

  private remember(key: string, s: DocState): void {
    if (this.docs.size >= this.maxDocuments) {
      const oldest = this.docs.keys().next();
      if (oldest.done !== true) {
        this.docs.delete(oldest.value);
        this.evicted++;
      }
    }
    this.docs.set(key, s);
  }

  /** True when a tracked field changed beyond its deadband, appeared or disappeared. */
  private changed(last: Record<string, unknown>, now: Record<string, unknown>): boolean {
    const fields = this.spec.fields;
    if (fields !== null) {
      for (const f of fields) if (this.fieldChanged(f, last, now)) return true;
      return false;
    }
    for (const f in now) if (this.fieldChanged(f, last, now)) return true;
    for (const f in last) if (!Object.hasOwn(now, f)) return true;
    return false;
  }

  private fieldChanged(f: string, last: Record<string, unknown>, now: Record<string, unknown>): boolean {
    const had = Object.hasOwn(last, f);
    const has = Object.hasOwn(now, f);
    if (had !== has) return true;
    if (!has) return false;
    const a = last[f];
    const b = now[f];
    if (typeof a === 'number' && typeof b === 'number') {
      const band = this.spec.deadbands.get(f);
      if (band === undefined) return a !== b && !(Number.isNaN(a) && Number.isNaN(b));
      const limit = band.pct ? (Math.abs(a) * band.value) / 100 : band.value;
      // "Changed by more than the deadband": a move of exactly the band is not a change.
      return Math.abs(b - a) > limit;
    }
    if (a === b) return false;
    if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return true;
    return JSON.stringify(a) !== JSON.stringify(b);
  }
}
