/**
 * The one check of a rule's shape: an MQTT rule as the config states it (the same shape as
 * `MappingRuleSpec`), and the `match:` of a serial rule. The schema types and documents
 * each key; the mapping engine (rule-compile.ts) takes what it validated and checks only
 * meaning (topic syntax, templates, regular expressions, settings that go together).
 */
import { z } from 'zod';
import type { MappingRuleSpec } from './types.js';
import { aggregateSchema, reportSchema } from './report/schema.js';

const COERCE = ['none', 'number', 'string'] as const;
const TEMPLATE_HELP = 'Placeholders: `{name}` a named wildcard of the topic, `{payload.path}` a scalar of the parsed payload.';

const TEXT_FORMATS = ['json', 'value', 'kv', 'csv', 'regex', 'nmea'] as const;
const TEXT_FORMAT_HELP = 'Payload format: `json`, `value` (a bare number or text, field `value`), `kv` (`t=21.5 h=40`), `csv` (needs `csv.header`), `regex` (needs `regex`), `nmea` (NMEA 0183 GGA/RMC, checksum verified; fields sentence, talker, time (UTC fix, ISO), lat, lon (decimal degrees), alt, fix_quality, satellites, hdop, geoid_sep, status, speed_knots, speed_kmh, course, mag_var).';

/** The formats of a serial rule (every one but sparkplug_b, which is MQTT only). */
export const textFormatSchema = z.enum(TEXT_FORMATS).default('json').meta({ description: TEXT_FORMAT_HELP });

export const ruleSchema = z.strictObject({
  topic: z.string().min(1).meta({
    description:
      'MQTT topic filter with named wildcards: `+` one level, `{name}` one level captured as `name`, `#` the rest, `{name#}` the rest captured. A `$share/<group>/` prefix makes a shared subscription. Required.',
  }),
  qos: z.literal([0, 1, 2]).default(1).meta({
    description: 'QoS of the subscription: 0, 1 or 2. QoS 0 messages are lost when the agent is down or busy; keep 1.',
  }),
  kind: z.enum(['records', 'metadata']).default('records').meta({
    description: '`records`: one reading per message. `metadata`: key/value pairs for the device named by `document`, one per field and tag.',
  }),
  collection: z.string().min(1).optional().meta({
    description: `Collection template (required for kind: records, not allowed for kind: metadata). ${TEMPLATE_HELP}`,
  }),
  document: z.string().min(1).optional().meta({ description: `Document template (for kind: metadata, the device). Required, except with format: sparkplug_b (default \`{group}/{node}/{device}\`). ${TEMPLATE_HELP}` }),
  format: z.enum([...TEXT_FORMATS, 'sparkplug_b']).default('json').meta({
    description: `${TEXT_FORMAT_HELP.slice(0, -1)}, \`sparkplug_b\` (MQTT only: Sparkplug B protobuf on \`spBv1.0/...\`, one record per timestamp of metric name -> value, births and deaths as metadata; see docs/sparkplug.md).`,
  }),
  kv: z
    .strictObject({
      pair_separators: z.string().min(1).optional().meta({ description: 'Characters between pairs (runs count as one). Default: space, tab, CR, LF and comma.' }),
      key_value_separator: z.string().min(1).optional().meta({ description: 'Text between a key and its value. Default `=`.' }),
    })
    .optional()
    .meta({ description: 'Separators of format: kv.' }),
  csv: z
    .strictObject({
      header: z.array(z.string().min(1)).min(1).meta({ description: 'Column names, in order; a line must have exactly this many cells. Required.' }),
      delimiter: z.string().length(1).optional().meta({ description: 'One character between cells. Default `,`.' }),
    })
    .optional()
    .meta({ description: 'Settings of format: csv.' }),
  regex: z.string().min(1).optional().meta({
    description: 'Pattern of format: regex (JavaScript syntax, searched, not anchored); its named groups are the fields.',
  }),
  nmea: z
    .strictObject({
      sentences: z.array(z.enum(['GGA', 'RMC'])).min(1).optional().meta({
        description: 'Sentence types that become readings. Others (GSV, GSA, ...) are dropped and counted as `filtered`, not dead-lettered. Default [GGA, RMC].',
      }),
      require_fix: z.boolean().optional().meta({
        description: 'Drop (count as `filtered`) sentences without a fix: GGA quality 0, RMC status V. Default true.',
      }),
    })
    .optional()
    .meta({ description: 'Settings of format: nmea. Map the fix time with `timestamp: { field: time, unit: iso }`.' }),
  sparkplug: z
    .strictObject({
      node_document: z.string().min(1).optional().meta({ description: 'Document of node messages (NBIRTH, NDATA, NDEATH). Default `{group}/{node}`.' }),
    })
    .optional()
    .meta({ description: 'Settings of format: sparkplug_b. Templates may use `{group}`, `{node}`, `{device}`, `{message_type}`.' }),
  timestamp: z
    .strictObject({
      field: z.string().min(1).meta({ description: 'Path of the timestamp in the payload (dotted, e.g. `meta.ts`). Required.' }),
      unit: z.enum(['s', 'ms', 'us', 'ns', 'iso']).optional().meta({ description: 'Unit of that value: s, ms, us, ns, or iso (ISO 8601 with a zone). Default ms.' }),
    })
    .optional()
    .meta({ description: 'Where the reading\'s time is in the payload. Absent: the time the message was received.' }),
  fields: z.record(z.string().min(1), z.string().min(1)).optional().meta({
    description: 'Output name -> payload path (dotted; `values.0` for arrays; a trailing `?` makes it optional). Absent: every top-level field is kept.',
  }),
  coerce: z
    .union([z.enum(COERCE), z.record(z.string().min(1), z.enum(COERCE))], {
      error: 'must be one of none, number, string, or a map of output field name to one of them',
    })
    .optional().meta({
    description: 'Type coercion of every field (`none`, `number`, `string`), or per output field name. Default none.',
  }),
  tags: z.record(z.string().min(1), z.string()).optional().meta({
    description: `Constant or templated values added to every reading (e.g. \`site: "{site}"\`). ${TEMPLATE_HELP}`,
  }),
  passthrough: z.boolean().optional().meta({
    description: 'Store the whole payload: a JSON object as is, anything else as `{"raw": "<text>"}`. Not with fields or coerce. Default false.',
  }),
  report: reportSchema.optional(),
  aggregate: aggregateSchema.optional(),
});

