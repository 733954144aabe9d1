/**
 * One Sparkplug B message through the node state: births define alias tables, data
 * messages resolve against them, deaths are matched by `bdSeq`. The result is format-level
 * (readings with names, timestamps and values; metadata facts); the rule set renders it
 * into records and metadata pairs per rule. Runs once per message however many rules match,
 * so `seq` and the counters move once.
 *
 * Nothing is guessed: a data message with an alias no birth defined, or (when gaps hold
 * data) one arriving after a `seq` gap, is `unresolved`: the caller files it with its raw
 * payload and a rebirth request is wanted for the node.
 */
import { gunzipSync, inflateSync } from 'node:zlib';
import { DataTypes, dataTypeName, decodePayload, has, type ProtoMetric, type ProtoPayload } from './payload.js';
import { AliasTable, SparkplugState, type BirthMetricInfo, type NodeEntry, type StoredBirth, type StoredMetric } from './node-state.js';
import { parseTopic, type SparkplugTopic } from './topic.js';
import { exact64, metricValue, propertySet, small64, ValueError, type JsonValue } from './values.js';

/** One metric value at its time. */
export interface Reading {
  name: string;
  /** ms since the epoch. */
  ts: number;
  value: JsonValue;
}

/** Metadata facts about the node (`device` empty) or a device. */
export interface MetaFact {
  device: string;
  fields: Array<[key: string, value: string]>;
}

export type SparkplugEvent =
  | { kind: 'ok'; topic: SparkplugTopic; readings: Reading[]; meta: MetaFact[] }
  /** Valid but not for storing (commands, STATE, a stale death). */
  | { kind: 'skip'; reason: string }
  | { kind: 'reject'; code: 'parse_error' | 'bad_type' | 'unresolved'; reason: string };

export interface DecoderOptions {
  /**
   * After a `seq` gap, hold the node's data messages until its next NBIRTH (true when the
   * agent asks for rebirths), or keep writing those whose aliases resolve (false).
   */
  holdAfterGap: boolean;
}

const COMPRESSED_UUID = 'SPBV1.0_COMPRESSED';
const NODE_CONTROL = 'Node Control/';

export class SparkplugDecoder {
  constructor(
    readonly state: SparkplugState,
    private readonly options: DecoderOptions,
  ) {}

  /**
   * `levels`: the topic split on `/` (certificates prefix removed). `certificate`: a
   * retained birth from `$sparkplug/certificates/` (alias table and metadata only).
   * `replayed`: a stored message mapped again (held, dead letter): out of sequence.
   */
  accept(levels: readonly string[], payload: Uint8Array | string, receivedAt: number, certificate: boolean, replayed: boolean): SparkplugEvent {
    const topic = parseTopic(levels);
    if (topic === null) return { kind: 'skip', reason: 'not a Sparkplug B node or device topic (STATE?)' };
    if (topic.type === 'NCMD' || topic.type === 'DCMD') return { kind: 'skip', reason: `${topic.type} is a command, not a reading` };
    let p: ProtoPayload;
    try {
      p = decompress(decodePayload(typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload));
    } catch (err) {
      return { kind: 'reject', code: 'parse_error', reason: `not a Sparkplug B payload: ${(err as Error).message}` };
    }
    const e = this.state.entry(topic.group, topic.node);
    e.stats.lastMessageAt = receivedAt;
    const ts0 = has(p, 'timestamp') ? small64(p.timestamp!) : receivedAt;
    const metrics = p.metrics ?? [];
    try {
      switch (topic.type) {
        case 'NBIRTH':
        case 'DBIRTH':
          return this.birth(e, topic, p, metrics, ts0, certificate, replayed);
        case 'NDEATH':
          return this.nodeDeath(e, topic, metrics, ts0);
        case 'DDEATH':
          if (!replayed) this.sequence(e, p);
          e.onlineDevices.delete(topic.device);
          return { kind: 'ok', topic, readings: [], meta: [{ device: topic.device, fields: [['sparkplug.online', 'false'], ['sparkplug.death_time', iso(ts0)]] }] };
        default:
          return this.data(e, topic, p, metrics, ts0, replayed);
      }
    } catch (err) {
      if (err instanceof ValueError) return { kind: 'reject', code: 'bad_type', reason: err.message };
      // Whatever else a malformed payload trips: never an exception out of the mapping.
      return { kind: 'reject', code: 'parse_error', reason: `cannot read the ${topic.type} payload: ${(err as Error).message}` };
    }
  }

