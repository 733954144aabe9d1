/**
 * A decoded Sparkplug message rendered for one `format: sparkplug_b` rule: readings that
 * share a timestamp become one record (`data` = metric name -> value, plus the rule's
 * tags), different timestamps separate records; metadata facts become pairs of the node's
 * or device's document.
 */
import type { FluxionRecord } from '../../client/types.js';
import type { CollisionGuard } from '../collisions.js';
import { Rejection } from '../rejection.js';
import type { Template } from '../template.js';
import { msToOutput } from '../timestamps.js';
import type { MetadataPair } from '../types.js';
import type { SparkplugEvent } from './decoder.js';

/** Placeholders every Sparkplug rule may use besides its topic's own names. */
export const SPARKPLUG_NAMES = ['group', 'node', 'device', 'message_type'] as const;
export const DEFAULT_DEVICE_DOCUMENT = '{group}/{node}/{device}';
export const DEFAULT_NODE_DOCUMENT = '{group}/{node}';

/** What a compiled rule holds for Sparkplug. */
export interface SparkplugRuleParts {
  /** Document of node messages (NBIRTH, NDATA, NDEATH). */
  nodeDocument: Template;
  /** Capture slots of group, node, device, message_type (after the topic's own names). */
  slots: readonly number[];
}

interface Group {
  ms: number;
  /** The ts is the receive time: the metric's own was missing or absurd (it moves on a collision). */
  substituted: boolean;
  names: Set<string>;
  text: string;
}

/** `"name":` for JSON text, cached: metric names repeat in every message of a node. */
const keys = new Map<string, string>();
function jsonKey(name: string): string {
  let k = keys.get(name);
  if (k === undefined) {
    if (keys.size >= 100_000) keys.clear();
    k = `${JSON.stringify(name)}:`;
    keys.set(name, k);
  }
  return k;
}

/** JSON text of a value; NaN and infinities (possible in Float and Double) become null, as JSON.stringify has them. */
function jsonValue(v: unknown): string {
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : 'null';
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  return JSON.stringify(v);
}

/** The records and pairs one rule makes of a message. */
export class SparkplugOutput {
  constructor(
    readonly records: FluxionRecord[],
    readonly metadata: MetadataPair[],
  ) {}
}

export interface RenderContext {
  collection: Template;
  document: Template;
  tags: ReadonlyArray<{ name: string; template: Template }>;
  parts: SparkplugRuleParts;
  /** The rule's capture scratch space, topic names already filled in. */
  captures: string[];
  digits: number;
  floorMs: number;
  receivedAt: number;
  guard: CollisionGuard;
  counters: { badTimestamps: number; tagClashes: number; metadataSkipped: number };
}

export function renderSparkplug(event: Extract<SparkplugEvent, { kind: 'ok' }>, c: RenderContext): SparkplugOutput | Rejection {
  const t = event.topic;
  const cap = c.captures;
  const [gs, ns, ds, ts] = c.parts.slots as [number, number, number, number];
  cap[gs] = t.group;
  cap[ns] = t.node;
  cap[ts] = t.type;
  const docOf = (device: string): string => {
    cap[ds] = device;
    return (device === '' ? c.parts.nodeDocument : c.document).render(cap, undefined, undefined) ?? '';
  };

  const metadata: MetadataPair[] = [];
  for (const fact of event.meta) {
    const device = docOf(fact.device);
    if (device === '') {
      c.counters.metadataSkipped += fact.fields.length;
      continue;
    }
    for (const [key, value] of fact.fields) metadata.push({ device, key, value });
  }
  if (event.readings.length === 0) return new SparkplugOutput([], metadata);

  const doc = docOf(t.device);
  if (doc === '') return new Rejection('invalid_record', 'document template rendered empty');
  const col = c.collection.render(cap, undefined, undefined) ?? '';
  if (col === '') return new Rejection('invalid_record', `collection template '${c.collection.source}' rendered empty`);

  // Readings grouped by timestamp, in the order their timestamps first appear; `data` is
  // written as JSON text directly (names quoted once and cached): building an object per
  // record and stringifying it cost more than the protobuf decode (measured, bench/sparkplug).
  const groups: Group[] = [];
  let last: Group | null = null;
  for (const r of event.readings) {
    let ms = r.ts;
    let substituted = false;
    if (ms < c.floorMs || !Number.isSafeInteger(ms)) {
      c.counters.badTimestamps++;
      ms = c.receivedAt;
      substituted = true;
    }
    let g: Group | undefined = last !== null && last.ms === ms ? last : groups.find((x) => x.ms === ms);
    if (g === undefined) {
      g = { ms, substituted, names: new Set(), text: '' };
      groups.push(g);
    }
    last = g;
    if (g.names.has(r.name)) continue; // the same metric twice at one time: the first is kept
    g.names.add(r.name);
    g.text += `${g.text === '' ? '' : ','}${jsonKey(r.name)}${jsonValue(r.value)}`;
  }
  const records: FluxionRecord[] = [];
  for (const g of groups) {
    let text = g.text;
    for (const tag of c.tags) {
      if (g.names.has(tag.name)) {
        c.counters.tagClashes++;
        continue;
      }
      text += `${text === '' ? '' : ','}${jsonKey(tag.name)}${JSON.stringify(tag.template.render(cap, undefined, undefined) ?? '')}`;
    }
    const out = msToOutput(g.ms, c.digits);
    const data = `{${text}}`;
    records.push({ col, doc, ts: c.guard.admit(col, doc, out, data, g.substituted), data });
  }
  return new SparkplugOutput(records, metadata);
}
