/**
 * Pieces of the MQTT input tests. A MessageSink: maps each raw message with the real mapping engine and
 * appends the records to a real SqliteQueue (rejections become dead letters). `block()`
 * makes commits fail with EDGE_ERR_QUEUE_FULL until `unblock()`, as a full queue with
 * `on_full: block` would.
 */
import { join } from 'node:path';
import pino from 'pino';
import { AgentError, ErrorCodes } from '../../src/errors.js';
import type { MessageSink, RawMessage } from '../../src/inputs/types.js';
import { compileRules, type MappingRuleSpec, type RuleSet } from '../../src/mapping/index.js';
import { SqliteQueue, type QueuedRecord } from '../../src/queue/index.js';
import { randomUUID } from 'node:crypto';
import mqtt, { type MqttClient } from 'mqtt';
import type { MqttInputOptions } from '../../src/inputs/mqtt/index.js';

/** `sensors/{device}/telemetry` JSON payloads `{"seq": n, "ts": ms}` into collection `telemetry`. */
export const TELEMETRY_RULES: MappingRuleSpec[] = [
  { topic: 'sensors/{device}/telemetry', collection: 'telemetry', document: '{device}', timestamp: { field: 'ts', unit: 'ms' } },
];

export class QueueSink implements MessageSink {
  readonly queue: SqliteQueue;
  readonly rules: RuleSet;
  /** Successful commits. */
  commits = 0;
  /** Commits refused while blocked. */
  refused = 0;
  /** Messages the mapping rejected (dead-lettered). */
  rejected = 0;
  /** Errors thrown by the next commits, one per commit (a broken queue, a full disk). */
  readonly failures: Error[] = [];
  private blocked = false;
  private waiters: Array<() => void> = [];

  constructor(dir: string, rules: readonly MappingRuleSpec[] = TELEMETRY_RULES) {
    this.queue = new SqliteQueue({ path: join(dir, 'queue.db'), synchronous: 'normal' }, { logger: pino({ level: 'silent' }) });
    this.queue.start();
    this.rules = compileRules(rules);
  }

  commit(messages: readonly RawMessage[]): void {
    const failure = this.failures.shift();
    if (failure !== undefined) {
      this.refused++;
      throw failure;
    }
    if (this.blocked) {
      this.refused++;
      throw new AgentError(ErrorCodes.QUEUE_FULL, 'queue full (test sink blocked)');
    }
    const records = [];
    const dead = [];
    for (const m of messages) {
      const r = this.rules.map(m);
      if (r.ok) records.push(...r.records);
      else {
        this.rejected++;
        dead.push({ reason: `mapping_${r.code}`, source: m.source, origin: m.topic ?? null, payload: Buffer.from(m.payload) });
      }
    }
    this.queue.append(records);
    if (dead.length > 0) this.queue.deadLetterMany(dead);
    this.commits++;
  }

  waitForRoom(signal?: AbortSignal): Promise<void> {
    if (!this.blocked) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.waiters.push(resolve);
      signal?.addEventListener('abort', () => reject(new AgentError(ErrorCodes.STOPPED, 'aborted')), { once: true });
    });
  }

  block(): void {
    this.blocked = true;
  }

  unblock(): void {
    this.blocked = false;
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /** Every queued record, in append order. */
  records(): QueuedRecord[] {
    const lease = this.queue.lease({ maxRecords: 10_000_000, maxBytes: Number.MAX_SAFE_INTEGER });
    if (lease === null) return [];
    this.queue.release(lease);
    return [...lease.records];
  }

  /** Sequence numbers of the queued records, per document, in append order. */
  seqsByDoc(): Map<string, number[]> {
    const out = new Map<string, number[]>();
    for (const r of this.records()) {
      const seq = (JSON.parse(r.data) as { seq: number }).seq;
      let list = out.get(r.doc);
      if (list === undefined) out.set(r.doc, (list = []));
      list.push(seq);
    }
    return out;
  }

  close(): void {
    this.queue.stop();
  }
}

/** A JSON telemetry payload with a sequence number and a timestamp derived from it. */
export function telemetry(seq: number, baseTs = 1_700_000_000_000): string {
  return JSON.stringify({ seq, ts: baseTs + seq });
}

/** Input options for tests: persistent session, fast reconnects, QoS 1 on the telemetry topics. */
export function mqttInputOptions(url: string, overrides: Partial<MqttInputOptions> = {}): MqttInputOptions {
  return {
    url,
    clientId: `edge-test-${randomUUID().slice(0, 8)}`,
    protocolVersion: 4,
    keepaliveS: 30,
    clean: false,
    reconnectBaseMs: 50,
    reconnectCapMs: 400,
    subscriptions: [{ filter: 'sensors/+/telemetry', qos: 1 }],
    groupCommit: { maxMessages: 20, maxDelayMs: 2 },
    stopDeadlineMs: 2000,
    ...overrides,
  };
}

/** A device: an mqtt.js client that publishes QoS 1 telemetry. */
export async function connectPublisher(url: string): Promise<MqttClient> {
  return mqtt.connectAsync(url, { clientId: `pub-${randomUUID().slice(0, 8)}`, reconnectPeriod: 100, connectTimeout: 5000 });
}

/**
 * Publishes seq `from`..`to - 1` round-robin over `devices` (sensors/d<i>/telemetry) without
 * waiting between messages; resolves with the seqs the broker acknowledged, in order.
 */
export async function publishRange(pub: MqttClient, from: number, to: number, { devices = 5, qos = 1 as 0 | 1 } = {}): Promise<number[]> {
  const acked: number[] = [];
  const pending: Array<Promise<void>> = [];
  for (let seq = from; seq < to; seq++) {
    pending.push(
      pub.publishAsync(`sensors/d${seq % devices}/telemetry`, telemetry(seq), { qos }).then(
        () => void acked.push(seq),
        () => undefined,
      ),
    );
  }
  await Promise.all(pending);
  return acked.sort((a, b) => a - b);
}

/**
 * Publishes one QoS 1 message again until the broker acknowledges it, as a real device does:
 * mqtt.js rejects the publishes it held when a broker restart closed the connection.
 */
async function publishUntilAcked(client: MqttClient, m: { topic: string; payload: string | Buffer }): Promise<void> {
  for (;;) {
    try {
      await client.publishAsync(m.topic, m.payload, { qos: 1 });
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

/** Publishes in order with a bounded window of unacknowledged QoS 1 publishes, so a test never buffers 50,000 at once. */
export async function publishWindowed(
  client: MqttClient,
  messages: ReadonlyArray<{ topic: string; payload: string | Buffer }>,
  qos: 0 | 1 = 1,
  { untilAcked = false }: { untilAcked?: boolean } = {},
): Promise<void> {
  const inflight = new Set<Promise<unknown>>();
  for (const m of messages) {
    const p = (untilAcked ? publishUntilAcked(client, m) : client.publishAsync(m.topic, m.payload, { qos })).finally(() => inflight.delete(p));
    inflight.add(p);
    if (inflight.size >= 200) await Promise.race(inflight);
  }
  await Promise.all(inflight);
}

/** `publishWindowed` from a publisher of its own, connected for the purpose and closed after. */
export async function publishAll(url: string, messages: ReadonlyArray<{ topic: string; payload: string | Buffer }>, qos: 0 | 1 = 1): Promise<void> {
  const pub = await mqtt.connectAsync(url, { clientId: `pub-${process.pid}-${Math.random()}`, clean: true });
  try {
    await publishWindowed(pub, messages, qos);
  } finally {
    await pub.endAsync();
  }
}
