/**
 * `report:` (report by exception) and `aggregate:` (downsampling windows) of a rule. Any rule
 * can carry them: MQTT subscriptions, serial rules and every input whose rules derive from
 * the rule schema. The report stage (src/mapping/report/) applies them after mapping.
 */
import { z } from 'zod';
import { AGGREGATE_FUNCTIONS, parseDeadband, type AggregateSpec, type ReportSpec } from './spec.js';
import { duration } from '../../shared/units.js';

const deadband = z.union([z.number(), z.string()]).refine((v) => parseDeadband(v) !== null, {
  error: 'must be a number >= 0 (absolute) or a percent of the last sent value such as "1%"',
});

export const reportSchema = z
  .strictObject({
    on_change: z.boolean().default(true).meta({
      description: 'Send a reading only when a compared field changed (numbers beyond their deadband; booleans and strings on any change; a field appearing or disappearing is a change). `false`: send by time only (see min_interval).',
    }),
    deadband: z.record(z.string().min(1), deadband).optional().meta({
      description: 'Per field, how far a number must move from the last sent value to count as changed: absolute (`0.2`) or percent of the last sent value (`"1%"`). A move of exactly the band is not a change. Fields without one: any change.',
    }),
    min_interval: duration().prefault('0ms').meta({
      description: 'Never more than one reading per document within this time (changes inside it are held back; the next reading after it that still differs from the last sent is sent).',
    }),
    max_interval: duration({ min: 1 }).prefault('5m').meta({
      description: 'Heartbeat: a reading this long after the last one sent is sent, changed or not (proves the device is alive). A reading after a silence longer than this is always sent.',
    }),
    fields: z.array(z.string().min(1)).min(1).optional().meta({
      description: 'Fields compared (output names). Default: every field of the record (tags included), so list them when a payload carries a counter or a time.',
    }),
  })
  .meta({
    description: 'Report by exception: the first reading of a document after a start, after a silence longer than max_interval, or after its device came back online is always sent; then only changes and heartbeats. Suppressed readings are counted per rule (status, /metrics). Not with aggregate.',
  });

export const aggregateSchema = z
  .strictObject({
    window: duration({ min: 1000 }).meta({ description: 'Window length, aligned to the wall clock (a 1m window runs from :00 to :00). Required.' }),
    functions: z.array(z.enum(AGGREGATE_FUNCTIONS)).min(1).default(['mean', 'min', 'max', 'last', 'count']).meta({
      description: 'Functions written per field as `<field>_<function>`: mean, min, max, first, last, sum, count.',
    }),
    fields: z.array(z.string().min(1)).min(1).meta({
      description: 'Numeric fields to aggregate (output names). Other fields of the window\'s last reading (tags) are kept as they are. Required.',
    }),
    grace: duration().prefault('2s').meta({
      description: 'How long after its end a window waits for stragglers before its record is written. A reading arriving later corrects the document\'s last closed window (written again at the same ts); an older one is dropped and counted.',
    }),
  })
  .meta({
    description: 'Downsampling: one record per document per window, `ts` = the window start, data `<field>_<function>`. Open windows are saved in the queue file with the readings that fed them, so a restart resumes them. Not with report.',
  });

/** Compile-time proof that the validated sections are the report stage's own types. */
export type ReportSpecConforms = Conforms<z.output<typeof reportSchema>, ReportSpec>;
export type AggregateSpecConforms = Conforms<z.output<typeof aggregateSchema>, AggregateSpec>;
type Conforms<A extends B, B> = A;
