/**
 * Payload parsers, one per distinct format configuration. Rules with the same format
 * settings share one parser instance (same `key`), and the rule set parses a message at
 * most once per parser, so three JSON rules on one topic cost one JSON.parse.
 *
 * Text formats (value, kv, csv, regex) produce objects whose values are scalars: a token
 * written as a JSON number becomes a number (`007` is not one and stays a string),
 * `true`/`false` become booleans, anything else stays a string; empty csv cells and
 * unmatched regex groups are left out.
 */
import { NmeaError, NmeaSkip, parseNmea, type NmeaSentence } from './nmea.js';
import type { CsvFormatSpec, KvFormatSpec, MappingRuleSpec, NmeaFormatSpec, PayloadFormat } from './types.js';

export class ParseFailure {
  constructor(readonly reason: string) {}
}

/**
 * A payload that is valid but not wanted (an NMEA sentence type not listed in the rule):
 * the rule produces nothing and the message is counted as `filtered`, not dead-lettered.
 */
export class ParseSkip {
  constructor(readonly reason: string) {}
}

export interface PayloadParser {
  /** Identical configurations get identical keys and share one parser. */
  readonly key: string;
  readonly format: PayloadFormat;
  /** Field names every parse produces at most (value, csv, regex), null when open-ended. */
  readonly knownFields: readonly string[] | null;
  /** `receivedAt` (ms since the epoch) dates payloads that carry only a time of day (NMEA GGA). */
  parse(text: string, receivedAt: number): unknown;
}

const NUMBER_RE = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?$/;
// Control characters other than tab, CR, LF: what binary garbage decodes to.
const BINARY_RE = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/;

export const DEFAULT_KV_PAIR_SEPARATORS = ' \t\r\n,';
export const DEFAULT_KV_KEY_VALUE_SEPARATOR = '=';

/** A text token as a scalar: JSON-number text -> number, true/false -> boolean, else the string. */
export function textScalar(token: string): string | number | boolean {
  if (token === 'true') return true;
  if (token === 'false') return false;
  if (NUMBER_RE.test(token)) {
    const n = Number(token);
    if (Number.isFinite(n)) return n;
  }
  return token;
}

function binaryFailure(text: string): ParseFailure | null {
  return BINARY_RE.test(text) ? new ParseFailure('payload holds control characters (binary data?)') : null;
}

class JsonParser implements PayloadParser {
  readonly key = 'json';
  readonly format = 'json' as const;
  readonly knownFields = null;
  parse(text: string): unknown {
    try {
      return JSON.parse(text);
    } catch (err) {
      return new ParseFailure(`invalid JSON: ${(err as Error).message}`);
    }
  }
}

class ValueParser implements PayloadParser {
  readonly key = 'value';
  readonly format = 'value' as const;
  readonly knownFields = ['value'];
  parse(text: string): unknown {
    const t = text.trim();
    if (t.length === 0) return new ParseFailure('empty payload');
    const bad = binaryFailure(t);
    if (bad !== null) return bad;
    let value: unknown = textScalar(t);
    if (typeof value === 'string' && t.length >= 2 && t.startsWith('"') && t.endsWith('"')) {
      try {
        value = JSON.parse(t);
      } catch {
        // not a JSON string after all: keep the text with its quotes
      }
    }
    const out: Record<string, unknown> = Object.create(null);
    out.value = value;
    return out;
  }
}

class KvParser implements PayloadParser {
  readonly key: string;
  readonly format = 'kv' as const;
  readonly knownFields = null;
  constructor(
    private readonly pairSeparators: string,
    private readonly kvSeparator: string,
  ) {
    this.key = `kv\u0000${pairSeparators}\u0000${kvSeparator}`;
  }

  parse(text: string): unknown {
    const bad = binaryFailure(text);
    if (bad !== null) return bad;
    const out: Record<string, unknown> = Object.create(null);
    const seps = this.pairSeparators;
    let count = 0;
    let start = 0;
    const n = text.length;
    for (let i = 0; i <= n; i++) {
      if (i < n && seps.indexOf(text[i]!) < 0) continue;
      if (i > start) {
        const token = text.slice(start, i);
        const at = token.indexOf(this.kvSeparator);
        if (at < 0) return new ParseFailure(`kv pair '${token}' has no '${this.kvSeparator}'`);
        const k = token.slice(0, at).trim();
        if (k.length === 0) return new ParseFailure(`kv pair '${token}' has an empty key`);
        out[k] = textScalar(token.slice(at + this.kvSeparator.length).trim());
        count++;
      }
      start = i + 1;
    }
    if (count === 0) return new ParseFailure('empty payload: no key/value pair');
    return out;
  }
}

