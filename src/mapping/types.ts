/**
 * Public types of the mapping engine: the rule spec (mirrors the YAML config, snake_case),
 * the engine options, the raw message going in and the result coming out.
 */
import type { FluxionRecord } from '../client/types.js';
import type { AggregateSpec, ReportSpec } from './report/spec.js';

export type PayloadFormat = 'json' | 'value' | 'kv' | 'csv' | 'regex' | 'nmea' | 'sparkplug_b';
/** Unit of a timestamp found in a payload; `iso` is an ISO 8601 string that must carry a zone. */
export type TimestampUnit = 's' | 'ms' | 'us' | 'ns' | 'iso';
/** Unit of the `ts` written to FluxionDB. */
export type OutputTsUnit = 's' | 'ms' | 'us';
/**
 * `none` keeps values as parsed (JSON types as they are; text formats turn tokens written
 * as JSON numbers into numbers and `true`/`false` into booleans, everything else stays a
 * string, so `007` stays `"007"`). `number` requires a number or a numeric string (turned
 * into a number) and rejects anything else with `bad_type`. `string` turns numbers and
 * booleans into strings and rejects objects, arrays and null.
 */
export type CoerceMode = 'none' | 'number' | 'string';

export interface TimestampSpec {
  /** Path of the timestamp in the parsed payload (dotted, e.g. `meta.ts`). Required. */
  field: string;
  /** Unit of that value: s | ms | us | ns (number or numeric string) | iso. Default `ms`. */
  unit?: TimestampUnit;
}

export interface KvFormatSpec {
  /** Characters that separate pairs; runs of them count as one. Default `" \t\r\n,"`. */
  pair_separators?: string;
  /** Text between key and value. Default `=`. Must share no character with `pair_separators`. */
  key_value_separator?: string;
}

export interface CsvFormatSpec {
  /** Column names, in order; a line must have exactly this many cells. Required. */
  header: readonly string[];
  /** One character between cells. Default `,`. Cells may be quoted with `"` (`""` escapes). */
  delimiter?: string;
}

export interface NmeaFormatSpec {
  /**
   * Sentence types that become readings: GGA, RMC. Others (GSV, GSA, ...) are skipped and
   * counted as `filtered`, never dead-lettered. Default `[GGA, RMC]`.
   */
  sentences?: ReadonlyArray<'GGA' | 'RMC'>;
  /**
   * Skip (count as `filtered`) sentences without a fix: GGA with quality 0, RMC with status V.
   * Default true.
   */
  require_fix?: boolean;
}

/**
 * Which lines of a serial port a rule takes as its own (`match:`). Every condition given must
 * hold. A rule whose match holds decides the line alone: its records, or its rejection as
 * the line's dead letter; later rules are not tried.
 */
export interface MatchSpec {
  /** The line starts with this text, e.g. `$GP` or `FW=`. */
  prefix?: string;
  /** A JavaScript regular expression found in the line (searched; anchor it with `^`). */
  regex?: string;
  /** An NMEA sentence of this type (any talker: `GGA` is $GPGGA and $GNGGA), or of one of these. */
  nmea_type?: string | readonly string[];
  /** A CSV line with exactly this many cells (split at the rule's `csv.delimiter`, default `,`; quotes respected). */
  cells?: number;
}

export interface SparkplugFormatSpec {
  /** Document of node messages (NBIRTH, NDATA, NDEATH). Default `{group}/{node}`. */
  node_document?: string;
}

