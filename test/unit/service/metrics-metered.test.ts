import { describe, expect, it } from 'vitest';
import { renderMetrics } from '../../../src/service/metrics.js';
import { agentStatus } from './status-fixture.js';

const NO_RTT = { counts: [], count: 0, sumSeconds: 0 };

describe('/metrics for metered links', () => {
  it('exposes bytes on the wire and the report counters per rule', () => {
    const status = {
      ...agentStatus({
        sender: { wire: { bytesSent: 5000, bytesLastHour: 1200, bytesLastDay: 5000, bytesPerReading: 12.5, maxBytesPerSecond: 2048 } },
      }),
      report: [{
        rule: 0, source: 'tanks/{tank}/level', mode: 'report' as const, readings: 100, sent: 7, suppressed: 93, unchanged: 90, minInterval: 3,
        late: 1, corrected: 0, lateDropped: 0, nonNumeric: 0, evicted: 0, tracked: 4,
      }],
    };
    const text = renderMetrics(status, NO_RTT);
    expect(text).toContain('fluxion_edge_wire_bytes_sent_total 5000\n');
    expect(text).toContain('fluxion_edge_wire_bytes_last_hour 1200\n');
    expect(text).toContain('fluxion_edge_wire_bytes_last_day 5000\n');
    expect(text).toContain('fluxion_edge_wire_bytes_per_reading 12.5\n');
    expect(text).toContain('fluxion_edge_wire_max_bytes_per_second 2048\n');
    expect(text).toContain('fluxion_edge_report_readings_total{rule="0",source="tanks/{tank}/level",mode="report"} 100\n');
    expect(text).toContain('fluxion_edge_report_suppressed_total{rule="0",source="tanks/{tank}/level",mode="report"} 93\n');
    expect(text).toContain('fluxion_edge_report_records_sent_total{rule="0",source="tanks/{tank}/level",mode="report"} 7\n');
  });

  it('leaves them out for an agent without them', () => {
    const text = renderMetrics(agentStatus(), NO_RTT);
    expect(text).not.toContain('fluxion_edge_wire_');
    expect(text).not.toContain('fluxion_edge_report_');
  });
});
