import { describe, expect, it } from 'vitest';
import { RttHistogram } from '../../../src/sender/rtt-histogram.js';
import { renderMetrics } from '../../../src/service/metrics.js';
import { agentStatus } from './status-fixture.js';

const help = (name: string, type: string, text: string): string[] => [`# HELP ${name} ${text}`, `# TYPE ${name} ${type}`];

describe('renderMetrics', () => {
  it('writes every metric with HELP and TYPE lines, labels escaped, the histogram cumulative', () => {
    const rtt = new RttHistogram();
    for (const ms of [3, 40, 40, 12_000]) rtt.observe(ms);
    const status = agentStatus({
      queue: {
        depth: 7, bytes: 700, retainedRows: 90, retainedBytes: 9000, oldestUnsentAgeMs: 2500,
        droppedByReason: { queue_full_drop_oldest: 4, max_age: 1 }, deadLettered: 3, deadLetterDepth: 2, bytesWritten: 123456,
      },
      sender: {
        state: 'backoff', connections: 2, reconnects: 5, inFlightBatches: 1, sentRecords: 93, sentBatches: 4,
        resentRecords: 10, deadLettered: 1, lastAckAt: 1_760_000_000_500,
      },
      ingest: { received: 101, committed: 100, deadLettered: 1 },
      inputs: [{ name: 'serial:ttyUSB0 "a"\\b', state: 'waiting', received: 3, committed: 2, lastMessageAt: null, lastError: null }],
    });
    const input = 'input="serial:ttyUSB0 \\"a\\"\\\\b"';
    expect(renderMetrics(status, rtt).split('\n')).toEqual([
      ...help('fluxion_edge_readings_received_total', 'counter', 'Raw messages received from all inputs since start.'),
      'fluxion_edge_readings_received_total 101',
      ...help('fluxion_edge_readings_committed_total', 'counter', 'Records committed to the queue by the inputs since start.'),
      'fluxion_edge_readings_committed_total 100',
      ...help('fluxion_edge_readings_sent_total', 'counter', 'Records acknowledged by FluxionDB since start.'),
      'fluxion_edge_readings_sent_total 93',
      ...help('fluxion_edge_readings_resent_total', 'counter', 'Records sent again after a reconnect since start.'),
      'fluxion_edge_readings_resent_total 10',
      ...help('fluxion_edge_readings_dropped_total', 'counter', 'Records that left the queue unsent, by reason, since the queue file was created.'),
      'fluxion_edge_readings_dropped_total{reason="max_age"} 1',
      'fluxion_edge_readings_dropped_total{reason="queue_full_drop_oldest"} 4',
      ...help('fluxion_edge_readings_dead_lettered_total', 'counter', 'Messages and records filed as dead letters since the queue file was created.'),
      'fluxion_edge_readings_dead_lettered_total 3',
      ...help('fluxion_edge_dead_letters', 'gauge', 'Dead letters stored now.'),
      'fluxion_edge_dead_letters 2',
      ...help('fluxion_edge_queue_depth', 'gauge', 'Unsent records in the queue (leased included).'),
      'fluxion_edge_queue_depth 7',
      ...help('fluxion_edge_queue_bytes', 'gauge', 'Bytes of unsent records in the queue.'),
      'fluxion_edge_queue_bytes 700',
      ...help('fluxion_edge_queue_retained_records', 'gauge', 'Sent records kept for replay.'),
      'fluxion_edge_queue_retained_records 90',
      ...help('fluxion_edge_queue_retained_bytes', 'gauge', 'Bytes of sent records kept for replay.'),
      'fluxion_edge_queue_retained_bytes 9000',
      ...help('fluxion_edge_queue_stored_bytes', 'gauge', 'Bytes on disk (compressed) of unsent records, as queue.max_bytes counts them.'),
      'fluxion_edge_queue_stored_bytes 700',
      ...help('fluxion_edge_queue_retained_stored_bytes', 'gauge', 'Bytes on disk (compressed) of sent records kept for replay.'),
      'fluxion_edge_queue_retained_stored_bytes 9000',
      ...help('fluxion_edge_queue_oldest_unsent_age_seconds', 'gauge', 'Age of the oldest unsent record (0 when none).'),
      'fluxion_edge_queue_oldest_unsent_age_seconds 2.5',
      ...help('fluxion_edge_queue_bytes_written_total', 'counter', 'Estimated bytes written to the queue WAL since the file was created (flash wear).'),
      'fluxion_edge_queue_bytes_written_total 123456',
      ...help('fluxion_edge_sender_state', 'gauge', 'Sender state: 1 for the current one.'),
      'fluxion_edge_sender_state{state="idle"} 0',
      'fluxion_edge_sender_state{state="connecting"} 0',
      'fluxion_edge_sender_state{state="connected"} 0',
      'fluxion_edge_sender_state{state="backoff"} 1',
      'fluxion_edge_sender_state{state="auth_failed"} 0',
      'fluxion_edge_sender_state{state="stopped"} 0',
      ...help('fluxion_edge_sender_connections_total', 'counter', 'Connections to FluxionDB that became ready since start.'),
      'fluxion_edge_sender_connections_total 2',
      ...help('fluxion_edge_sender_reconnects_total', 'counter', 'Failed connection attempts and dropped connections since start.'),
      'fluxion_edge_sender_reconnects_total 5',
      ...help('fluxion_edge_sender_batches_sent_total', 'counter', 'Batches acknowledged by FluxionDB since start.'),
      'fluxion_edge_sender_batches_sent_total 4',
      ...help('fluxion_edge_sender_in_flight_batches', 'gauge', 'Batches sent and not yet acknowledged.'),
      'fluxion_edge_sender_in_flight_batches 1',
      ...help('fluxion_edge_sender_dead_lettered_total', 'counter', 'Records the server refused, filed as dead letters since start.'),
      'fluxion_edge_sender_dead_lettered_total 1',
      ...help('fluxion_edge_sender_last_ack_timestamp_seconds', 'gauge', 'When the last batch was acknowledged (0: never since start).'),
      'fluxion_edge_sender_last_ack_timestamp_seconds 1760000000.5',
      ...help('fluxion_edge_batch_rtt_seconds', 'histogram', 'Round-trip time of a batch: sent to acknowledged.'),
      'fluxion_edge_batch_rtt_seconds_bucket{le="0.005"} 1',
      'fluxion_edge_batch_rtt_seconds_bucket{le="0.01"} 1',
      'fluxion_edge_batch_rtt_seconds_bucket{le="0.025"} 1',
      'fluxion_edge_batch_rtt_seconds_bucket{le="0.05"} 3',
      'fluxion_edge_batch_rtt_seconds_bucket{le="0.1"} 3',
      'fluxion_edge_batch_rtt_seconds_bucket{le="0.25"} 3',
      'fluxion_edge_batch_rtt_seconds_bucket{le="0.5"} 3',
      'fluxion_edge_batch_rtt_seconds_bucket{le="1"} 3',
      'fluxion_edge_batch_rtt_seconds_bucket{le="2.5"} 3',
      'fluxion_edge_batch_rtt_seconds_bucket{le="5"} 3',
      'fluxion_edge_batch_rtt_seconds_bucket{le="10"} 3',
      'fluxion_edge_batch_rtt_seconds_bucket{le="+Inf"} 4',
      'fluxion_edge_batch_rtt_seconds_sum 12.083',
      'fluxion_edge_batch_rtt_seconds_count 4',
      ...help('fluxion_edge_input_state', 'gauge', 'Input state (MQTT, serial ports): 1 for the current one.'),
      `fluxion_edge_input_state{${input},state="starting"} 0`,
      `fluxion_edge_input_state{${input},state="connected"} 0`,
      `fluxion_edge_input_state{${input},state="disconnected"} 0`,
      `fluxion_edge_input_state{${input},state="waiting"} 1`,
      `fluxion_edge_input_state{${input},state="stopped"} 0`,
      ...help('fluxion_edge_input_received_total', 'counter', 'Messages or lines an input received since start.'),
      `fluxion_edge_input_received_total{${input}} 3`,
      ...help('fluxion_edge_input_committed_total', 'counter', 'Messages an input had committed to the queue since start.'),
      `fluxion_edge_input_committed_total{${input}} 2`,
      '',
    ]);
  });

  it('adds the mapping counters when rules are loaded, rejections by reason in name order', () => {
    const status = agentStatus({
      mapping: {
        messages: 101, records: 100, metadata: 0, filtered: 4, collisions: 2, duplicates: 3, badTimestamps: 5, clockUnsynced: 6, tagClashes: 0, metadataSkipped: 0,
        rejected: { no_rule: 1, too_large: 0, parse_error: 7, missing_field: 0, bad_type: 0, bad_timestamp: 0, invalid_record: 0, unresolved: 0 },
      },
    });
    const text = renderMetrics(status, new RttHistogram());
    expect(text.slice(text.indexOf('# HELP fluxion_edge_mapping_rejected_total')).split('\n')).toEqual([
      ...help('fluxion_edge_mapping_rejected_total', 'counter', 'Messages a mapping rule rejected, by reason, since start.'),
      'fluxion_edge_mapping_rejected_total{reason="bad_timestamp"} 0',
      'fluxion_edge_mapping_rejected_total{reason="bad_type"} 0',
      'fluxion_edge_mapping_rejected_total{reason="invalid_record"} 0',
      'fluxion_edge_mapping_rejected_total{reason="missing_field"} 0',
      'fluxion_edge_mapping_rejected_total{reason="no_rule"} 1',
      'fluxion_edge_mapping_rejected_total{reason="parse_error"} 7',
      'fluxion_edge_mapping_rejected_total{reason="too_large"} 0',
      'fluxion_edge_mapping_rejected_total{reason="unresolved"} 0',
      ...help('fluxion_edge_mapping_filtered_total', 'counter', 'Messages skipped by design (NMEA sentences not wanted or without a fix) since start.'),
      'fluxion_edge_mapping_filtered_total 4',
      ...help('fluxion_edge_mapping_collisions_total', 'counter', 'Readings whose timestamp equalled the previous one of their document since start.'),
      'fluxion_edge_mapping_collisions_total 2',
      ...help('fluxion_edge_mapping_duplicates_total', 'counter', 'Readings seen again with the same identity and data (redeliveries), written again unchanged, since start.'),
      'fluxion_edge_mapping_duplicates_total 3',
      ...help('fluxion_edge_mapping_bad_timestamps_total', 'counter', 'Payload timestamps before mapping.timestamp_floor since start.'),
      'fluxion_edge_mapping_bad_timestamps_total 5',
      ...help('fluxion_edge_mapping_clock_unsynced_total', 'counter', 'Records stamped while the gateway clock was before the floor since start.'),
      'fluxion_edge_mapping_clock_unsynced_total 6',
      '',
    ]);
    // Without drops the metric keeps its HELP and TYPE lines and has no samples; an empty histogram is all zeros.
    expect(text).toContain('# TYPE fluxion_edge_readings_dropped_total counter\n# HELP fluxion_edge_readings_dead_lettered_total');
    expect(text).toContain('fluxion_edge_batch_rtt_seconds_bucket{le="+Inf"} 0\nfluxion_edge_batch_rtt_seconds_sum 0\nfluxion_edge_batch_rtt_seconds_count 0\n');
  });
});