/** One mapping rule, exactly as the config file states it. */
export interface MappingRuleSpec {
  /**
   * MQTT topic filter with named wildcards: `+` (anonymous level), `{name}` (named level),
   * `#` (tail), `{name#}` (named tail, captured joined with `/`, empty when the tail is
   * empty). A `$share/<group>/` prefix subscribes as a shared subscription and is removed
   * before matching. Exactly one of `topic` and `port` is required.
   */
  topic?: string;
  /** Serial port name, as configured for the serial input; matched exactly. */
  port?: string;
  /** QoS of the MQTT subscription. Default 1. Ignored for serial rules. */
  qos?: 0 | 1 | 2;
  /**
   * Collection template (required for `kind: records`, not allowed for `kind: metadata`).
   * Placeholders: `{name}` a named wildcard of the topic, `{port}` the serial port name
   * (serial rules), `{payload.path}` a scalar value of the parsed payload.
   */
  collection?: string;
  /**
   * Document template (same placeholders). For `kind: metadata` it names the device.
   * Required, except with `format: sparkplug_b`.
   */
  document?: string;
  /** Payload format. Default `json`. */
  format?: PayloadFormat;
  /** Separators of `format: kv`. Default: whitespace or commas between pairs, `=` inside. */
  kv?: KvFormatSpec;
  /** Settings of `format: csv`. Required with that format. */
  csv?: CsvFormatSpec;
  /**
   * Pattern of `format: regex`, a JavaScript regular expression searched (not anchored) in
   * the payload; its named groups are the fields. Required with that format.
   */
  regex?: string;
  /**
   * Settings of `format: nmea` (NMEA 0183: checksum verified; GGA and RMC parsed to `sentence`,
   * `talker`, `time` (UTC fix instant, ISO 8601), `lat`, `lon` (decimal degrees), GGA
   * `fix_quality`, `satellites`, `hdop`, `alt`, `geoid_sep`, RMC `status`, `speed_knots`,
   * `speed_kmh`, `course`, `mag_var`).
   */
  nmea?: NmeaFormatSpec;
  /**
   * Settings of `format: sparkplug_b` (Sparkplug B protobuf payloads on
   * `spBv1.0/{group}/{type}/{node}[/{device}]`; templates may use `{group}`, `{node}`,
   * `{device}`, `{message_type}`; `document` defaults to `{group}/{node}/{device}`).
   */
  sparkplug?: SparkplugFormatSpec;
  /** Where the reading's time is. Absent: the receive time of the message. */
  timestamp?: TimestampSpec;
  /**
   * Output name -> payload path (dotted; array indexes as `values.0`). A path ending in `?`
   * is optional (left out when absent); otherwise an absent field rejects the message with
   * `missing_field`. Absent: every top-level field of the payload is kept.
   */
  fields?: Record<string, string>;
  /** Coercion of every field, or per output field name (unlisted fields: `none`). Default `none`. */
  coerce?: CoerceMode | Record<string, CoerceMode>;
  /**
   * Tags (templates, same placeholders) merged at the top level of `data`, after the fields.
   * A tag whose name is also a field's is a config error when the field names are known
   * (`fields`, csv header, regex groups, `value`); otherwise the field wins and the clash is
   * counted (`tagClashes`).
   */
  tags?: Record<string, string>;
  /**
   * `true`: `data` is the whole payload: a JSON object as is (plus tags), anything else as
   * `{"raw": "<text>"}`; `fields` and `coerce` are not allowed. Default false.
   */
  passthrough?: boolean;
  /**
   * `records` (default): one record per message. `metadata`: key/value pairs for the
   * device named by `document`, one per selected field and tag, value stringified.
   */
  kind?: 'records' | 'metadata';
  /**
   * Serial rules: the lines this rule takes (see MatchSpec). Absent: the rule tries every
   * line of its port, and the first rule (in order) that maps a line wins it.
   */
  match?: MatchSpec;
  /** Report by exception (applied after mapping, before the queue; see src/mapping/report/). */
  report?: ReportSpec;
  /** Downsampling windows (applied after mapping, before the queue; see src/mapping/report/). */
  aggregate?: AggregateSpec;
}

export interface CollectionSettings {
  /** Unit of `ts` written to this collection. Default: the engine's `ts_unit_out`. */
  ts_unit_out?: OutputTsUnit;
}

export interface MappingOptions {
  /** Larger payloads are rejected with `too_large` before any parsing. Default 262144 (256 KiB). */
  max_payload_bytes?: number;
  /**
   * Earliest believable time, in ms since the epoch. Default 1577836800000
   * (2020-01-01T00:00:00Z). Gateways without a clock battery boot in 1970.
   */
  timestamp_floor?: number;
  /**
   * What to do with a payload timestamp before the floor: `receive_time` (use the receive
   * time instead) or `dead_letter` (reject with `bad_timestamp`). Counted either way.
   * Default `receive_time`.
   */
  on_bad_timestamp?: 'receive_time' | 'dead_letter';
  /**
   * Two readings of one (col, doc) with the same ts and different data: `bump` gives the
   * later one the next free ts (+1 in the output unit; a reading stamped with its receive
   * time moves rather than one with its own timestamp), `keep` lets the server overwrite.
   * Counted either way. The same data again is a duplicate, never bumped. Default `bump`.
   */
  on_collision?: 'bump' | 'keep';
  /** How many documents the collision guard remembers (oldest first out). Default 100000. */
  collision_memory?: number;
  /** Default unit of `ts` written to FluxionDB. Default `ms`. */
  ts_unit_out?: OutputTsUnit;
  /** Per-collection settings, keyed by the rendered collection name. */
  collections?: Record<string, CollectionSettings>;
}

