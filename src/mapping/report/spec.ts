/**
 * What a rule's `report:` and `aggregate:` settings say, as the config schema hands them over
 * (durations already in ms), and their compiled form. Both sit between mapping and the queue:
 * report by exception drops readings that tell nothing new, an aggregate turns the readings
 * of a window into one record.
 */

/** `report:` of a rule (mirrors the YAML). */
export interface ReportSpec {
  /** Send a reading only when a tracked field changed (beyond its deadband). Default true. */
  on_change?: boolean;
  /**
   * Per field: an absolute change (`0.2`) or a percent of the last sent value (`"1%"`) that a
   * number must exceed to count as changed. Fields without one change on any difference.
   */
  deadband?: Record<string, number | string>;
  /** Never more than one reading per document in this many ms. Default 0. */
  min_interval?: number;
  /** A reading this many ms after the last one sent is sent, changed or not (heartbeat). Default 300000. */
  max_interval?: number;
  /** The fields compared. Default: every field of the record's data. */
  fields?: string[];
}

export const AGGREGATE_FUNCTIONS = ['mean', 'min', 'max', 'first', 'last', 'sum', 'count'] as const;
export type AggregateFunction = (typeof AGGREGATE_FUNCTIONS)[number];

/** `aggregate:` of a rule (mirrors the YAML). */
export interface AggregateSpec {
  /** Window length in ms; windows are aligned to the wall clock (epoch multiples). Required. */
  window: number;
  /** Functions written per field as `<field>_<function>`. Default [mean, min, max, last, count]. */
  functions?: AggregateFunction[];
  /** Numeric fields to aggregate. Required. */
  fields: string[];
  /** How long after its end a window stays open for stragglers, in ms. Default 2000. */
  grace?: number;
}

export const REPORT_DEFAULTS = { on_change: true, min_interval: 0, max_interval: 300_000 } as const;
export const AGGREGATE_DEFAULTS = { functions: ['mean', 'min', 'max', 'last', 'count'] as AggregateFunction[], grace: 2000 } as const;

export type Deadband = { pct: false; value: number } | { pct: true; value: number };

export interface CompiledReport {
  onChange: boolean;
  deadbands: ReadonlyMap<string, Deadband>;
  minIntervalMs: number;
  maxIntervalMs: number;
  fields: readonly string[] | null;
}

export interface CompiledAggregate {
  windowMs: number;
  functions: readonly AggregateFunction[];
  fields: readonly string[];
  graceMs: number;
}

const PERCENT = /^\s*(\d+(?:\.\d+)?)\s*%\s*$/;

/** A deadband as written: a number >= 0, or a percent text such as `1%` or `0.5 %`. Null: invalid. */
export function parseDeadband(v: unknown): Deadband | null {
  if (typeof v === 'number') return Number.isFinite(v) && v >= 0 ? { pct: false, value: v } : null;
  if (typeof v !== 'string') return null;
  const m = PERCENT.exec(v);
  return m ? { pct: true, value: Number(m[1]) } : null;
}

export function compileReport(spec: ReportSpec): CompiledReport {
  const deadbands = new Map<string, Deadband>();
  for (const [name, v] of Object.entries(spec.deadband ?? {})) {
    const d = parseDeadband(v);
    if (d === null) throw new Error(`report.deadband.${name}: must be a number >= 0 or a percent such as 1%`);
    deadbands.set(name, d);
  }
  return {
    onChange: spec.on_change ?? REPORT_DEFAULTS.on_change,
    deadbands,
    minIntervalMs: spec.min_interval ?? REPORT_DEFAULTS.min_interval,
    maxIntervalMs: spec.max_interval ?? REPORT_DEFAULTS.max_interval,
    fields: spec.fields ?? null,
  };
}

export function compileAggregate(spec: AggregateSpec): CompiledAggregate {
  return {
    windowMs: spec.window,
    functions: spec.functions ?? AGGREGATE_DEFAULTS.functions,
    fields: spec.fields,
    graceMs: spec.grace ?? AGGREGATE_DEFAULTS.grace,
  };
}