class CsvParser implements PayloadParser {
  readonly key: string;
  readonly format = 'csv' as const;
  readonly knownFields: readonly string[];
  constructor(
    private readonly header: readonly string[],
    private readonly delimiter: string,
  ) {
    this.key = `csv\u0000${delimiter}\u0000${header.join('\u0000')}`;
    this.knownFields = header;
  }

  parse(text: string): unknown {
    const bad = binaryFailure(text);
    if (bad !== null) return bad;
    let end = text.length;
    while (end > 0 && (text.charCodeAt(end - 1) === 10 || text.charCodeAt(end - 1) === 13)) end--;
    const cells = splitCsvLine(text, end, this.delimiter);
    if (typeof cells === 'string') return new ParseFailure(cells);
    if (cells.length !== this.header.length) {
      return new ParseFailure(`csv line has ${cells.length} cells, the header has ${this.header.length}`);
    }
    const out: Record<string, unknown> = Object.create(null);
    for (let i = 0; i < cells.length; i++) {
      const c = cells[i]!;
      if (c.quoted) out[this.header[i]!] = c.text;
      else if (c.text.length > 0) out[this.header[i]!] = textScalar(c.text);
    }
    return out;
  }
}

interface CsvCell {
  text: string;
  quoted: boolean;
}

function splitCsvLine(text: string, end: number, delim: string): CsvCell[] | string {
  const cells: CsvCell[] = [];
  let i = 0;
  for (;;) {
    if (text[i] === '"') {
      let value = '';
      let j = i + 1;
      for (;;) {
        if (j >= end) return 'csv line has an unterminated quoted cell';
        const q = text.indexOf('"', j);
        if (q < 0 || q >= end) return 'csv line has an unterminated quoted cell';
        value += text.slice(j, q);
        if (text[q + 1] === '"') {
          value += '"';
          j = q + 2;
        } else {
          j = q + 1;
          break;
        }
      }
      cells.push({ text: value, quoted: true });
      if (j >= end) return cells;
      if (text[j] !== delim) return 'csv line has text after a quoted cell';
      i = j + 1;
    } else {
      let d = text.indexOf(delim, i);
      if (d < 0 || d > end) d = end;
      const raw = text.slice(i, d);
      if (raw.includes('\n')) return 'csv payload holds more than one line';
      cells.push({ text: raw.trim(), quoted: false });
      if (d >= end) return cells;
      i = d + 1;
    }
  }
}

class RegexParser implements PayloadParser {
  readonly key: string;
  readonly format = 'regex' as const;
  readonly knownFields: readonly string[];
  constructor(
    private readonly re: RegExp,
    groups: string[],
  ) {
    this.key = `regex\u0000${re.source}`;
    this.knownFields = groups;
  }

  parse(text: string): unknown {
    const bad = binaryFailure(text);
    if (bad !== null) return bad;
    const m = this.re.exec(text);
    if (m === null) return new ParseFailure('payload does not match the regex');
    const out: Record<string, unknown> = Object.create(null);
    const groups = m.groups!;
    for (const name of this.knownFields) {
      const v = groups[name];
      if (v !== undefined) out[name] = textScalar(v);
    }
    return out;
  }
}

class NmeaParser implements PayloadParser {
  readonly key: string;
  readonly format = 'nmea' as const;
  readonly knownFields = null;
  private readonly options: { sentences: readonly NmeaSentence[]; requireFix: boolean };
  constructor(sentences: readonly NmeaSentence[], requireFix: boolean) {
    this.options = { sentences, requireFix };
    this.key = `nmea\u0000${sentences.join(',')}\u0000${requireFix}`;
  }

  parse(text: string, receivedAt: number): unknown {
    const r = parseNmea(text, receivedAt, this.options);
    if (r instanceof NmeaError) return new ParseFailure(r.reason);
    if (r instanceof NmeaSkip) return new ParseSkip(r.reason);
    return r;
  }
}

/**
 * `format: sparkplug_b` takes binary protobuf payloads and keeps per-node state, so the
 * rule set hands those to the Sparkplug decoder (sparkplug/decoder.ts); this parser only
 * gives such rules a format and a key, and is never asked to parse text.
 */
class SparkplugMarker implements PayloadParser {
  readonly key = 'sparkplug_b';
  readonly format = 'sparkplug_b' as const;
  readonly knownFields = null;
  parse(): unknown {
    return new ParseFailure('sparkplug_b payloads are decoded by the Sparkplug decoder');
  }
}

