/**
 * Sparkplug births as the queue file keeps them (queue/sparkplug-births.ts stores them, the
 * mapping's node state loads and changes them): one shape, below both.
 */

/** One metric of a birth: its name, data type and alias (as a decimal string), if any. */
export type StoredMetric = [name: string, datatype: number, alias: string | null];

/** A birth as persisted: enough to resolve aliases and data types of later data messages. */
export interface StoredBirth {
  /** `bdSeq` of the node birth (decimal), null when the birth had none (and on device births). */
  bdSeq: string | null;
  /** Birth time, ms since the epoch. */
  birthTs: number;
  metrics: StoredMetric[];
}

/** A persisted row: the node's birth (`device` empty) or one device's. */
export interface BirthRow {
  /** `{group}/{edge node}`. */
  node: string;
  device: string;
  birth: StoredBirth;
}

/** What to write to the queue file: a node's rows replaced (after an NBIRTH) or one row put. */
export type BirthChange = { op: 'reset'; node: string } | { op: 'put'; row: BirthRow };
