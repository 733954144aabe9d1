/**
 * The compiled rule set: matches a raw message against every rule of its source, maps it
 * with each rule that matches (rule-mapper.ts) and combines their outcomes. Per message: one
 * topic split, at most one UTF-8 decode, at most one parse per distinct format (shared by the
 * rules), one JSON.stringify per record.
 * Not re-entrant: map() uses per-instance scratch space and must not be called from within
 * itself (it never calls out, so this only matters to future changes).
 */
import { Buffer } from 'node:buffer';
import type { FluxionRecord } from '../client/types.js';
import { CollisionGuard } from './collisions.js';
import { ParseFailure } from './payload-formats.js';
import { Rejection } from './rejection.js';
import type { CompiledRule } from './rule-compile.js';
import { RuleMapper, SKIPPED } from './rule-mapper.js';
import { mergeSubscriptions } from './subscriptions.js';
import type { SparkplugDecoder } from './sparkplug/decoder.js';
import { SparkplugOutput } from './sparkplug/rule-output.js';
import { CERTIFICATES_PREFIX, isStateTopic } from './sparkplug/topic.js';
import {
  MAPPING_DEFAULTS,
  REJECT_CODES,
  type MapResult,
  type MappingCounters,
  type MappingOptions,
  type MetadataPair,
  type RawMessage,
  type RejectCode,
  type RuleRejection,
} from './types.js';

export interface RuleSet {
  /**
   * Subscriptions the MQTT input must make: filters with named wildcards turned into `+`
   * and `#` (`$share/` prefixes kept), in rule order, without duplicates and without
   * filters another one already covers (`sensors/+/x` under `sensors/#`), so the broker
   * delivers each message once; every rule still sees every message its own filter matches.
   * A kept filter gets the highest qos of the filters it stands for. Shared and plain
   * filters are never merged with each other.
   */
  mqttFilters(): Array<{ filter: string; qos: 0 | 1 | 2 }>;
  /** Serial port names some rule listens to, deduplicated in rule order. */
  serialPorts(): string[];
  /**
   * Gives the collision guard the newest stored records, oldest first (the queue's newest
   * rows at start and after a reload), so that a redelivery of one of them is recognised
   * as the same reading rather than bumped as a second one.
   */
  remember(rows: readonly FluxionRecord[]): void;
  /** Maps one message. Never throws for any payload. */
  map(msg: RawMessage): MapResult;
  /**
   * The index of the rule that produced each record of the last successful map() (same
   * order as its `records`); read it before the next call. The report stage needs it.
   */
  recordRules(): readonly number[];
  /** A snapshot of the counters. */
  readonly counters: MappingCounters;
  /** Number of rules compiled. */
  readonly ruleCount: number;
}

export class CompiledRuleSet implements RuleSet {
  readonly ruleCount: number;
  private readonly mqttRules: CompiledRule[];
  private readonly serialRules: CompiledRule[];
  private readonly guard: CollisionGuard;
  /** Maps the message with one rule; holds the scratch space its rules share. */
  private readonly mapper: RuleMapper;
  private readonly maxBytes: number;
  private readonly c = {
    messages: 0, records: 0, metadata: 0, badTimestamps: 0, clockUnsynced: 0, tagClashes: 0, metadataSkipped: 0, filtered: 0,
  };
  private readonly rejected: Record<RejectCode, number>;
  /** recordRules() of the last map(): reused, so the hot path allocates nothing for it. */
  private readonly ruleScratch: number[] = [];

  constructor(
    rules: CompiledRule[],
    options: MappingOptions,
    /** Decodes `format: sparkplug_b` messages against the node state (kept across reloads by the caller). */
    sparkplug: SparkplugDecoder | null = null,
    /** Also subscribe to the retained births of Sparkplug-aware brokers (`$sparkplug/certificates/`). */
    private readonly certificates = false,
  ) {
    this.ruleCount = rules.length;
    this.mqttRules = rules.filter((r) => r.pattern !== null);
    this.serialRules = rules.filter((r) => r.port !== null);
    const perPort = new Map<string, number>();
    for (const r of this.serialRules) {
      r.portIndex = perPort.get(r.port!) ?? 0;
      perPort.set(r.port!, r.portIndex + 1);
    }
    this.maxBytes = options.max_payload_bytes ?? MAPPING_DEFAULTS.max_payload_bytes;
    this.guard = new CollisionGuard(
      options.collision_memory ?? MAPPING_DEFAULTS.collision_memory,
      (options.on_collision ?? MAPPING_DEFAULTS.on_collision) === 'bump',
    );
    this.mapper = new RuleMapper(rules, options, this.guard, this.c, sparkplug);
    this.rejected = Object.fromEntries(REJECT_CODES.map((code) => [code, 0])) as Record<RejectCode, number>;
  }