export interface FormatSettings {
  format: PayloadFormat;
  nmea?: NmeaFormatSpec | undefined;
  kv?: KvFormatSpec | undefined;
  csv?: CsvFormatSpec | undefined;
  regex?: string | undefined;
}

/** Builds a parser (settings assumed checked by checkFormat), sharing instances by key. */
export function buildParser(s: FormatSettings, cache: Map<string, PayloadParser>): PayloadParser {
  let parser: PayloadParser;
  switch (s.format) {
    case 'json':
      parser = new JsonParser();
      break;
    case 'value':
      parser = new ValueParser();
      break;
    case 'kv':
      parser = new KvParser(s.kv?.pair_separators ?? DEFAULT_KV_PAIR_SEPARATORS, s.kv?.key_value_separator ?? DEFAULT_KV_KEY_VALUE_SEPARATOR);
      break;
    case 'csv':
      parser = new CsvParser(s.csv!.header, s.csv!.delimiter ?? ',');
      break;
    case 'regex': {
      const re = new RegExp(s.regex!);
      parser = new RegexParser(re, regexGroupNames(re));
      break;
    }
    case 'nmea':
      parser = new NmeaParser(s.nmea?.sentences ?? ['GGA', 'RMC'], s.nmea?.require_fix ?? true);
      break;
    case 'sparkplug_b':
      parser = new SparkplugMarker();
      break;
  }
  const existing = cache.get(parser.key);
  if (existing !== undefined) return existing;
  cache.set(parser.key, parser);
  return parser;
}

function regexGroupNames(re: RegExp): string[] {
  // An empty alternative makes any regex match '', and the groups object lists every name.
  const probe = new RegExp(`${re.source}|`).exec('');
  return probe?.groups === undefined ? [] : Object.keys(probe.groups);
}

/**
 * Checks that the format settings of one rule go together (their shape is the rule
 * schema's); returns [field, message] pairs.
 */
export function checkFormat(s: Pick<MappingRuleSpec, 'format' | 'kv' | 'csv' | 'regex' | 'nmea' | 'sparkplug'>): Array<[string, string]> {
  const problems: Array<[string, string]> = [];
  const format = s.format ?? 'json';
  if (s.nmea !== undefined && format !== 'nmea') problems.push(['nmea', `only used with format: nmea`]);
  if (s.kv !== undefined && format !== 'kv') problems.push(['kv', `only used with format: kv`]);
  if (s.csv !== undefined && format !== 'csv') problems.push(['csv', `only used with format: csv`]);
  if (s.regex !== undefined && format !== 'regex') problems.push(['regex', `only used with format: regex`]);
  if (s.sparkplug !== undefined && format !== 'sparkplug_b') problems.push(['sparkplug', `only used with format: sparkplug_b`]);
  if (format === 'kv' && s.kv !== undefined) checkKv(s.kv, problems);
  if (format === 'csv') checkCsv(s.csv, problems);
  if (format === 'regex') {
    if (s.regex === undefined) {
      problems.push(['regex', 'format: regex needs a regex with named groups, e.g. "(?<temp>[-\\d.]+)C"']);
    } else {
      try {
        const names = regexGroupNames(new RegExp(s.regex));
        if (names.length === 0) problems.push(['regex', `'${s.regex}' has no named group (?<name>...)`]);
      } catch (err) {
        problems.push(['regex', `invalid regex: ${(err as Error).message}`]);
      }
    }
  }
  return problems;
}

function checkKv(kv: KvFormatSpec, problems: Array<[string, string]>): void {
  const pairs = kv.pair_separators ?? DEFAULT_KV_PAIR_SEPARATORS;
  const kvs = kv.key_value_separator ?? DEFAULT_KV_KEY_VALUE_SEPARATOR;
  if ([...kvs].some((c) => pairs.includes(c))) {
    problems.push(['kv.key_value_separator', `'${kvs}' shares a character with pair_separators`]);
  }
}

function checkCsv(csv: CsvFormatSpec | undefined, problems: Array<[string, string]>): void {
  if (csv === undefined) {
    problems.push(['csv', 'format: csv needs csv: { header: [names...] }']);
    return;
  }
  const seen = new Set<string>();
  csv.header.forEach((h, i) => {
    if (seen.has(h)) problems.push([`csv.header[${i}]`, `column '${h}' appears twice`]);
    else seen.add(h);
  });
  const d = csv.delimiter;
  if (d === '"' || d === '\n') problems.push(['csv.delimiter', 'must be one character (not a quote or newline)']);
}
