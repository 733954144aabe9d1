/**
 * `dead-letter retry --config FILE`: raw messages no rule could map (MQTT payloads, serial
 * lines) go through the config's current rules again, as the agent would map them now.
 * What maps is queued (its metadata pairs go to the metadata outbox, as the agent's would);
 * what still does not map stays a dead letter with its new reason. A dead letter holding a
 * record the server refused is queued as it is, as without --config.
 */
import type { FluxionRecord } from '../client/types.js';
import type { EdgeSettings } from '../config/index.js';
import { compileRules, deadLetterReason, type RawMessage } from '../mapping/index.js';
import { holdsSecret, metadataKey } from '../metadata/static-metadata.js';
import { KvOutbox, type DeadLetter, type KvWrite, type SqliteQueue } from '../queue/index.js';

/** Reasons line-framer.ts gives for bytes that are not a whole line. */
const CUT_BY_INPUT = /^(?:too_large: line of |parse_error: incomplete line|parse_error: \d+ bytes outside any frame)/;

export interface Remapper {
  remap(dl: DeadLetter): FluxionRecord[] | null | { reason: string };
  /** Metadata pairs written to the outbox so far. */
  readonly metadataPairs: number;
}

export function remapper(settings: EdgeSettings, queue: SqliteQueue): Remapper {
  // Every input's rules, MQTT first, exactly as the agent compiles them.
  const rules = compileRules([...(settings.mqtt?.rules ?? []), ...(settings.serial ?? []).flatMap((s) => s.rules)], settings.mapping);
  const md = settings.metadata;
  const secrets = [settings.agent.fluxiondb.apiKey, settings.mqtt?.input.password ?? ''].filter((s) => s !== '');
  let outbox: KvOutbox | null = null;
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
          ? { source: 'mqtt', topic: dl.origin, payload: dl.payload, receivedAt: dl.at }
          : { source: 'serial', port: dl.origin, payload: dl.payload, receivedAt: dl.at };
      const r = rules.map(msg);
      const reason = deadLetterReason(r);
      // Mapped only in part (one of several MQTT rules still fails): left whole, with the new reason.
      if (!r.ok || reason !== null) return { reason: reason! };
      const writes: KvWrite[] = [];
      for (const p of r.metadata) {
        if (p.value.length === 0 || holdsSecret(p.value, secrets)) continue;
        writes.push({ col: md.collection, key: metadataKey(md.keyTemplate, p.device, p.key), value: p.value, source: 'dynamic' });
      }
      if (writes.length > 0) {
        outbox ??= new KvOutbox(queue.database);
        outbox.set(writes);
        metadataPairs += writes.length;
      }
      return r.records;
    },
  };
}
