/**
 * The report stage in the sink, on a real queue file: windows across a restart, a late
 * reading correcting a closed window, and report by exception with its counters.
 */
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { IngestReport } from '../../src/pipeline/ingest-report.js';
import { IngestSink } from '../../src/pipeline/ingest-sink.js';
import { compileRules, type MappingRuleSpec, type RawMessage } from '../../src/mapping/index.js';
import { ReportStage } from '../../src/mapping/report/index.js';
import type { SqliteQueue } from '../../src/queue/index.js';
import { queueFixture } from '../helpers/queue.js';

const M = 60_000;
const T0 = Date.UTC(2026, 5, 1, 10, 0, 0);
const logger = pino({ level: 'silent' });

function msg(dev: string, ts: number, t: unknown): RawMessage {
  return { source: 'mqtt', topic: `s/${dev}`, payload: JSON.stringify({ ts, t, site: 'north' }), receivedAt: ts };
}

function pipeline(q: SqliteQueue, rules: MappingRuleSpec[], clock: { now: number }) {
  const stage = ReportStage.build(rules, {})!;
  const report = new IngestReport(stage, q, logger, () => undefined, { now: () => clock.now, tickMs: 3_600_000 });
  report.start();
  const sink = new IngestSink(compileRules(rules), q, logger, () => undefined, undefined, report);
  return { sink, report };
}

function queued(q: SqliteQueue): Array<{ doc: string; ts: number; data: Record<string, unknown> }> {
  const lease = q.lease({ maxRecords: 10_000, maxBytes: 1e9 });
  if (lease === null) return [];
  const rows = lease.records.map((r) => ({ doc: r.doc, ts: r.ts, data: JSON.parse(r.data) as Record<string, unknown> }));
  q.release(lease);
  return rows;
}

describe('report stage on a real queue', () => {
  const f = queueFixture();
  const windowRule: MappingRuleSpec = {
    topic: 's/{dev}', collection: 'c', document: '{dev}', timestamp: { field: 'ts', unit: 'ms' }, fields: { t: 't', site: 'site' },
    aggregate: { window: M, fields: ['t'], functions: ['mean', 'min', 'max', 'count'], grace: 2000 },
  };

  it('a window open across a restart resumes with every reading and closes whole', () => {
    const clock = { now: T0 };
    const q1 = f.open();
    const a = pipeline(q1, [windowRule], clock);
    for (let i = 0; i < 30; i += 3) a.sink.commit([msg('d1', T0 + i * 1000, i), msg('d1', T0 + (i + 1) * 1000, i + 1), msg('d1', T0 + (i + 2) * 1000, i + 2)]);
    expect(queued(q1)).toEqual([]); // nothing written while the window is open
    // The agent dies here (no stop of the report stage: only what was committed counts).
    q1.stop();
    f.queues.length = 0;

    const q2 = f.open();
    const b = pipeline(q2, [windowRule], clock);
    for (let i = 30; i < 60; i++) b.sink.commit([msg('d1', T0 + i * 1000, i)]);
    clock.now = T0 + M + 1000;
    b.report.tick();
    expect(queued(q2)).toEqual([]); // within the grace
    clock.now = T0 + M + 2000;
    b.report.tick();
    expect(queued(q2)).toEqual([{ doc: 'd1', ts: T0, data: { site: 'north', t_mean: 29.5, t_min: 0, t_max: 59, t_count: 60 } }]);
    b.report.stop();
  });

  it('a window whose end passed while the agent was down closes at the first tick after the start', () => {
    const clock = { now: T0 };
    const q1 = f.open();
    const a = pipeline(q1, [windowRule], clock);
    a.sink.commit([msg('d1', T0 + 1000, 4), msg('d1', T0 + 2000, 6)]);
    q1.stop();
    f.queues.length = 0;
    clock.now = T0 + 10 * M;
    const q2 = f.open();
    const b = pipeline(q2, [windowRule], clock);
    b.report.tick();
    expect(queued(q2)).toEqual([{ doc: 'd1', ts: T0, data: { site: 'north', t_mean: 5, t_min: 4, t_max: 6, t_count: 2 } }]);
    b.report.tick();
    expect(queued(q2)).toHaveLength(1); // closed once: its saved state went with its record
  });

  it('a late reading corrects the last closed window (same ts, the server overwrites); an older one is counted and dropped', () => {
    const clock = { now: T0 };
    const q = f.open();
    const p = pipeline(q, [windowRule], clock);
    p.sink.commit([msg('d1', T0 + 1000, 10), msg('d1', T0 + M + 1000, 1)]);
    clock.now = T0 + 2 * M + 2000;
    p.report.tick();
    expect(queued(q).map((r) => [r.ts - T0, r.data.t_mean])).toEqual([[0, 10], [M, 1]]);
    p.sink.commit([msg('d1', T0 + M + 5000, 3)]); // late, in the last closed window
    p.sink.commit([msg('d1', T0 + 5000, 99)]); // late, in an older window
    expect(queued(q).map((r) => [r.ts - T0, r.data.t_mean, r.data.t_count])).toEqual([[0, 10, 1], [M, 1, 1], [M, 2, 2]]);
    expect(p.report.counters()[0]).toMatchObject({ readings: 4, late: 2, corrected: 1, lateDropped: 1, sent: 3 });
  });

  it('report by exception: only changes beyond the deadband and heartbeats reach the queue, the rest is counted', () => {
    const clock = { now: T0 };
    const q = f.open();
    const rule: MappingRuleSpec = {
      topic: 's/{dev}', collection: 'c', document: '{dev}', timestamp: { field: 'ts', unit: 'ms' },
      report: { deadband: { t: 0.5 }, max_interval: 10_000, fields: ['t'] },
    };
    const plain: MappingRuleSpec = { topic: 'raw/{dev}', collection: 'raw', document: '{dev}' };
    const p = pipeline(q, [rule, plain], clock);
    const values = [20, 20.1, 20.4, 20.6, 20.6, 20.6, 20.6, 20.6, 20.6, 20.6, 20.6, 20.6, 20.6, 20.6, 20.6];
    p.sink.commit(values.map((v, i) => msg('d1', T0 + i * 1000, v)));
    p.sink.commit([{ source: 'mqtt', topic: 'raw/d9', payload: '{"x":1}', receivedAt: T0 }]);
    // 0 s first, 3 s change (0.6 > 0.5), 13 s heartbeat (10 s after 3 s); the plain rule passes through.
    expect(queued(q).map((r) => [r.doc, r.ts - T0])).toEqual([['d1', 0], ['d1', 3000], ['d1', 13_000], ['d9', 0]]);
    expect(p.report.counters()).toEqual([
      expect.objectContaining({ rule: 0, source: 's/{dev}', mode: 'report', readings: 15, sent: 3, suppressed: 12, unchanged: 12, tracked: 1 }),
    ]);
    expect(p.sink.counters).toMatchObject({ received: 16, committed: 4 });
  });
});
