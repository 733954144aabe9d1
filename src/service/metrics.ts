/**
 * `/metrics`: the agent's status in the Prometheus text exposition format (version 0.0.4),
 * written here rather than through prom-client: the status already holds every number, so
 * a registry would only copy them. Counters end in `_total`; those taken from the queue
 * (dropped, dead-lettered, bytes written) count since the queue file was created and
 * survive restarts, the others count since the process started.
 */
import type { AgentStatus } from '../agent.js';
import type { InputStatus } from '../inputs/types.js';
import { RTT_BUCKETS_S } from '../sender/rtt-histogram.js';
import type { SenderState } from '../sender/types.js';

/** The round-trip histogram as the sender keeps it: cumulative counts per `RTT_BUCKETS_S` bound. */
export interface RttSnapshot {
  readonly counts: readonly number[];
  readonly count: number;
  readonly sumSeconds: number;
}

export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

const SENDER_STATES: readonly SenderState[] = ['idle', 'connecting', 'connected', 'backoff', 'auth_failed', 'stopped'];
const INPUT_STATES: readonly InputStatus['state'][] = ['starting', 'connected', 'disconnected', 'waiting', 'stopped'];

type Labels = Readonly<Record<string, string>>;
type Sample = readonly [labels: Labels, value: number];

class Exposition {
  private readonly out: string[] = [];

  metric(name: string, type: 'counter' | 'gauge' | 'histogram', help: string, samples: number | readonly Sample[]): void {
    this.out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    if (typeof samples === 'number') this.out.push(`${name} ${num(samples)}`);
    else for (const [labels, value] of samples) this.sample(name, labels, value);
  }

  sample(name: string, labels: Labels, value: number): void {
    const l = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabel(v)}"`);
    this.out.push(`${name}${l.length > 0 ? `{${l.join(',')}}` : ''} ${num(value)}`);
  }

  text(): string {
    return `${this.out.join('\n')}\n`;
  }
}

