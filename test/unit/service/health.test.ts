import { describe, expect, it } from 'vitest';
import { assessHealth, assessLiveness, type HealthOptions } from '../../../src/service/health.js';
import { agentStatus } from './status-fixture.js';

const T0 = 1_760_000_000_000;
const opts: HealthOptions = { staleAfterMs: 60_000, startedAt: T0, queueMaxBytes: 1000, queueMaxRows: 50 };

describe('assessHealth', () => {
  it('an idle agent with nothing queued is healthy, whatever the age of its last ack', () => {
    expect(assessHealth(agentStatus({ sender: { lastAckAt: T0 - 3_600_000 } }), T0 + 3_600_000, opts)).toEqual({ healthy: true, reasons: [] });
  });

  it('a backlog is healthy while the last ack is at most stale_after old', () => {
    const s = agentStatus({ queue: { depth: 10, bytes: 100 }, sender: { lastAckAt: T0 + 1000 } });
    expect(assessHealth(s, T0 + 61_000, opts)).toEqual({ healthy: true, reasons: [] });
    expect(assessHealth(s, T0 + 61_001, opts)).toEqual({
      healthy: false,
      reasons: ['10 readings queued, last batch acknowledged 60s ago (limit 60s)'],
    });
  });

  it('a backlog with no ack since start is counted from the start (the grace period)', () => {
    const s = agentStatus({ queue: { depth: 3, bytes: 30 }, sender: { state: 'backoff', lastAckAt: null } });
    expect(assessHealth(s, T0 + 60_000, opts).healthy).toBe(true);
    expect(assessHealth(s, T0 + 90_000, opts)).toEqual({
      healthy: false,
      reasons: ['3 readings queued, none acknowledged in the 90s since start (limit 60s)'],
    });
  });

  it('an input that is not connected, and a refused API key, are each a reason', () => {
    const s = agentStatus({
      sender: { state: 'auth_failed' },
      inputs: [
        { name: 'mqtt', state: 'disconnected', received: 5, committed: 5, lastMessageAt: T0, lastError: { message: 'Not authorized', at: T0 } },
        { name: 'serial:ttyUSB0', state: 'connected', received: 1, committed: 1, lastMessageAt: T0, lastError: null },
        { name: 'serial:ttyUSB1', state: 'waiting', received: 0, committed: 0, lastMessageAt: null, lastError: null },
      ],
    });
    expect(assessHealth(s, T0, opts)).toEqual({
      healthy: false,
      reasons: ['input mqtt is disconnected', 'input serial:ttyUSB1 is waiting', 'FluxionDB refused the API key or its scope'],
    });
  });

  it('a full queue (bytes or rows at the cap) is a reason; caps not given are not checked', () => {
    const now = T0 + 1000;
    const byBytes = agentStatus({ queue: { depth: 20, bytes: 1000 }, sender: { lastAckAt: T0 } });
    expect(assessHealth(byBytes, now, opts).reasons).toEqual(['the queue is full: 1000 bytes unsent (max_bytes 1000)']);
    const byRows = agentStatus({ queue: { depth: 50, bytes: 500 }, sender: { lastAckAt: T0 } });
    expect(assessHealth(byRows, now, opts).reasons).toEqual(['the queue is full: 50 readings unsent (max_rows 50)']);
    expect(assessHealth(byRows, now, { staleAfterMs: 60_000, startedAt: T0 })).toEqual({ healthy: true, reasons: [] });
  });

  it('a stopped sender is unhealthy; an agent without inputs is judged on the rest', () => {
    expect(assessHealth(agentStatus({ inputs: [], sender: { state: 'stopped' } }), T0, opts)).toEqual({
      healthy: false,
      reasons: ['the sender is stopped'],
    });
    expect(assessHealth(agentStatus({ inputs: [], sender: { state: 'idle' } }), T0, opts)).toEqual({ healthy: true, reasons: [] });
  });
});

describe('assessLiveness (the systemd watchdog)', () => {
  const opts = { staleAfterMs: 60_000, startedAt: 0 };

  it('stays alive through an outage: a restart cannot fix a server, a broker or a key', () => {
    for (const state of ['backoff', 'connecting', 'auth_failed'] as const) {
      const down = agentStatus({ sender: { state, lastAckAt: 0 }, queue: { depth: 5_000 } });
      expect(assessLiveness(down, 10 * 60_000, opts)).toEqual({ healthy: true, reasons: [] });
    }
  });

  it('stops when connected with a backlog and nothing acknowledged for too long: the pipeline is wedged', () => {
    const wedged = agentStatus({ sender: { state: 'connected', lastAckAt: 0 }, queue: { depth: 5_000 } });
    expect(assessLiveness(wedged, 10 * 60_000, opts)).toEqual({
      healthy: false,
      reasons: ['connected with 5000 readings queued, but nothing acknowledged for 600s'],
    });
    expect(assessLiveness(wedged, 30_000, opts).healthy).toBe(true);
  });
});