  private sequence(e: NodeEntry, p: ProtoPayload): 'ok' | 'late' | 'gap' {
    if (!has(p, 'seq')) return 'ok';
    const verdict = this.state.checkSeq(e, small64(p.seq!) & 255);
    if (verdict === 'gap') {
      e.stats.seqGaps++;
      if (this.options.holdAfterGap) e.synced = false;
      this.state.wantRebirth(e);
    }
    return verdict;
  }

  private birth(e: NodeEntry, topic: SparkplugTopic, p: ProtoPayload, metrics: ProtoMetric[], ts0: number, certificate: boolean, replayed: boolean): SparkplugEvent {
    const node = topic.type === 'NBIRTH';
    const defs: StoredMetric[] = [];
    const info: BirthMetricInfo[] = [];
    let bdSeq: string | null = null;
    for (const m of metrics) {
      if (!has(m, 'name') || !has(m, 'datatype')) return { kind: 'reject', code: 'parse_error', reason: `${topic.type} metric without name or datatype` };
      if (node && m.name === 'bdSeq') {
        bdSeq = String(metricValue(m, m.datatype === DataTypes.Unknown ? DataTypes.UInt64 : m.datatype!));
        continue;
      }
      const alias = has(m, 'alias') ? String(exact64(m.alias!, false)) : null;
      defs.push([m.name!, m.datatype!, alias]);
      if (m.datatype === DataTypes.Template) flattenDefs(m, m.name!, defs);
      const props = propertySet(m.properties);
      const units = props.engUnit ?? props.EngUnit ?? props.units ?? props.unit;
      info.push({
        name: m.name!,
        datatype: dataTypeName(m.datatype!),
        ...(alias !== null ? { alias } : {}),
        ...(typeof units === 'string' ? { units } : {}),
        ...(Object.keys(props).length > 0 ? { properties: props } : {}),
      });
    }
    const stored: StoredBirth = { bdSeq, birthTs: ts0, metrics: defs };
    const current = node ? e.table : (e.devices.get(topic.device) ?? null);
    // The same birth again (a retained certificate at every start, a redelivery): nothing changed.
    const same = current !== null && current.birth.birthTs === ts0 && current.birth.bdSeq === bdSeq && current.birth.metrics.length === defs.length;
    if (!node && !replayed && !certificate) this.sequence(e, p);
    if (same) this.state.markBorn(e);
    if (node) {
      if (!same) this.state.nodeBirth(e, stored);
      else e.synced = true;
      // A retained certificate tells nothing of the live seq: the next message sets it.
      e.lastSeq = certificate || !has(p, 'seq') ? null : small64(p.seq!) & 255;
    } else if (!same) {
      this.state.deviceBirth(e, topic.device, stored);
    } else {
      e.onlineDevices.add(topic.device);
    }
    e.stats.online = true;
    e.stats.births++;
    e.stats.lastBirthAt = ts0;
    const fields: MetaFact['fields'] = [['sparkplug.online', 'true'], ['sparkplug.birth_time', iso(ts0)]];
    if (node && bdSeq !== null) fields.push(['sparkplug.bdseq', bdSeq]);
    fields.push(['sparkplug.metrics', JSON.stringify(info)]);
    const readings: Reading[] = [];
    if (!certificate) {
      const table = node ? e.table! : e.devices.get(topic.device)!;
      for (const m of metrics) {
        if (node && (m.name === 'bdSeq' || m.name!.startsWith(NODE_CONTROL))) continue;
        this.read(e, m, m.name!, m.datatype!, ts0, table, readings);
      }
    }
    return { kind: 'ok', topic, readings, meta: [{ device: topic.device, fields }] };
  }

  private nodeDeath(e: NodeEntry, topic: SparkplugTopic, metrics: ProtoMetric[], ts0: number): SparkplugEvent {
    const m = metrics.find((x) => x.name === 'bdSeq');
    const bdSeq = m === undefined ? null : String(metricValue(m, m.datatype === undefined || m.datatype === 0 ? DataTypes.UInt64 : m.datatype));
    const current = e.table?.birth.bdSeq ?? null;
    if (bdSeq !== null && current !== null && bdSeq !== current) {
      e.stats.staleDeaths++;
      return { kind: 'skip', reason: `NDEATH with bdSeq ${bdSeq} is for an older birth (current bdSeq ${current}): ignored` };
    }
    e.stats.online = false;
    e.stats.deaths++;
    e.lastSeq = null;
    const dead: Array<[string, string]> = [['sparkplug.online', 'false'], ['sparkplug.death_time', iso(ts0)]];
    const meta: MetaFact[] = [{ device: '', fields: dead }];
    for (const d of e.onlineDevices) meta.push({ device: d, fields: dead });
    e.onlineDevices.clear();
    return { kind: 'ok', topic, readings: [], meta };
  }

