/**
 * The report stage: between mapping and the queue, it applies each rule's `report:` (report
 * by exception) and `aggregate:` (downsampling windows) to the records that rule produced.
 * Rules with neither pass through untouched. Pure: times come from the records and from the
 * caller (`close(now)`); the caller owns the timer and the queue.
 *
 * State is per (rule, col, doc), bounded per rule. What is suppressed is counted per rule.
 * Open windows are handed back (`touched`, `closed`) so the caller can save them in the same
 * transaction as the records: a restart then resumes each window where it was (see
 * WindowStore), and a window is never written partial as if it were whole.
 */
import type { FluxionRecord } from '../../client/types.js';
import { ExceptionGate, isSend, type Decision } from './exception-gate.js';
import { compileAggregate, compileReport, type AggregateSpec, type ReportSpec } from './spec.js';
import { WindowAggregator, type WindowAcc } from './window-aggregator.js';

/** The parts of a rule spec and of the mapping options the stage reads. */
export interface ReportRuleInput {
  topic?: string | undefined;
  port?: string | undefined;
  report?: ReportSpec | undefined;
  aggregate?: AggregateSpec | undefined;
}
export interface ReportTimeOptions {
  ts_unit_out?: 's' | 'ms' | 'us' | undefined;
  collections?: Record<string, { ts_unit_out?: 's' | 'ms' | 'us' | undefined }> | undefined;
}

/** An open window as saved in the queue file. */
export interface SavedWindow {
  rule: number;
  key: string;
  acc: WindowAcc;
}

export interface RuleReportCounters {
  rule: number;
  /** The rule's topic or port. */
  source: string;
  mode: 'report' | 'aggregate';
  /** Readings the rule produced. */
  readings: number;
  /** Records handed on to the queue (readings for report, window records for aggregate). */
  sent: number;
  /** Readings not sent, by reason (report); readings folded into windows count as `aggregated`. */
  suppressed: number;
  unchanged: number;
  minInterval: number;
  /** Readings older than the newest of their document (report) or arriving after their window closed (aggregate). */
  late: number;
  /** Aggregate: windows written again because a late reading joined them. */
  corrected: number;
  /** Aggregate: late readings of a window older than the last closed one, dropped. */
  lateDropped: number;
  /** Aggregate: values of aggregated fields that were not numbers. */
  nonNumeric: number;
  /** Documents forgotten (report) or windows closed early (aggregate) at the memory bound. */
  evicted: number;
  /** Documents (report) or open windows (aggregate) held now. */
  tracked: number;
}

interface RuleStage {
  rule: number;
  source: string;
  gate: ExceptionGate | null;
  agg: WindowAggregator | null;
  c: RuleReportCounters;
}

const TO_MS = { s: 1000, ms: 1, us: 0.001 } as const;

export class ReportStage {
  private readonly stages: Array<RuleStage | undefined> = [];
  /** Windows restored for a rule that no longer aggregates: closed at the next close(). */
  private orphans: SavedWindow[] = [];

  /** A stage for the rules, or null when no rule has `report` or `aggregate`. */
  static build(rules: readonly ReportRuleInput[], time: ReportTimeOptions, maxDocuments = 100_000): ReportStage | null {
    return rules.some((r) => r.report !== undefined || r.aggregate !== undefined) ? new ReportStage(rules, time, maxDocuments) : null;
  }

  private constructor(
    rules: readonly ReportRuleInput[],
    private readonly time: ReportTimeOptions,
    maxDocuments: number,
  ) {
    rules.forEach((r, i) => {
      if (r.report === undefined && r.aggregate === undefined) return;
      const source = r.topic ?? r.port ?? `rule ${i}`;
      const agg = r.aggregate !== undefined ? new WindowAggregator(compileAggregate(r.aggregate), maxDocuments) : null;
      const gate = agg === null && r.report !== undefined ? new ExceptionGate(compileReport(r.report), maxDocuments) : null;
      this.stages[i] = {
        rule: i, source, gate, agg,
        c: {
          rule: i, source, mode: agg ? 'aggregate' : 'report', readings: 0, sent: 0, suppressed: 0, unchanged: 0, minInterval: 0,
          late: 0, corrected: 0, lateDropped: 0, nonNumeric: 0, evicted: 0, tracked: 0,
        },
      };
    });
  }

  /**
   * Applies the rules to a group of mapped records (`ruleOf[i]` = the rule of `records[i]`).
   * Returns the records to queue and the open windows that changed (to save with them).
   */
  admit(
    records: readonly FluxionRecord[],
    ruleOf: readonly number[],
    originOf?: readonly string[],
  ): { records: FluxionRecord[]; touched: SavedWindow[] } {
    const out: FluxionRecord[] = [];
    const touched = new Map<string, SavedWindow>();
    for (let i = 0; i < records.length; i++) {
      const rec = records[i]!;
      const st = this.stages[ruleOf[i] ?? -1];
      if (st === undefined) {
        out.push(rec);
        continue;
      }
      const r = this.one(st, rec, originOf?.[i] ?? '');
      if (r.record !== null) out.push(r.record);
      if (r.window !== null) touched.set(`${r.window.key}\u0000${r.window.acc.start}`, r.window);
    }
    return { records: out, touched: [...touched.values()] };
  }

