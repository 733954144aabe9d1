/** Missed polls of a serial port in plain `status` and in `/metrics`, not only in `status --json`. */
import { describe, expect, it } from 'vitest';
import { human } from '../../../src/cli/status-command.js';
import type { SerialInputStatus } from '../../../src/inputs/serial/index.js';
import { RttHistogram } from '../../../src/sender/rtt-histogram.js';
import { renderMetrics } from '../../../src/service/metrics.js';
import { agentStatus } from '../service/status-fixture.js';

const NOW = 1_760_000_000_000;
const meter: SerialInputStatus = {
  name: 'serial:meter', state: 'connected', received: 40, committed: 40, lastMessageAt: NOW - 2000, lastError: null,
  port: 'meter', path: '/dev/ttyUSB0', portState: 'open', linesRead: 40, linesRejected: 0, lastLineAt: NOW - 2000, reopens: 0,
  polls: { sent: 45, answered: 40, timeouts: 5, skipped: 2 },
};

describe('serial polls', () => {
  const status = agentStatus({ inputs: [{ name: 'mqtt', state: 'connected', received: 0, committed: 0, lastMessageAt: null, lastError: null }, meter] });

  it('are shown by plain status under their port', () => {
    const text = human(
      { agent: 'running', endpoint: 'http://127.0.0.1:9464/status', queue: null, notes: [],
        live: { gateway: 'gw', version: '0.1.0', pid: 1, startedAt: NOW - 60_000, now: NOW, health: { healthy: true, reasons: [] }, sendRate: 0, status } },
      NOW,
    );
    expect(text).toContain(
      '  serial:meter  connected    40 received, last message 2s ago\n' +
        '                polls: 45 sent, 40 answered, 5 timeouts, 2 skipped (missed polls: the device did not answer in poll.response_timeout)\n',
    );
    expect(text).not.toMatch(/mqtt .*\n\s+polls/);
  });

  it('are counters in /metrics, per polled port', () => {
    const text = renderMetrics(status, new RttHistogram());
    for (const [name, value] of [['sent', 45], ['answered', 40], ['timeouts', 5], ['skipped', 2]] as const) {
      expect(text).toContain(`# TYPE fluxion_edge_serial_polls_${name}_total counter\nfluxion_edge_serial_polls_${name}_total{input="serial:meter"} ${value}\n`);
    }
    expect(renderMetrics(agentStatus(), new RttHistogram())).not.toContain('polls');
  });
});