  mqttFilters(): Array<{ filter: string; qos: 0 | 1 | 2 }> {
    const out = mergeSubscriptions(this.mqttRules.map((r) => ({ filter: r.pattern!.filter, qos: r.qos })));
    if (this.certificates) {
      // Retained births a Sparkplug-aware broker keeps: read at start to learn the alias tables.
      const births = new Set(this.mqttRules.filter((r) => r.sparkplug !== null && !r.pattern!.filter.startsWith('$share/')).map((r) => r.pattern!.filter));
      for (const f of births) if (out.some((o) => o.filter === f)) out.push({ filter: CERTIFICATES_PREFIX + f, qos: 1 });
    }
    return out;
  }

  recordRules(): readonly number[] {
    return this.ruleScratch;
  }

  serialPorts(): string[] {
    return [...new Set(this.serialRules.map((r) => r.port!))];
  }

  get counters(): MappingCounters {
    return { ...this.c, rejected: { ...this.rejected }, collisions: this.guard.collisions, duplicates: this.guard.duplicates };
  }

  remember(rows: readonly FluxionRecord[]): void {
    this.guard.remember(rows);
  }

  map(msg: RawMessage): MapResult {
    this.c.messages++;
    const payload = msg.payload;
    const size = typeof payload === 'string' ? utf8Length(payload, this.maxBytes) : payload.byteLength;
    if (size > this.maxBytes) {
      return this.fail('too_large', `payload of ${size} bytes is over max_payload_bytes (${this.maxBytes})`);
    }
    // A serial line goes to one rule (the first that takes it); an MQTT message, or a Modbus
    // poll (whose device has a records rule and a metadata rule), to every rule it matches.
    if (msg.source === 'serial') return this.mapLine(msg);
    let rules = this.serialRules;
    let levels: string[] | null = null;
    let certificate = false;
    if (msg.source === 'mqtt') {
      if (msg.topic === undefined) return this.fail('no_rule', 'MQTT message without a topic');
      rules = this.mqttRules;
      // A retained Sparkplug birth kept by the broker: matched as the birth topic it copies.
      certificate = msg.topic.startsWith(CERTIFICATES_PREFIX);
      levels = (certificate ? msg.topic.slice(CERTIFICATES_PREFIX.length) : msg.topic).split('/');
      // A Sparkplug host's STATE (the agent watches its own): not a reading, never a dead letter.
      if (this.mapper.sparkplug !== null && isStateTopic(levels)) {
        this.c.filtered++;
        return { ok: true, records: [], metadata: [], matched: 0, rejections: [] };
      }
    }

    this.mapper.begin(msg);
    this.ruleScratch.length = 0;
    let records: FluxionRecord[] | null = null;
    let metadata: MetadataPair[] | null = null;
    let rejections: RuleRejection[] | null = null;
    let matched = 0;
    for (let i = 0; i < rules.length; i++) {
      const rule = rules[i]!;
      if (certificate && rule.sparkplug === null) continue;
      if (levels !== null ? !rule.pattern!.match(levels, rule.captures) : rule.port !== msg.port) continue;
      matched++;
      const out = rule.sparkplug !== null ? this.mapper.sparkplugOutput(rule, msg, levels!, certificate) : rule.kind === 'records' ? this.mapper.record(rule, msg) : this.mapper.metadata(rule, msg);
      if (out === SKIPPED) continue;
      if (out instanceof SparkplugOutput) {
        if (out.records.length > 0) records = records === null ? out.records : records.concat(out.records);
        if (out.metadata.length > 0) metadata = metadata === null ? out.metadata : metadata.concat(out.metadata);
        // A death or a certificate makes neither records nor a rejection: still handled.
        if (records === null && metadata === null) records = [];
      } else if (out instanceof Rejection) {
        this.rejected[out.code]++;
        (rejections ??= []).push({ rule: rule.index, code: out.code, reason: out.reason });
      } else if (rule.kind === 'records') {
        this.pushRecord((records ??= []), out as FluxionRecord, rule.index);
      } else {
        metadata = metadata === null ? (out as MetadataPair[]) : metadata.concat(out as MetadataPair[]);
      }
    }
    this.mapper.end();
    if (matched === 0) return this.fail('no_rule', levels !== null ? `no rule matches topic '${msg.topic}'` : `no rule matches port '${String(msg.port)}'`);
    if (records === null && metadata === null) {
      if (rejections === null) return this.filtered(matched);
      const first = rejections[0]!;
      return { ok: false, code: first.code, reason: first.reason, rule: first.rule, rejections: rejections! };
    }
    return this.success(records, metadata, matched, rejections ?? []);
  }

