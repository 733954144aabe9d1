import { describe, expect, it } from 'vitest';
import { sparkplugLines } from '../../../src/cli/sparkplug-status.js';
import { RttHistogram } from '../../../src/sender/rtt-histogram.js';
import { renderMetrics } from '../../../src/service/metrics.js';
import type { SparkplugStatus } from '../../../src/sparkplug/types.js';
import { agentStatus } from '../service/status-fixture.js';

const SP: SparkplugStatus = {
  state: { hostId: 'scada-1', online: true, publishedAt: 1 },
  resolved: 3,
  nodes: {
    'plant/e1': {
      group: 'plant', node: 'e1', online: true, births: 2, deaths: 1, staleDeaths: 1, dataMessages: 40, metrics: 800, historical: 5,
      unresolved: 3, seqGaps: 1, rebirthRequests: 2, lastBirthAt: 1, lastMessageAt: 2,
    },
  },
};

describe('Sparkplug counters per edge node', () => {
  it('are exposed as metrics labelled by group and node', () => {
    const text = renderMetrics({ ...agentStatus(), sparkplug: SP }, new RttHistogram());
    for (const line of [
      'fluxion_edge_sparkplug_node_online{group="plant",node="e1"} 1',
      'fluxion_edge_sparkplug_births_total{group="plant",node="e1"} 2',
      'fluxion_edge_sparkplug_stale_deaths_total{group="plant",node="e1"} 1',
      'fluxion_edge_sparkplug_metrics_total{group="plant",node="e1"} 800',
      'fluxion_edge_sparkplug_historical_metrics_total{group="plant",node="e1"} 5',
      'fluxion_edge_sparkplug_unresolved_total{group="plant",node="e1"} 3',
      'fluxion_edge_sparkplug_seq_gaps_total{group="plant",node="e1"} 1',
      'fluxion_edge_sparkplug_rebirth_requests_total{group="plant",node="e1"} 2',
      'fluxion_edge_sparkplug_held_resolved_total 3',
      'fluxion_edge_sparkplug_state_online 1',
    ]) expect(text.split('\n')).toContain(line);
    expect(renderMetrics(agentStatus(), new RttHistogram())).not.toContain('sparkplug');
  });

  it('are listed by fluxion-edge status', () => {
    expect(sparkplugLines(SP)).toEqual([
      'sparkplug: primary host scada-1: STATE online, 3 held messages resolved',
      '  plant/e1  online, 2 births, 40 data messages, 800 metrics (5 historical), 1 deaths (1 stale), 3 unresolved, 1 seq gaps, 2 rebirths requested',
    ]);
  });
});