export const MAPPING_DEFAULTS = {
  max_payload_bytes: 256 * 1024,
  timestamp_floor: Date.UTC(2020, 0, 1),
  on_bad_timestamp: 'receive_time',
  on_collision: 'bump',
  collision_memory: 100_000,
  ts_unit_out: 'ms',
} as const;

/** What an input hands to the engine. */
export interface RawMessage {
  source: 'mqtt' | 'serial' | 'modbus';
  /** MQTT topic the message was published to (without any `$share/` prefix). */
  topic?: string;
  /** Serial port name, as configured. */
  port?: string;
  payload: Uint8Array | string;
  /** Receive time, ms since the epoch. */
  receivedAt: number;
  /**
   * A stored message mapped again (a held Sparkplug message, `dead-letter retry`): stateful
   * formats take it out of sequence (Sparkplug: no `seq` check, no counters moved).
   */
  replayed?: boolean;
}

/** A device metadata pair produced by a `kind: metadata` rule. Every string non-empty. */
export interface MetadataPair {
  device: string;
  key: string;
  value: string;
}

export type RejectCode =
  | 'no_rule'
  | 'too_large'
  | 'parse_error'
  | 'missing_field'
  | 'bad_type'
  | 'bad_timestamp'
  | 'invalid_record'
  /** Sparkplug: an alias no birth defined, or data after a `seq` gap; held for the rebirth. */
  | 'unresolved';

export const REJECT_CODES: readonly RejectCode[] = [
  'no_rule',
  'too_large',
  'parse_error',
  'missing_field',
  'bad_type',
  'bad_timestamp',
  'invalid_record',
  'unresolved',
];

/** Why one matching rule could not map the message. */
export interface RuleRejection {
  /** Index of the rule in the list given to compileRules. */
  rule: number;
  /** Serial rules: the rule's index among its port's `rules` (what the config file shows). */
  portRule?: number;
  code: RejectCode;
  reason: string;
}

/**
 * At least one matching rule succeeded. `rejections` lists the matching rules that failed
 * (usually empty): the message was partly mapped, and the caller may dead-letter it with
 * those reasons while keeping the records.
 */
export interface MapSuccess {
  ok: true;
  records: FluxionRecord[];
  metadata: MetadataPair[];
  /** How many rules matched the topic; serial: how many of the port's rules were tried until one took the line. */
  matched: number;
  rejections: RuleRejection[];
}

/**
 * Nothing came out. `code`, `reason` and `rule` are those of the first failing rule (or
 * `no_rule` / `too_large`, without `rule`); `rejections` lists every failing rule.
 */
export interface MapFailure {
  ok: false;
  code: RejectCode;
  reason: string;
  rule?: number;
  rejections: RuleRejection[];
}

export type MapResult = MapSuccess | MapFailure;

/** Counters since the rule set was compiled (a snapshot). */
export interface MappingCounters {
  /** Messages given to map(). */
  messages: number;
  /** Records produced. */
  records: number;
  /** Metadata pairs produced. */
  metadata: number;
  /** Rejections by code; a message failing in two rules counts twice. */
  rejected: Record<RejectCode, number>;
  /** Readings whose (col, doc, ts) equalled a recent one of that document with other data (bumped or kept). */
  collisions: number;
  /**
   * Readings seen again with the same (col, doc, ts) and the same data (a QoS 1 redelivery,
   * a device republishing): written again at the ts the first one was given, never bumped.
   */
  duplicates: number;
  /** Payload timestamps before `timestamp_floor` (replaced or dead-lettered). */
  badTimestamps: number;
  /** Records stamped with a receive time before the floor: the gateway clock is not set. */
  clockUnsynced: number;
  /** Tags dropped because a payload field of the same name won. */
  tagClashes: number;
  /** Metadata pairs left out because their value was empty (FluxionDB refuses empty values). */
  metadataSkipped: number;
  /**
   * Messages that produced nothing by design and were dropped without a dead letter: NMEA
   * sentences not listed in `nmea.sentences`, or without a fix (`nmea.require_fix`).
   */
  filtered: number;
}

/** One problem found in the rules or options; `path` is e.g. `rules[2].topic`. */
export interface MappingProblem {
  path: string;
  message: string;
  /** Index of the rule, when the problem is in a rule. */
  rule?: number;
  /** Path inside the rule (e.g. `topic`, `csv.header`), or inside the options. */
  field?: string;
}
