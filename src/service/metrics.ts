/**
 * `/metrics`: the agent's status in the Prometheus text exposition format (version 0.0.4),
 * written here rather than through prom-client: the status already holds every number, so
 * a registry would only copy them (the process's own metrics come from prom-client's
 * default collectors, process-metrics.ts, and follow these). Counters end in `_total`; those taken from the queue
 * (dropped, dead-lettered, bytes written) count since the queue file was created and
 * survive restarts, the others count since the process started.
 */
import type { AgentStatus } from '../agent.js';
import type { InputStatus } from '../inputs/types.js';
import { RTT_BUCKETS_S } from '../sender/rtt-histogram.js';
import type { SenderState } from '../sender/types.js';
import { Exposition, type Labels, type Sample } from './exposition.js';
import { modbusMetrics } from './modbus-metrics.js';

/** The round-trip histogram as the sender keeps it: cumulative counts per `RTT_BUCKETS_S` bound. */
export interface RttSnapshot {
  readonly counts: readonly number[];
  readonly count: number;
  readonly sumSeconds: number;
}

export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

const SENDER_STATES: readonly SenderState[] = ['idle', 'connecting', 'connected', 'backoff', 'auth_failed', 'stopped'];
const INPUT_STATES: readonly InputStatus['state'][] = ['starting', 'connected', 'disconnected', 'waiting', 'stopped'];

/** A polled serial port's counters (SerialInputStatus.polls). */
type PollCounts = { sent: number; answered: number; timeouts: number; skipped: number };
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
  // What queue.max_bytes counts: records compacted into blocks count their compressed share.
  e.metric('fluxion_edge_queue_stored_bytes', 'gauge', 'Bytes on disk (compressed) of unsent records, as queue.max_bytes counts them.', q.storedBytes);
  e.metric('fluxion_edge_queue_retained_stored_bytes', 'gauge', 'Bytes on disk (compressed) of sent records kept for replay.', q.retainedStoredBytes);
  e.metric('fluxion_edge_queue_oldest_unsent_age_seconds', 'gauge', 'Age of the oldest unsent record (0 when none).', (q.oldestUnsentAgeMs ?? 0) / 1000);
  e.metric('fluxion_edge_queue_bytes_written_total', 'counter', 'Estimated bytes written to the queue WAL since the file was created (flash wear).', q.bytesWritten);

  const disk = status.disk;
  if (disk !== undefined) {
    e.metric('fluxion_edge_queue_max_bytes', 'gauge', 'The byte cap in force (queue.max_bytes as resolved from auto; lower while the disk is full).', disk.maxBytes);
    if (disk.freeBytes !== null) e.metric('fluxion_edge_disk_free_bytes', 'gauge', "Free bytes of the queue's filesystem.", disk.freeBytes);
    e.metric('fluxion_edge_disk_full', 'gauge', "1 while the queue's filesystem is full (/healthz says disk_full).", disk.full ? 1 : 0);
    e.metric('fluxion_edge_disk_reserve_held', 'gauge', "1 while the queue's reserve file is in place (0: spent on a full disk).", disk.reserveHeld ? 1 : 0);
    e.metric('fluxion_edge_disk_full_events_total', 'counter', 'Times the disk was found full since start.', disk.fullEvents);
    e.metric('fluxion_edge_queue_pending_acks', 'gauge', 'Acks from FluxionDB kept in memory until the full disk takes them.', disk.pendingAcks);
  }

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
  const polled = inputs.flatMap((i) => {
    const polls = (i as { polls?: PollCounts }).polls;
    return polls === undefined ? [] : [{ input: i.name, polls }];
  });
  if (polled.length > 0) {
    const each = (pick: (p: PollCounts) => number): Sample[] => polled.map((p) => [{ input: p.input }, pick(p.polls)] as const);
    e.metric('fluxion_edge_serial_polls_sent_total', 'counter', 'Poll commands written to a serial port since start.', each((p) => p.sent));
    e.metric('fluxion_edge_serial_polls_answered_total', 'counter', 'Polls answered by a line within poll.response_timeout since start.', each((p) => p.answered));
    e.metric('fluxion_edge_serial_polls_timeouts_total', 'counter', 'Polls not answered within poll.response_timeout since start.', each((p) => p.timeouts));
    e.metric('fluxion_edge_serial_polls_skipped_total', 'counter', 'Polls not written because the port was not open since start.', each((p) => p.skipped));
  }

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
    e.metric('fluxion_edge_mapping_duplicates_total', 'counter', 'Readings seen again with the same identity and data (redeliveries), written again unchanged, since start.', m.duplicates);
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
  modbusMetrics(e, status.inputs);
  const sp = status.sparkplug;
  if (sp !== undefined) {
    const nodes = Object.values(sp.nodes);
    const per = (pick: (n: (typeof nodes)[number]) => number): Sample[] => nodes.map((n) => [{ group: n.group, node: n.node }, pick(n)] as const);
    e.metric('fluxion_edge_sparkplug_node_online', 'gauge', 'Sparkplug edge node online (1) after its birth, 0 after its death or before any.', per((n) => (n.online === true ? 1 : 0)));
    e.metric('fluxion_edge_sparkplug_births_total', 'counter', 'Sparkplug births (node and device) since start.', per((n) => n.births));
    e.metric('fluxion_edge_sparkplug_deaths_total', 'counter', 'Sparkplug node deaths since start (stale ones apart).', per((n) => n.deaths));
    e.metric('fluxion_edge_sparkplug_stale_deaths_total', 'counter', 'Sparkplug NDEATH for an older birth (bdSeq), ignored, since start.', per((n) => n.staleDeaths));
    e.metric('fluxion_edge_sparkplug_data_messages_total', 'counter', 'Sparkplug NDATA and DDATA messages written since start.', per((n) => n.dataMessages));
    e.metric('fluxion_edge_sparkplug_metrics_total', 'counter', 'Sparkplug metric values written since start.', per((n) => n.metrics));
    e.metric('fluxion_edge_sparkplug_historical_metrics_total', 'counter', 'Sparkplug metric values flagged is_historical since start.', per((n) => n.historical));
    e.metric('fluxion_edge_sparkplug_unresolved_total', 'counter', 'Sparkplug messages held or dead-lettered (unknown alias, data after a seq gap) since start.', per((n) => n.unresolved));
    e.metric('fluxion_edge_sparkplug_seq_gaps_total', 'counter', 'Sparkplug seq numbers that skipped since start.', per((n) => n.seqGaps));
    e.metric('fluxion_edge_sparkplug_rebirth_requests_total', 'counter', 'Sparkplug rebirth requests published since start.', per((n) => n.rebirthRequests));
    e.metric('fluxion_edge_sparkplug_held_resolved_total', 'counter', 'Held Sparkplug messages mapped after their node\'s birth since start.', sp.resolved);
    if (sp.state !== null) e.metric('fluxion_edge_sparkplug_state_online', 'gauge', 'The STATE this primary host last published: 1 online, 0 offline.', sp.state.online ? 1 : 0);
  }
  return e.text();
}
