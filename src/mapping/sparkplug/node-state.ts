/**
 * What the agent knows of each Sparkplug edge node: its alias tables (node and devices,
 * from the births), `bdSeq`, the last `seq`, whether it is online, and counters. Pure
 * memory; the agent persists the alias tables (the queue file's `sparkplug_births`) from
 * `takeChanges()` after each commit and loads them at start, so aliases resolve after a
 * restart. `seq` is not persisted: the first message after a start sets the baseline.
 */
import type { JsonValue } from './values.js';

export type { BirthChange, BirthRow, StoredBirth, StoredMetric } from '../../shared/sparkplug-birth-rows.js';
import type { BirthChange, BirthRow, StoredBirth } from '../../shared/sparkplug-birth-rows.js';

export class AliasTable {
  /** Metric names by alias: a number when the alias is a safe integer (as `exact64` gives it), else its decimal string. */
  readonly names = new Map<number | string, string>();
  readonly types = new Map<string, number>();
  constructor(readonly birth: StoredBirth) {
    for (const [name, type, alias] of birth.metrics) {
      this.types.set(name, type);
      if (alias === null) continue;
      const n = Number(alias);
      this.names.set(Number.isSafeInteger(n) ? n : alias, name);
    }
  }
}

/** Per edge node counters (status, metrics). */
export interface SparkplugNodeCounters {
  group: string;
  node: string;
  /** True after a birth, false after a death; null when neither was seen since start. */
  online: boolean | null;
  births: number;
  deaths: number;
  /** Deaths whose bdSeq named an older birth: ignored. */
  staleDeaths: number;
  /** NDATA and DDATA messages written. */
  dataMessages: number;
  /** Metric values written (births and data). */
  metrics: number;
  /** Of those, metrics flagged is_historical (stored at their own timestamp). */
  historical: number;
  /** Messages held or dead-lettered: unknown alias, or after a seq gap. */
  unresolved: number;
  seqGaps: number;
  /** Rebirth requests published to the node. */
  rebirthRequests: number;
  lastBirthAt: number | null;
  lastMessageAt: number | null;
}

export interface NodeEntry {
  readonly key: string;
  readonly group: string;
  readonly node: string;
  table: AliasTable | null;
  readonly devices: Map<string, AliasTable>;
  /** Devices seen online (for the NDEATH that takes them all down). */
  readonly onlineDevices: Set<string>;
  lastSeq: number | null;
  /** False after a seq gap (when gaps hold data) until the next NBIRTH. */
  synced: boolean;
  readonly stats: SparkplugNodeCounters;
}

export type SeqVerdict = 'ok' | 'late' | 'gap';

export class SparkplugState {
  private readonly nodes = new Map<string, NodeEntry>();
  private changes: BirthChange[] = [];
  private rebirths = new Set<string>();
  private births = new Set<string>();

  entry(group: string, node: string): NodeEntry {
    const key = `${group}/${node}`;
    let e = this.nodes.get(key);
    if (e === undefined) {
      e = {
        key, group, node, table: null, devices: new Map(), onlineDevices: new Set(), lastSeq: null, synced: true,
        stats: {
          group, node, online: null, births: 0, deaths: 0, staleDeaths: 0, dataMessages: 0, metrics: 0, historical: 0,
          unresolved: 0, seqGaps: 0, rebirthRequests: 0, lastBirthAt: null, lastMessageAt: null,
        },
      };
      this.nodes.set(key, e);
    }
    return e;
  }

  /** Loads persisted births (agent start, `dead-letter retry`, `map --birth`). */
  load(rows: readonly BirthRow[]): void {
    for (const r of rows) {
      const slash = r.node.indexOf('/');
      if (slash <= 0) continue;
      const e = this.entry(r.node.slice(0, slash), r.node.slice(slash + 1));
      const table = new AliasTable(r.birth);
      if (r.device === '') e.table = table;
      else e.devices.set(r.device, table);
    }
  }

  /** A node birth: new node table, device tables dropped (their births follow). */
  nodeBirth(e: NodeEntry, birth: StoredBirth): void {
    e.table = new AliasTable(birth);
    e.devices.clear();
    e.onlineDevices.clear();
    e.synced = true;
    this.changes.push({ op: 'reset', node: e.key }, { op: 'put', row: { node: e.key, device: '', birth } });
    this.births.add(e.key);
  }

  deviceBirth(e: NodeEntry, device: string, birth: StoredBirth): void {
    e.devices.set(device, new AliasTable(birth));
    e.onlineDevices.add(device);
    this.changes.push({ op: 'put', row: { node: e.key, device, birth } });
    this.births.add(e.key);
  }

  /** The same birth came again (a retained certificate, a redelivery): held messages may resolve now. */
  markBorn(e: NodeEntry): void {
    this.births.add(e.key);
  }

  /** Checks `seq` (0-255, wrapping) against the last one of the node and moves it on. */
  checkSeq(e: NodeEntry, seq: number): SeqVerdict {
    const last = e.lastSeq;
    if (last === null || seq === ((last + 1) & 255)) {
      e.lastSeq = seq;
      return 'ok';
    }
    // A repeat or a message a little behind (QoS 1 redelivery): not a gap.
    if (((last - seq) & 255) < 128) return 'late';
    e.lastSeq = seq;
    return 'gap';
  }

  /** Asks for a rebirth request to the node (the agent rate limits and publishes it, when allowed). */
  wantRebirth(e: NodeEntry): void {
    this.rebirths.add(e.key);
  }

  /** Alias table changes since the last call, in order. */
  takeChanges(): BirthChange[] {
    const c = this.changes;
    if (c.length > 0) this.changes = [];
    return c;
  }

  /** Nodes that want a rebirth request, since the last call. */
  takeRebirths(): NodeEntry[] {
    if (this.rebirths.size === 0) return [];
    const out = [...this.rebirths].map((k) => this.nodes.get(k)!);
    this.rebirths = new Set();
    return out;
  }

  /** Nodes that were born (node or device birth) since the last call: their held messages may now resolve. */
  takeBirths(): NodeEntry[] {
    if (this.births.size === 0) return [];
    const out = [...this.births].map((k) => this.nodes.get(k)!);
    this.births = new Set();
    return out;
  }

  /** Counters of every node seen, by `{group}/{node}`. */
  counters(): Record<string, SparkplugNodeCounters> {
    const out: Record<string, SparkplugNodeCounters> = {};
    for (const [k, e] of this.nodes) out[k] = { ...e.stats };
    return out;
  }
}

/** A metric of a birth as the metadata lists it. */
export interface BirthMetricInfo {
  name: string;
  datatype: string;
  alias?: string;
  units?: string;
  properties?: Record<string, JsonValue>;
}