/** `match:` of a serial rule (the serial rule schema is the config's: config/schema/serial.ts). */
export const matchSchema = z
  .strictObject({
    prefix: z.string().min(1).optional().meta({ description: 'The line starts with this text, e.g. `$GP` or `FW=`.' }),
    regex: z.string().min(1).optional().meta({ description: 'A JavaScript regular expression found in the line (searched: anchor it with `^`), e.g. `^V=`.' }),
    nmea_type: z
      .union([z.string().regex(/^[A-Z0-9]{2,6}$/), z.array(z.string().regex(/^[A-Z0-9]{2,6}$/)).min(1)], {
        error: 'must be a sentence type or a list of them, e.g. GGA or [GGA, RMC] (upper case)',
      })
      .optional()
      .meta({ description: 'An NMEA sentence of this type, any talker (`GGA` selects $GPGGA and $GNGGA), or of one of a list.' }),
    cells: z.int().min(1).optional().meta({ description: 'A CSV line with exactly this many cells (split at `csv.delimiter`, default `,`; quotes respected).' }),
  })
  .refine((m) => Object.keys(m).length > 0, { error: 'give at least one of prefix, regex, nmea_type, cells' })
  .optional()
  .meta({
    description:
      'Which lines of the port this rule takes; every condition given must hold. The port\'s rules are tried in order and the first that takes a line decides it: a rule with `match` takes every line it selects (and its rejection is the line\'s dead letter); a rule without `match` takes a line only by mapping it. A line no rule took is a dead letter with every rule\'s reason. Absent: the rule tries every line.',
  });

/** Compile-time proof that a validated rule is a MappingRuleSpec (the engine's own type). */
export type RuleSpecConforms = Conforms<z.output<typeof ruleSchema>, MappingRuleSpec>;
type Conforms<A extends B, B> = A;
