/**
 * `dead-letter retry --config FILE`: raw messages no rule could map (MQTT payloads, serial
 * lines) go through the config's current rules again, as the agent would map them now.
 * What maps is queued (its metadata pairs go to the metadata outbox, as the agent's would);
 * what still does not map stays a dead letter with its new reason. A dead letter holding a
 * record the server refused is queued as it is, as without --config.
 */
import type { FluxionRecord } from '../client/types.js';
import { compileRules, deadLetterReason, type MappingContext, type RawMessage } from '../mapping/index.js';
import type { MappingOptions, MappingRuleSpec, MetadataPair } from '../mapping/types.js';
import type { DeadLetter } from '../queue/index.js';

/** Reasons line-framer.ts gives for bytes that are not a whole line. */
const CUT_BY_INPUT = /^(?:too_large: line of |parse_error: incomplete line|parse_error: \d+ bytes outside any frame)/;

export interface Remapper {
  remap(dl: DeadLetter): FluxionRecord[] | null | { reason: string };
  /** Metadata pairs handed on so far. */
  readonly metadataPairs: number;
}

export interface RemapOptions {
  /** Every input's rules, in the order the agent compiles them. */
  rules: readonly MappingRuleSpec[];
  mapping: MappingOptions;
  /** Sparkplug: a decoder on the alias tables persisted in the queue file (`replayContext`). */
  context?: MappingContext;
  /**
   * Where the metadata pairs of re-mapped messages go: the running agent's metadata sync,
   * or (the CLI, agent stopped) the metadata outbox in the queue file.
   */
  onMetadata(pairs: readonly MetadataPair[]): void;
}

/**
 * One remapper for `dead-letter retry --config` and the console's retry: raw MQTT payloads
 * and serial lines go through the current rules again, as the agent would map them now.
 */
export function remapper(options: RemapOptions): Remapper {
  const rules = compileRules([...options.rules], options.mapping, options.context);
  let metadataPairs = 0;
  return {
    get metadataPairs() {
      return metadataPairs;
    },
    remap(dl) {
      if (dl.record !== null) return [dl.record];
      if (dl.payload === null || (dl.source !== 'mqtt' && dl.source !== 'serial') || dl.origin === null) return null;
      // What a serial input cut (the head of an over-long line, a line cut by a disconnect,
      // bytes outside any frame) is not a whole line: mapped, it could give a wrong reading.
      if (dl.source === 'serial' && CUT_BY_INPUT.test(dl.reason)) return null;
      // The dead letter's time is when the message was received: rules that stamp readings
      // with the receive time keep their original time.
      const msg: RawMessage =
        dl.source === 'mqtt'
          ? { source: 'mqtt', topic: dl.origin, payload: dl.payload, receivedAt: dl.at, replayed: true }
          : { source: 'serial', port: dl.origin, payload: dl.payload, receivedAt: dl.at, replayed: true };
      const r = rules.map(msg);
      const reason = deadLetterReason(r);
      // Mapped only in part (one of several MQTT rules still fails): left whole, with the new reason.
      if (!r.ok || reason !== null) return { reason: reason! };
      if (r.metadata.length > 0) {
        options.onMetadata(r.metadata);
        metadataPairs += r.metadata.length;
      }
      return r.records;
    },
  };
}
