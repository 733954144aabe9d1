/**
 * `fluxion-edge map --payload-file readings.jsonl`: runs a sequence of payloads (one per
 * line) through the rules and their `report:` / `aggregate:` settings, exactly as the agent
 * would, and shows for every reading whether it would be sent and why, then the windows it
 * would write. So an engineer sees what a deadband would drop before deploying it.
 */
import type { EdgeSettings } from '../config/index.js';
import type { MappingRuleSpec, RawMessage } from '../mapping/index.js';
import { compileRules } from '../mapping/index.js';
import { ReportStage } from '../mapping/report/index.js';

const TO_MS: Readonly<Record<string, number>> = { s: 1000, ms: 1, us: 0.001 };

export interface SequenceRequest {
  lines: string[];
  /** The message of the first line; later lines are `intervalMs` apart. */
  first: RawMessage;
  intervalMs: number;
}

/** True for a file name that holds one payload per line. */
export function isSequenceFile(path: string): boolean {
  return /\.(jsonl|ndjson)$/i.test(path);
}

export function mapSequence(req: SequenceRequest, rules: MappingRuleSpec[], settings: EdgeSettings): unknown {
  const ruleSet = compileRules(rules, settings.mapping);
  const stage = ReportStage.build(rules, settings.mapping);
  const iso = (col: string, ts: number): string => {
    const unit = settings.mapping.collections?.[col]?.ts_unit_out ?? settings.mapping.ts_unit_out ?? 'ms';
    return new Date(Math.floor(ts * TO_MS[unit]!)).toISOString();
  };
  const readings: unknown[] = [];
  let sent = 0;
  let notSent = 0;
  req.lines.forEach((payload, i) => {
    const msg: RawMessage = { ...req.first, payload, receivedAt: req.first.receivedAt + i * req.intervalMs };
    const r = ruleSet.map(msg);
    if (!r.ok) {
      readings.push({ line: i + 1, rejected: r.code, reason: r.reason });
      return;
    }
    const ruleOf = ruleSet.recordRules();
    r.records.forEach((rec, k) => {
      const d = stage === null ? { decision: 'pass' as const, record: rec } : stage.decide(rec, ruleOf[k]!);
      // A record goes to the queue: the reading itself, or (a late reading) its corrected window.
      const goes = d.record !== null;
      if (goes) sent++;
      else notSent++;
      readings.push({
        line: i + 1, col: rec.col, doc: rec.doc, ts: rec.ts, ts_iso: iso(rec.col, rec.ts), data: rec.data,
        decision: d.decision, sent: goes,
        ...(d.decision === 'corrected' && d.record !== null ? { window_record: d.record } : {}),
      });
    });
  });
  // Every window still open is closed as the agent would once its time came.
  const windows = stage === null ? [] : stage.close(Number.MAX_SAFE_INTEGER).records.map((w) => ({ ...w, ts_iso: iso(w.col, w.ts) }));
  return {
    readings,
    ...(windows.length > 0 ? { windows } : {}),
    summary: { readings: sent + notSent, sent, not_sent: notSent, windows: windows.length, ...(stage !== null ? { rules: stage.counters() } : {}) },
  };
}