  /** One record through its rule's stage, with the decision (for `map --payload-file`). */
  decide(rec: FluxionRecord, rule: number): { decision: Decision | 'window' | 'corrected' | 'late' | 'pass'; record: FluxionRecord | null } {
    const st = this.stages[rule];
    if (st === undefined) return { decision: 'pass', record: rec };
    const r = this.one(st, rec);
    return { decision: r.decision, record: r.record };
  }

  /**
   * Closes the windows due at `nowMs` (wall clock): their records, and the windows to delete
   * from the saved state in the same transaction.
   */
  close(nowMs: number): { records: FluxionRecord[]; closed: SavedWindow[] } {
    const records: FluxionRecord[] = [];
    const closed: SavedWindow[] = [];
    for (const st of this.stages) {
      if (st?.agg == null) continue;
      for (const { key, acc } of st.agg.close(nowMs)) {
        records.push(this.windowRecord(acc, st.agg.render(acc)));
        closed.push({ rule: st.rule, key, acc });
        st.c.sent++;
      }
    }
    for (const o of this.orphans) {
      records.push(this.windowRecord(o.acc, renderOrphan(o.acc)));
      closed.push(o);
    }
    this.orphans = [];
    return { records, closed };
  }

  /** Puts back windows saved before a restart; a rule that no longer aggregates gets them closed at once. */
  restore(saved: readonly SavedWindow[]): void {
    for (const w of saved) {
      const agg = this.stages[w.rule]?.agg;
      if (agg != null && w.acc.length === agg.spec.windowMs) agg.restore(w.key, w.acc);
      else this.orphans.push(w);
    }
  }

  /** Forgets the report state of a document (its device came back online): its next reading is sent. */
  forgetDocument(col: string, doc: string): void {
    for (const st of this.stages) st?.gate?.forget(docKey(st.rule, col, doc));
  }

  /** Forgets the report state of every document last fed from `origin` (a topic, a serial port) that came back. */
  forgetOrigin(origin: string): void {
    for (const st of this.stages) st?.gate?.forgetOrigin(origin);
  }

  counters(): RuleReportCounters[] {
    const out: RuleReportCounters[] = [];
    for (const st of this.stages) {
      if (st === undefined) continue;
      if (st.gate) {
        st.c.evicted = st.gate.evicted;
        st.c.tracked = st.gate.size;
      }
      if (st.agg) {
        st.c.corrected = st.agg.corrected;
        st.c.lateDropped = st.agg.lateDropped;
        st.c.evicted = st.agg.evicted;
        st.c.tracked = st.agg.openWindows().length;
      }
      out.push({ ...st.c });
    }
    return out;
  }

  private one(
    st: RuleStage,
    rec: FluxionRecord,
    origin = '',
  ): { decision: Decision | 'window' | 'corrected' | 'late' | 'pass'; record: FluxionRecord | null; window: SavedWindow | null } {
    st.c.readings++;
    const data = parseData(rec.data);
    if (data === null) {
      // Not a JSON object (cannot happen for mapped records): never dropped.
      st.c.sent++;
      return { decision: 'pass', record: rec, window: null };
    }
    const key = docKey(st.rule, rec.col, rec.doc);
    const tsMs = rec.ts * this.factor(rec.col);
    if (st.agg !== null) {
      const o = st.agg.add(key, rec.col, rec.doc, tsMs, data);
      st.c.suppressed++;
      if (o.kind === 'late') {
        st.c.late++;
        return { decision: 'late', record: null, window: null };
      }
      for (const f of st.agg.spec.fields) {
        const v = data[f];
        if (v !== undefined && (typeof v !== 'number' || !Number.isFinite(v))) st.c.nonNumeric++;
      }
      if (o.kind === 'corrected') {
        st.c.late++;
        st.c.sent++;
        return { decision: 'corrected', record: this.windowRecord(o.acc, st.agg.render(o.acc)), window: null };
      }
      return { decision: 'window', record: null, window: { rule: st.rule, key, acc: o.acc } };
    }
    const d = st.gate!.decide(key, tsMs, data, origin);
    if (d === 'late_change' || d === 'late_unchanged') st.c.late++;
    if (isSend(d)) {
      st.c.sent++;
      return { decision: d, record: rec, window: null };
    }
    st.c.suppressed++;
    if (d === 'min_interval') st.c.minInterval++;
    else st.c.unchanged++;
    return { decision: d, record: null, window: null };
  }

  private factor(col: string): number {
    const unit = this.time.collections?.[col]?.ts_unit_out ?? this.time.ts_unit_out ?? 'ms';
    return TO_MS[unit];
  }

  private windowRecord(acc: WindowAcc, data: Record<string, unknown>): FluxionRecord {
    return { col: acc.col, doc: acc.doc, ts: Math.floor(acc.start / this.factor(acc.col)), data: JSON.stringify(data) };
  }
}

function docKey(rule: number, col: string, doc: string): string {
  return `${rule}\u0000${col}\u0000${doc}`;
}

function parseData(text: string): Record<string, unknown> | null {
  try {
    const v: unknown = JSON.parse(text);
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

/** A window whose rule no longer aggregates (config changed across a restart): mean, min, max, last, count. */
function renderOrphan(acc: WindowAcc): Record<string, unknown> {
  const data: Record<string, unknown> = { ...acc.other };
  for (const [f, a] of Object.entries(acc.fields)) {
    data[`${f}_mean`] = a.sum / a.n;
    data[`${f}_min`] = a.min;
    data[`${f}_max`] = a.max;
    data[`${f}_last`] = a.last;
    data[`${f}_count`] = a.n;
  }
  return data;
}