  private data(e: NodeEntry, topic: SparkplugTopic, p: ProtoPayload, metrics: ProtoMetric[], ts0: number, replayed: boolean): SparkplugEvent {
    if (!replayed) {
      const verdict = this.sequence(e, p);
      if (verdict === 'gap' && this.options.holdAfterGap) {
        return this.unresolved(e, `seq ${small64(p.seq!) & 255} does not follow the previous message (messages were lost)`);
      }
      if (!e.synced) return this.unresolved(e, 'waiting for the rebirth after a seq gap');
    }
    const table = topic.type === 'NDATA' ? e.table : (e.devices.get(topic.device) ?? null);
    const readings: Reading[] = [];
    for (const m of metrics) {
      let name: string | undefined = has(m, 'name') ? m.name : undefined;
      if (name === undefined || name === '') {
        const alias = has(m, 'alias') ? exact64(m.alias!, false) : null;
        name = alias === null ? undefined : table?.names.get(alias);
        if (name === undefined) {
          return this.unresolved(e, alias === null ? 'metric without name or alias' : `unknown alias ${alias} (no ${topic.device === '' ? 'NBIRTH' : 'DBIRTH'} defines it)`, replayed);
        }
      }
      const type = has(m, 'datatype') && m.datatype !== DataTypes.Unknown ? m.datatype! : table?.types.get(name);
      if (type === undefined) return this.unresolved(e, `metric '${name}' has no datatype and no birth defines it`, replayed);
      this.read(e, m, name, type, ts0, table, readings);
    }
    if (!replayed) e.stats.dataMessages++;
    return { kind: 'ok', topic, readings, meta: [] };
  }

  private unresolved(e: NodeEntry, reason: string, replayed = false): SparkplugEvent {
    if (!replayed) {
      e.stats.unresolved++;
      this.state.wantRebirth(e);
    }
    return { kind: 'reject', code: 'unresolved', reason: `${e.key}: ${reason}` };
  }

  /** Appends the readings of one metric; a template instance gives one per member, named `template/member`. */
  private read(e: NodeEntry, m: ProtoMetric, name: string, type: number, ts0: number, table: AliasTable | null, out: Reading[]): void {
    const ts = has(m, 'timestamp') ? small64(m.timestamp!) : ts0;
    if (type === DataTypes.Template) {
      const t = m.template_value;
      if (m.is_null === true || t == null || t.is_definition === true) return;
      for (const member of t.metrics ?? []) {
        if (!has(member, 'name')) throw new ValueError(`template member of '${name}' without a name`);
        const path = `${name}/${member.name!}`;
        const mt = has(member, 'datatype') && member.datatype !== 0 ? member.datatype! : table?.types.get(path);
        if (mt === undefined) throw new ValueError(`template member '${path}' without a datatype`);
        this.read(e, member, path, mt, ts, table, out);
      }
      return;
    }
    out.push({ name, ts, value: metricValue(m, type) });
    e.stats.metrics++;
    if (m.is_historical === true) e.stats.historical++;
  }
}

/** Template instance members as flattened definitions (`template/member`), recursively. */
function flattenDefs(m: ProtoMetric, prefix: string, defs: StoredMetric[]): void {
  const t = m.template_value;
  if (t == null || t.is_definition === true) return;
  for (const member of t.metrics ?? []) {
    if (!has(member, 'name') || !has(member, 'datatype')) continue;
    const path = `${prefix}/${member.name!}`;
    defs.push([path, member.datatype!, null]);
    if (member.datatype === DataTypes.Template) flattenDefs(member, path, defs);
  }
}

/** Compressed payloads (`uuid` SPBV1.0_COMPRESSED): the real payload is the inflated `body`. */
function decompress(p: ProtoPayload): ProtoPayload {
  if (p.uuid !== COMPRESSED_UUID || !has(p, 'body')) return p;
  const algo = p.metrics?.find((m) => m.name === 'algorithm')?.string_value?.toUpperCase() ?? 'DEFLATE';
  if (algo === 'GZIP') return decodePayload(gunzipSync(p.body!));
  if (algo === 'DEFLATE') return decodePayload(inflateSync(p.body!));
  throw new Error(`unknown compression algorithm ${algo}`);
}

function iso(ms: number): string {
  const d = new Date(ms);
  return Number.isNaN(d.getTime()) ? String(ms) : d.toISOString();
}
