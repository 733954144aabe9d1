import { describe, expect, it } from 'vitest';
import { compileAggregate } from '../../../../src/mapping/report/spec.js';
import { WindowAggregator, type WindowAcc } from '../../../../src/mapping/report/window-aggregator.js';

const M = 60_000;
const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);

function agg(): WindowAggregator {
  return new WindowAggregator(compileAggregate({ window: M, fields: ['t'], functions: ['mean', 'min', 'max', 'first', 'last', 'count'], grace: 2000 }));
}

describe('WindowAggregator', () => {
  it('one record per window aligned to the clock, closed on time, with known statistics', () => {
    const a = agg();
    // A ramp 0..119 at 1 Hz starting 30 s into a minute: windows [12:00, 12:01) and [12:01, 12:02) and [12:02, ...).
    for (let i = 0; i < 120; i++) a.add('k', 'c', 'd', T0 + 30_000 + i * 1000, { t: i, site: 's1' });
    expect(a.close(T0 + M + 1999)).toEqual([]); // grace not over
    const first = a.close(T0 + M + 2000);
    expect(first).toHaveLength(1);
    expect(first[0]!.acc.start).toBe(T0);
    expect(a.render(first[0]!.acc)).toEqual({ site: 's1', t_mean: 14.5, t_min: 0, t_max: 29, t_first: 0, t_last: 29, t_count: 30 });
    const rest = a.close(T0 + 3 * M + 2000);
    expect(rest.map((w) => [w.acc.start - T0, a.render(w.acc).t_mean, a.render(w.acc).t_count])).toEqual([
      [M, 59.5, 60],
      [2 * M, 104.5, 30],
    ]);
  });

  it('a window closes on time even when no later reading arrives', () => {
    const a = agg();
    a.add('k', 'c', 'd', T0 + 5000, { t: 1 });
    expect(a.close(T0 + M + 2000).map((w) => w.acc.start)).toEqual([T0]);
  });

  it('a late reading of the last closed window corrects it; an older one is dropped and counted', () => {
    const a = agg();
    a.add('k', 'c', 'd', T0 + 1000, { t: 10 });
    a.add('k', 'c', 'd', T0 + M + 1000, { t: 30 });
    expect(a.close(T0 + M + 2000)).toHaveLength(1); // [T0] closed
    a.close(T0 + 2 * M + 2000); // [T0+M] closed: now the last closed one
    const late = a.add('k', 'c', 'd', T0 + M + 30_000, { t: 50 });
    expect(late.kind).toBe('corrected');
    expect(a.render((late as { acc: WindowAcc }).acc)).toMatchObject({ t_mean: 40, t_count: 2, t_last: 50, t_first: 30 });
    expect(a.add('k', 'c', 'd', T0 + 10_000, { t: 0 })).toEqual({ kind: 'late' });
    expect(a.lateDropped).toBe(1);
    expect(a.corrected).toBe(1);
  });

  it('a window saved mid-way and restored after a restart ends whole (same answer as without the restart)', () => {
    const whole = agg();
    const before = agg();
    for (let i = 0; i < 30; i++) {
      whole.add('k', 'c', 'd', T0 + i * 1000, { t: i });
      before.add('k', 'c', 'd', T0 + i * 1000, { t: i });
    }
    const saved = JSON.stringify(before.openWindows());
    const after = agg(); // the restarted process
    for (const w of JSON.parse(saved) as Array<{ key: string; acc: WindowAcc }>) after.restore(w.key, w.acc);
    for (let i = 30; i < 60; i++) {
      whole.add('k', 'c', 'd', T0 + i * 1000, { t: i });
      after.add('k', 'c', 'd', T0 + i * 1000, { t: i });
    }
    const a = after.close(T0 + M + 2000);
    const w = whole.close(T0 + M + 2000);
    expect(a.map((x) => after.render(x.acc))).toEqual(w.map((x) => whole.render(x.acc)));
    expect(after.render(a[0]!.acc)).toMatchObject({ t_count: 60, t_mean: 29.5, t_min: 0, t_max: 59 });
  });

  it('non-numeric values of an aggregated field are left out; other fields come from the last reading', () => {
    const a = agg();
    a.add('k', 'c', 'd', T0, { t: 1, unit: 'C' });
    a.add('k', 'c', 'd', T0 + 1000, { t: 'n/a', unit: 'C' });
    a.add('k', 'c', 'd', T0 + 2000, { t: 3, unit: 'K' });
    const [w] = a.close(T0 + M + 2000);
    expect(a.render(w!.acc)).toEqual({ unit: 'K', t_mean: 2, t_min: 1, t_max: 3, t_first: 1, t_last: 3, t_count: 2 });
    expect(w!.acc.nonNumeric).toBe(1);
  });

  it('the document bound closes the oldest document\'s windows early instead of losing them', () => {
    const a = new WindowAggregator(compileAggregate({ window: M, fields: ['t'] }), 1);
    a.add('k1', 'c', 'd1', T0, { t: 1 });
    a.add('k2', 'c', 'd2', T0, { t: 2 });
    expect(a.evicted).toBe(1);
    expect(a.close(T0).map((w) => w.key)).toEqual(['k1']);
  });
});
