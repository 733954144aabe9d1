import { describe, expect, it } from 'vitest';
import { human } from '../../../src/cli/status-command.js';
import { assessHealth, type HealthOptions } from '../../../src/service/health.js';
import { renderMetrics } from '../../../src/service/metrics.js';
import { RttHistogram } from '../../../src/sender/rtt-histogram.js';
import { agentStatus } from './status-fixture.js';

const T0 = 1_760_000_000_000;
const opts: HealthOptions = { staleAfterMs: 60_000, startedAt: T0, queueMaxBytes: 1000 };

describe('a compacted queue in health and metrics: max_bytes counts bytes on disk', () => {
  it('is full at max_bytes on disk, not at max_bytes of logical size', () => {
    const compacted = agentStatus({ queue: { depth: 100, bytes: 7000, storedBytes: 900 }, sender: { lastAckAt: T0 } });
    expect(assessHealth(compacted, T0, opts)).toEqual({ healthy: true, reasons: [] });
    const full = agentStatus({ queue: { depth: 110, bytes: 7700, storedBytes: 1000 }, sender: { lastAckAt: T0 } });
    expect(assessHealth(full, T0, opts).reasons).toEqual(['the queue is full: 1000 bytes unsent (max_bytes 1000)']);
  });

  it('/metrics shows both the logical and the on-disk bytes', () => {
    const text = renderMetrics(agentStatus({ queue: { bytes: 7000, storedBytes: 900, retainedBytes: 500, retainedStoredBytes: 60 } }), new RttHistogram());
    const lines = text.split('\n');
    expect(lines).toContain('fluxion_edge_queue_bytes 7000');
    expect(lines).toContain('fluxion_edge_queue_stored_bytes 900');
    expect(lines).toContain('fluxion_edge_queue_retained_bytes 500');
    expect(lines).toContain('fluxion_edge_queue_retained_stored_bytes 60');
  });

  it('`status` shows the bytes on disk beside the logical ones when they differ', () => {
    const stats = (over: object) => ({ ...agentStatus({ queue: over }).queue });
    const text = (over: object) => human({ agent: 'unknown', endpoint: null, live: null, queue: { path: '/q.db', stats: stats(over), disk: null }, notes: [] }, T0);
    expect(text({ depth: 5000, bytes: 348_160, storedBytes: 61_440, retainedRows: 10, retainedBytes: 700, retainedStoredBytes: 700 }).split('\n')).toEqual(
      expect.arrayContaining(['  unsent        5000 (340.0 KiB, 60.0 KiB on disk)', '  sent, kept    10 (700 B)']),
    );
  });
});
