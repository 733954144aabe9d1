/**
 * The console's JSON answers, built from the ConsoleSource: plain data, no HTML. The page
 * renders every string with textContent, and scripts may use the same answers (the API is
 * documented in docs/console.md).
 */
import { statfsSync } from 'node:fs';
import { dirname } from 'node:path';
import type { MapResult, RawMessage } from '../mapping/types.js';
import type { AgentStatus } from '../agent.js';
import type { DeadLetter, DeadLetterSummary } from '../queue/types.js';
import { RTT_BUCKETS_S } from '../sender/rtt-histogram.js';
import type { ConsoleSource, RttSnapshot } from './console-source.js';
import { previewPayload, type PayloadPreview } from './payload-preview.js';
import type { RateHistory } from './rate-history.js';

export interface DiskSpace {
  path: string;
  freeBytes: number;
  totalBytes: number;
}

/** Free space of the filesystem holding the queue file; null when it cannot be read. */
export function diskSpace(queuePath: string): DiskSpace | null {
  try {
    const s = statfsSync(dirname(queuePath));
    return { path: dirname(queuePath), freeBytes: s.bavail * s.bsize, totalBytes: s.blocks * s.bsize };
  } catch {
    return null;
  }
}

/** Round-trip quantiles from the sender's cumulative histogram (upper bucket bounds, seconds). */
export function rttQuantiles(rtt: RttSnapshot): { count: number; meanMs: number | null; p50Ms: number | null; p99Ms: number | null } {
  const q = (p: number): number | null => {
    if (rtt.count === 0) return null;
    const want = rtt.count * p;
    for (let i = 0; i < RTT_BUCKETS_S.length; i++) if ((rtt.counts[i] ?? 0) >= want) return RTT_BUCKETS_S[i]! * 1000;
    return null; // beyond the largest bucket
  };
  return { count: rtt.count, meanMs: rtt.count === 0 ? null : Math.round((rtt.sumSeconds / rtt.count) * 1e5) / 100, p50Ms: q(0.5), p99Ms: q(0.99) };
}

export interface OverviewMeta {
  gateway: string | null;
  version: string | null;
  startedAt: number;
  health: unknown;
  deadLettersByReason: DeadLetterSummary[];
}

/** The overview of `st` (one status read serves the page, the health and the summary's key). */
export function overview(source: ConsoleSource, st: AgentStatus, history: RateHistory, meta: OverviewMeta): unknown {
  const q = st.queue;
  return {
    gateway: meta.gateway,
    version: meta.version,
    now: Date.now(),
    startedAt: meta.startedAt,
    health: meta.health,
    inputs: st.inputs,
    rates: history.latest(),
    ingest: st.ingest,
    queue: {
      depth: q.depth,
      bytes: q.bytes,
      oldestUnsentAgeMs: q.oldestUnsentAgeMs,
      retainedRows: q.retainedRows,
      deadLetters: q.deadLetterDepth,
      dropped: q.dropped,
      droppedByReason: q.droppedByReason,
      appended: q.appended,
      sent: q.sent,
    },
    disk: diskSpace(source.queuePath),
    sender: {
      state: st.sender.state,
      connections: st.sender.connections,
      reconnects: st.sender.reconnects,
      sentRecords: st.sender.sentRecords,
      resentRecords: st.sender.resentRecords,
      lastAckAt: st.sender.lastAckAt,
      lastError: st.sender.lastError,
      rtt: rttQuantiles(source.rtt()),
    },
    deadLettersByReason: meta.deadLettersByReason,
    metadata: st.metadata ?? null,
    // Sparkplug edge nodes (births, deaths, unresolved messages) when the agent reads Sparkplug.
    sparkplug: st.sparkplug ?? null,
  };
}

export interface DeadLetterView {
  id: number;
  at: number;
  reason: string;
  source: string;
  origin: string | null;
  payload: PayloadPreview | null;
  record: unknown;
  /** Whether retry can re-queue it: it holds a record, or a raw payload of an input the rules map. */
  retryable: boolean;
}

export function deadLetterView(d: DeadLetter): DeadLetterView {
  return {
    id: d.id,
    at: d.at,
    reason: d.reason,
    source: d.source,
    origin: d.origin,
    payload: previewPayload(d.payload),
    record: d.record,
    retryable: d.record !== null || (d.payload !== null && (d.source === 'mqtt' || d.source === 'serial')),
  };
}

/** The playground's answer, shaped like `fluxion-edge map` prints it. */
export function mappingView(result: MapResult): unknown {
  if (!result.ok) {
    return { ok: false, rejected: result.code, reason: result.reason, rule: result.rule ?? null, rejections: result.rejections };
  }
  return {
    ok: true,
    records: result.records.map((r) => ({ col: r.col, doc: r.doc, ts: r.ts, data: r.data })),
    metadata: result.metadata,
    rejections: result.rejections,
  };
}

/** Builds the raw message the playground maps; throws a message for the user when the request is not one. */
export function playgroundMessage(body: unknown, now: number): RawMessage {
  if (body === null || typeof body !== 'object') throw new Error('send a JSON object: {"topic" or "port", "payload", "encoding"?}');
  const b = body as Record<string, unknown>;
  const topic = typeof b.topic === 'string' && b.topic !== '' ? b.topic : undefined;
  const port = typeof b.port === 'string' && b.port !== '' ? b.port : undefined;
  if ((topic === undefined) === (port === undefined)) throw new Error('give exactly one of topic and port');
  if (typeof b.payload !== 'string') throw new Error('payload must be a string');
  const enc = b.encoding ?? 'text';
  let payload: Uint8Array | string;
  if (enc === 'text') payload = b.payload;
  else if (enc === 'hex') {
    if (!/^([0-9a-fA-F]{2}|\s)*$/.test(b.payload)) throw new Error('payload is not hex');
    payload = Buffer.from(b.payload.replace(/\s+/g, ''), 'hex');
  } else if (enc === 'base64') payload = Buffer.from(b.payload, 'base64');
  else throw new Error("encoding must be 'text', 'hex' or 'base64'");
  return topic !== undefined ? { source: 'mqtt', topic, payload, receivedAt: now } : { source: 'serial', port: port!, payload, receivedAt: now };
}