export function renderMetrics(status: AgentStatus, rtt: RttSnapshot): string {
  const e = new Exposition();
  const { queue: q, sender: s, ingest } = status;

  e.metric('fluxion_edge_readings_received_total', 'counter', 'Raw messages received from all inputs since start.', ingest.received);
  e.metric('fluxion_edge_readings_committed_total', 'counter', 'Records committed to the queue by the inputs since start.', ingest.committed);
  e.metric('fluxion_edge_readings_sent_total', 'counter', 'Records acknowledged by FluxionDB since start.', s.sentRecords);
  e.metric('fluxion_edge_readings_resent_total', 'counter', 'Records sent again after a reconnect since start.', s.resentRecords);
  e.metric(
    'fluxion_edge_readings_dropped_total',
    'counter',
    'Records that left the queue unsent, by reason, since the queue file was created.',
    Object.keys(q.droppedByReason)
      .sort()
      .map((reason) => [{ reason }, q.droppedByReason[reason]!] as const),
  );
  e.metric('fluxion_edge_readings_dead_lettered_total', 'counter', 'Messages and records filed as dead letters since the queue file was created.', q.deadLettered);
  e.metric('fluxion_edge_dead_letters', 'gauge', 'Dead letters stored now.', q.deadLetterDepth);

  e.metric('fluxion_edge_queue_depth', 'gauge', 'Unsent records in the queue (leased included).', q.depth);
  e.metric('fluxion_edge_queue_bytes', 'gauge', 'Bytes of unsent records in the queue.', q.bytes);
  e.metric('fluxion_edge_queue_retained_records', 'gauge', 'Sent records kept for replay.', q.retainedRows);
  e.metric('fluxion_edge_queue_retained_bytes', 'gauge', 'Bytes of sent records kept for replay.', q.retainedBytes);
  e.metric('fluxion_edge_queue_oldest_unsent_age_seconds', 'gauge', 'Age of the oldest unsent record (0 when none).', (q.oldestUnsentAgeMs ?? 0) / 1000);
  e.metric('fluxion_edge_queue_bytes_written_total', 'counter', 'Estimated bytes written to the queue WAL since the file was created (flash wear).', q.bytesWritten);

  e.metric('fluxion_edge_sender_state', 'gauge', 'Sender state: 1 for the current one.', SENDER_STATES.map((state) => [{ state }, s.state === state ? 1 : 0] as const));
  e.metric('fluxion_edge_sender_connections_total', 'counter', 'Connections to FluxionDB that became ready since start.', s.connections);
  e.metric('fluxion_edge_sender_reconnects_total', 'counter', 'Failed connection attempts and dropped connections since start.', s.reconnects);
  e.metric('fluxion_edge_sender_batches_sent_total', 'counter', 'Batches acknowledged by FluxionDB since start.', s.sentBatches);
  e.metric('fluxion_edge_sender_in_flight_batches', 'gauge', 'Batches sent and not yet acknowledged.', s.inFlightBatches);
  e.metric('fluxion_edge_sender_dead_lettered_total', 'counter', 'Records the server refused, filed as dead letters since start.', s.deadLettered);
  e.metric('fluxion_edge_sender_last_ack_timestamp_seconds', 'gauge', 'When the last batch was acknowledged (0: never since start).', (s.lastAckAt ?? 0) / 1000);

  const w = s.wire;
  if (w !== undefined) {
    e.metric('fluxion_edge_wire_bytes_sent_total', 'counter', 'Bytes the sender wrote on the wire to FluxionDB (after compression, counted by the socket) since start.', w.bytesSent);
    e.metric('fluxion_edge_wire_bytes_last_hour', 'gauge', 'Bytes on the wire in the last 60 minutes.', w.bytesLastHour);
    e.metric('fluxion_edge_wire_bytes_last_day', 'gauge', 'Bytes on the wire in the last 24 hours.', w.bytesLastDay);
    e.metric('fluxion_edge_wire_bytes_per_reading', 'gauge', 'Bytes on the wire per reading acknowledged, since start.', w.bytesPerReading);
    e.metric('fluxion_edge_wire_max_bytes_per_second', 'gauge', 'The uplink cap in force (sender.max_bytes_per_second; 0: none).', w.maxBytesPerSecond);
  }
  const rep = status.report ?? [];
  if (rep.length > 0) {
    const rule = (r: (typeof rep)[number]): Labels => ({ rule: String(r.rule), source: r.source, mode: r.mode });
    e.metric('fluxion_edge_report_readings_total', 'counter', 'Readings of rules with report or aggregate since start.', rep.map((r) => [rule(r), r.readings] as const));
    e.metric('fluxion_edge_report_records_sent_total', 'counter', 'Records those rules handed to the queue (readings for report, window records for aggregate) since start.', rep.map((r) => [rule(r), r.sent] as const));
    e.metric('fluxion_edge_report_suppressed_total', 'counter', 'Readings not sent as they came (unchanged, held by min_interval, or folded into a window) since start.', rep.map((r) => [rule(r), r.suppressed] as const));
    e.metric('fluxion_edge_report_late_total', 'counter', 'Readings older than the newest of their document, or arriving after their window closed, since start.', rep.map((r) => [rule(r), r.late] as const));
    e.metric('fluxion_edge_report_late_dropped_total', 'counter', 'Late readings of a window older than the last closed one, dropped, since start.', rep.map((r) => [rule(r), r.lateDropped] as const));
  }

  e.metric('fluxion_edge_batch_rtt_seconds', 'histogram', 'Round-trip time of a batch: sent to acknowledged.', []);
  RTT_BUCKETS_S.forEach((le, i) => e.sample('fluxion_edge_batch_rtt_seconds_bucket', { le: String(le) }, rtt.counts[i] ?? 0));
  e.sample('fluxion_edge_batch_rtt_seconds_bucket', { le: '+Inf' }, rtt.count);
  e.sample('fluxion_edge_batch_rtt_seconds_sum', {}, rtt.sumSeconds);
  e.sample('fluxion_edge_batch_rtt_seconds_count', {}, rtt.count);

  const inputs = status.inputs;
  e.metric('fluxion_edge_input_state', 'gauge', 'Input state (MQTT, serial ports): 1 for the current one.', inputs.flatMap((i) => INPUT_STATES.map((state) => [{ input: i.name, state }, i.state === state ? 1 : 0] as const)));
  e.metric('fluxion_edge_input_received_total', 'counter', 'Messages or lines an input received since start.', inputs.map((i) => [{ input: i.name }, i.received] as const));
  e.metric('fluxion_edge_input_committed_total', 'counter', 'Messages an input had committed to the queue since start.', inputs.map((i) => [{ input: i.name }, i.committed] as const));

  const m = status.mapping;
  if (m !== null) {
    e.metric(
      'fluxion_edge_mapping_rejected_total',
      'counter',
      'Messages a mapping rule rejected, by reason, since start.',
      Object.keys(m.rejected)
        .sort()
        .map((reason) => [{ reason }, m.rejected[reason as keyof typeof m.rejected]] as const),
    );
    e.metric('fluxion_edge_mapping_filtered_total', 'counter', 'Messages skipped by design (NMEA sentences not wanted or without a fix) since start.', m.filtered);
    e.metric('fluxion_edge_mapping_collisions_total', 'counter', 'Readings whose timestamp equalled the previous one of their document since start.', m.collisions);
    e.metric('fluxion_edge_mapping_bad_timestamps_total', 'counter', 'Payload timestamps before mapping.timestamp_floor since start.', m.badTimestamps);
    e.metric('fluxion_edge_mapping_clock_unsynced_total', 'counter', 'Records stamped while the gateway clock was before the floor since start.', m.clockUnsynced);
  }
  const md = status.metadata;
  if (md !== undefined) {
    e.metric('fluxion_edge_metadata_keys', 'gauge', 'Metadata keys in the outbox, by state (in_sync: acknowledged by FluxionDB).', [
      [{ state: 'in_sync' }, md.inSync],
      [{ state: 'pending' }, md.pending],
      [{ state: 'failed' }, md.failed],
    ]);
    e.metric('fluxion_edge_metadata_writes_total', 'counter', 'Metadata setValue and deleteValue acknowledged since start.', [
      [{ op: 'set' }, md.written],
      [{ op: 'delete' }, md.deleted],
    ]);
  }
  return e.text();
}

function num(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}
