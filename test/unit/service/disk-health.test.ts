import { describe, expect, it } from 'vitest';
import type { AgentStatus } from '../../../src/agent.js';
import type { DiskStatus } from '../../../src/queue/index.js';
import { assessHealth, assessLiveness, type HealthOptions } from '../../../src/service/health.js';
import { renderMetrics } from '../../../src/service/metrics.js';
import { agentStatus } from './status-fixture.js';

const T0 = 1_760_000_000_000;
const opts: HealthOptions = { staleAfterMs: 60_000, startedAt: T0 };
const rtt = { counts: [], count: 0, sumSeconds: 0 };

function withDisk(status: AgentStatus, over: Partial<DiskStatus> = {}): AgentStatus {
  const disk: DiskStatus = {
    freeBytes: 4096, totalBytes: 8 * 1024 * 1024, full: false, confined: false, reserveHeld: true, reserveBytes: 600_000,
    maxBytes: 4_000_000, pendingAcks: 0, fullEvents: 0, ...over,
  };
  return { ...status, disk };
}

describe('a full disk in health, the watchdog and metrics', () => {
  it('/healthz: 503 with the reason disk_full while the disk is full', () => {
    const s = withDisk(agentStatus(), { full: true, confined: true, reserveHeld: false, freeBytes: 0 });
    expect(assessHealth(s, T0, opts)).toEqual({
      healthy: false,
      reasons: ["disk_full: the queue's filesystem is full (0 bytes free); new readings are held back or dropped as on_full says until space is freed"],
    });
    expect(assessHealth(withDisk(agentStatus()), T0, opts)).toEqual({ healthy: true, reasons: [] });
  });

  it('with max_bytes auto the queue-full check uses the cap the queue chose', () => {
    const s = withDisk(agentStatus({ queue: { depth: 10, bytes: 4_000_000 }, sender: { lastAckAt: T0 } }));
    expect(assessHealth(s, T0, opts).reasons).toEqual(['the queue is full: 4000000 bytes unsent (max_bytes 4000000)']);
  });

  it('the watchdog never restarts the agent for a full disk (a restart cannot free it)', () => {
    // Connected, readings queued, nothing acknowledged for long: wedged, unless the disk is full.
    const wedged = agentStatus({ queue: { depth: 100, bytes: 1000 }, sender: { state: 'connected', lastAckAt: T0 } });
    expect(assessLiveness(withDisk(wedged), T0 + 120_000, opts).healthy).toBe(false);
    expect(assessLiveness(withDisk(wedged, { full: true }), T0 + 120_000, opts)).toEqual({ healthy: true, reasons: [] });
  });

  it('/metrics shows the free space, the state and the acks waiting in memory', () => {
    const text = renderMetrics(withDisk(agentStatus(), { full: true, reserveHeld: false, freeBytes: 123, pendingAcks: 7, fullEvents: 2 }), rtt);
    expect(text).toMatch(/^fluxion_edge_disk_free_bytes 123$/m);
    expect(text).toMatch(/^fluxion_edge_disk_full 1$/m);
    expect(text).toMatch(/^fluxion_edge_disk_reserve_held 0$/m);
    expect(text).toMatch(/^fluxion_edge_queue_pending_acks 7$/m);
    expect(text).toMatch(/^fluxion_edge_disk_full_events_total 2$/m);
    expect(text).toMatch(/^fluxion_edge_queue_max_bytes 4000000$/m);
    expect(renderMetrics(agentStatus(), rtt)).not.toMatch(/fluxion_edge_disk_full/);
  });
});
