import { describe, expect, it } from 'vitest';
import { ReportStage, type SavedWindow } from '../../../../src/mapping/report/index.js';

const T0 = Date.UTC(2026, 0, 1, 0, 0, 0);
const rec = (col: string, doc: string, ts: number, data: object) => ({ col, doc, ts, data: JSON.stringify(data) });

describe('ReportStage', () => {
  it('is null without report or aggregate; rules without them pass through untouched', () => {
    expect(ReportStage.build([{ topic: 'a' }], {})).toBeNull();
    const stage = ReportStage.build([{ topic: 'a' }, { topic: 'b', report: {} }], {})!;
    const out = stage.admit([rec('c', 'd', T0, { v: 1 }), rec('c', 'd', T0 + 1, { v: 1 }), rec('c', 'e', T0, { v: 1 }), rec('c', 'e', T0 + 1, { v: 1 })], [0, 0, 1, 1]);
    expect(out.records.map((r) => [r.doc, r.ts - T0])).toEqual([['d', 0], ['d', 1], ['e', 0]]);
    expect(stage.counters()).toEqual([expect.objectContaining({ rule: 1, source: 'b', readings: 2, sent: 1, suppressed: 1 })]);
  });

  it('reads times in the collection\'s output unit and writes window starts in it', () => {
    const stage = ReportStage.build([{ topic: 'x', aggregate: { window: 60_000, fields: ['v'], functions: ['count'] } }], {
      ts_unit_out: 'ms',
      collections: { secs: { ts_unit_out: 's' } },
    })!;
    const s0 = T0 / 1000;
    const r = stage.admit([rec('secs', 'd', s0 + 5, { v: 1 }), rec('secs', 'd', s0 + 65, { v: 2 })], [0, 0]);
    expect(r.touched.map((w) => w.acc.start - T0)).toEqual([0, 60_000]);
    const closed = stage.close(T0 + 10 * 60_000);
    expect(closed.records.map((x) => [x.ts - s0, x.data])).toEqual([[0, '{"v_count":1}'], [60, '{"v_count":1}']]);
  });

  it('a saved window its rule no longer aggregates (config changed) is closed at once with what it holds', () => {
    const stage = ReportStage.build([{ topic: 'x', aggregate: { window: 300_000, fields: ['v'] } }], {})!;
    const saved: SavedWindow = {
      rule: 0,
      key: '0\u0000c\u0000d',
      acc: {
        col: 'c', doc: 'd', start: T0, length: 60_000, readings: 2, nonNumeric: 0, other: { site: 's' }, otherAt: T0 + 2,
        fields: { v: { n: 2, sum: 6, min: 2, max: 4, first: 2, last: 4, firstAt: T0 + 1, lastAt: T0 + 2 } },
      },
    };
    stage.restore([saved]);
    const out = stage.close(T0); // not due by time: closed because its rule changed
    expect(out.records).toEqual([{ col: 'c', doc: 'd', ts: T0, data: '{"site":"s","v_mean":3,"v_min":2,"v_max":4,"v_last":4,"v_count":2}' }]);
    expect(out.closed).toEqual([saved]);
  });

  it('decide() tells why a reading is sent or not', () => {
    const stage = ReportStage.build([{ topic: 'x', report: { deadband: { v: 1 } } }], {})!;
    expect(stage.decide(rec('c', 'd', T0, { v: 1 }), 0).decision).toBe('first');
    expect(stage.decide(rec('c', 'd', T0 + 1000, { v: 1.5 }), 0)).toEqual({ decision: 'unchanged', record: null });
  });
});