  /**
   * A serial line: its port's rules in order, and the first that takes the line decides.
   * A rule with `match` takes every line its match selects (its rejection is the line's dead
   * letter, later rules are not tried); a rule without takes a line only by mapping it. A
   * line no rule took is a dead letter with every rule's reason; one a rule skipped (an
   * unlisted NMEA sentence) and none took is filtered.
   */
  private mapLine(msg: RawMessage): MapResult {
    const rules = this.serialRules;
    this.ruleScratch.length = 0;
    this.mapper.begin(msg);
    let tried: RuleRejection[] | null = null;
    let matched = 0;
    let skipped = false;
    let result: MapResult | null = null;
    for (let i = 0; i < rules.length && result === null; i++) {
      const rule = rules[i]!;
      if (rule.port !== msg.port) continue;
      matched++;
      const selector = rule.selector;
      if (selector !== null) {
        const text = this.mapper.text();
        const why = text instanceof ParseFailure ? text.reason : selector.test(text);
        if (why !== null) {
          const reason = text instanceof ParseFailure ? `not selected: ${why}` : `not selected: the line ${why}`;
          (tried ??= []).push({ rule: rule.index, portRule: rule.portIndex, code: 'no_rule', reason });
          continue;
        }
      }
      const out = rule.kind === 'records' ? this.mapper.record(rule, msg) : this.mapper.metadata(rule, msg);
      if (out === SKIPPED) {
        skipped = true;
        if (selector !== null) result = this.filtered(matched);
      } else if (out instanceof Rejection) {
        const rejection = { rule: rule.index, portRule: rule.portIndex, code: out.code, reason: out.reason };
        if (selector !== null) {
          this.rejected[out.code]++;
          result = { ok: false, code: out.code, reason: out.reason, rule: rule.index, rejections: [rejection] };
        } else (tried ??= []).push(rejection);
      } else if (rule.kind === 'records') {
        const records: FluxionRecord[] = [];
        this.pushRecord(records, out as FluxionRecord, rule.index);
        result = this.success(records, null, matched, []);
      } else {
        result = this.success(null, out as MetadataPair[], matched, []);
      }
    }
    this.mapper.end();
    if (result !== null) return result;
    if (matched === 0) return this.fail('no_rule', `no rule matches port '${String(msg.port)}'`);
    if (skipped) return this.filtered(matched);
    // No rule took the line: every rule's reason goes with it (the first real rejection leads).
    const all = tried!;
    const lead = all.find((r) => r.code !== 'no_rule') ?? all[0]!;
    for (const r of all) this.rejected[r.code]++;
    return { ok: false, code: lead.code, reason: lead.reason, rule: lead.rule, rejections: all };
  }

  /**
   * Adds a mapped record (and the rule that made it, for the report stage). When this reading
   * took back its own ts from a substituted one, that one is written again, moved.
   */
  private pushRecord(records: FluxionRecord[], record: FluxionRecord, rule: number): void {
    records.push(record);
    this.ruleScratch.push(rule);
    const moved = this.guard.displaced;
    if (moved !== null) {
      records.push({ col: record.col, doc: record.doc, ts: moved.ts, data: moved.data });
      this.ruleScratch.push(rule);
    }
  }

  /** Every rule that saw the message skipped it (an unlisted NMEA sentence): dropped, counted, no dead letter. */
  private filtered(matched: number): MapResult {
    this.c.filtered++;
    return { ok: true, records: [], metadata: [], matched, rejections: [] };
  }

  private success(records: FluxionRecord[] | null, metadata: MetadataPair[] | null, matched: number, rejections: RuleRejection[]): MapResult {
    this.c.records += records?.length ?? 0;
    this.c.metadata += metadata?.length ?? 0;
    return { ok: true, records: records ?? [], metadata: metadata ?? [], matched, rejections };
  }

  private fail(code: RejectCode, reason: string): MapResult {
    this.rejected[code]++;
    return { ok: false, code, reason, rejections: [] };
  }
}

/** Byte length of a string in UTF-8, short-cut when it cannot exceed the limit. */
function utf8Length(s: string, limit: number): number {
  if (s.length * 3 <= limit) return s.length;
  return Buffer.byteLength(s, 'utf8');
}
