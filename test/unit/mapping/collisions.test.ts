import { describe, expect, it } from 'vitest';
import { CollisionGuard, compileRules, type MappingOptions, type MappingRuleSpec } from '../../../src/mapping/index.js';
import { mqtt } from './helpers.js';

/** Issue 11 §1: a redelivered reading is the same record; substituted timestamps are the ones that move. */
const rule: MappingRuleSpec = { topic: 'sensors/{device}/telemetry', collection: 'telemetry', document: '{device}', timestamp: { field: 'ts' }, fields: { v: 'v' } };
const T = 1_700_000_000_000;

function setup(options: MappingOptions = {}) {
  const set = compileRules([rule], options);
  /** The records one message makes, as `ts:v`. */
  const send = (ts: unknown, v: number, { device = 'd1', receivedAt = T + 500 } = {}): string[] => {
    const r = set.map(mqtt(`sensors/${device}/telemetry`, JSON.stringify({ ts, v }), receivedAt));
    if (!r.ok) throw new Error(r.reason);
    return r.records.map((x) => `${x.ts}:${JSON.parse(x.data).v}`);
  };
  return { set, send };
}

describe('the same reading again (redelivery, republish)', () => {
  it('is written again at the ts it was given, counted as a duplicate, never bumped', () => {
    const { set, send } = setup();
    expect(send(T, 1)).toEqual([`${T}:1`]);
    expect(send(T, 1)).toEqual([`${T}:1`]);
    expect(send(T, 1)).toEqual([`${T}:1`]);
    expect(set.counters).toMatchObject({ duplicates: 2, collisions: 0 });
  });

  it('a bumped reading redelivered after newer ones comes back at its bumped ts, not over the first', () => {
    const { set, send } = setup();
    expect([send(T, 1), send(T, 2), send(T, 3)].flat()).toEqual([`${T}:1`, `${T + 1}:2`, `${T + 2}:3`]);
    expect(send(T + 10, 4)).toEqual([`${T + 10}:4`]);
    // The broker redelivers its in-flight window, oldest first.
    expect([send(T, 2), send(T, 3), send(T + 10, 4)].flat()).toEqual([`${T + 1}:2`, `${T + 2}:3`, `${T + 10}:4`]);
    expect(set.counters).toMatchObject({ duplicates: 3, collisions: 2 });
  });

  it('different data at the same identity is still a collision, under keep too', () => {
    const bump = setup();
    expect([bump.send(T, 1), bump.send(T, 2)].flat()).toEqual([`${T}:1`, `${T + 1}:2`]);
    const keep = setup({ on_collision: 'keep' });
    expect([keep.send(T, 1), keep.send(T, 1), keep.send(T, 2)].flat()).toEqual([`${T}:1`, `${T}:1`, `${T}:2`]);
    expect(keep.set.counters).toMatchObject({ duplicates: 1, collisions: 1 });
  });

  it('is recognised after a restart from the stored rows, a bumped row by its data in the run below it', () => {
    const before = setup();
    const stored = [before.send(T, 1), before.send(T, 2), before.send(T, 3), before.send(T + 7, 9, { device: 'd2' })].flat();
    expect(stored).toEqual([`${T}:1`, `${T + 1}:2`, `${T + 2}:3`, `${T + 7}:9`]);
    const rows = [
      { col: 'telemetry', doc: 'd1', ts: T, data: '{"v":1}' },
      { col: 'telemetry', doc: 'd1', ts: T + 1, data: '{"v":2}' },
      { col: 'telemetry', doc: 'd1', ts: T + 2, data: '{"v":3}' },
      { col: 'telemetry', doc: 'd2', ts: T + 7, data: '{"v":9}' },
    ];
    const after = setup();
    after.set.remember(rows);
    expect([after.send(T, 2), after.send(T, 3), after.send(T, 1), after.send(T + 7, 9, { device: 'd2' })].flat()).toEqual([
      `${T + 1}:2`, `${T + 2}:3`, `${T}:1`, `${T + 7}:9`,
    ]);
    expect(after.set.counters).toMatchObject({ duplicates: 4, collisions: 0 });
    // A new reading at a remembered ts, with other data, goes above the remembered run.
    expect(after.send(T + 1, 5)).toEqual([`${T + 3}:5`]);
  });

  it('remembers only what a redelivery needs: bumped readings stay known, plain older ones keep their own ts anyway', () => {
    const { set, send } = setup();
    expect([send(T, 1), send(T, 2)].flat()).toEqual([`${T}:1`, `${T + 1}:2`]);
    for (let i = 1; i <= 30; i++) send(T + 10 * i, 100 + i);
    // Thirty newer readings later, both the bumped one and a plain one come back where they were.
    expect([send(T, 2), send(T + 50, 105), send(T, 1)].flat()).toEqual([`${T + 1}:2`, `${T + 50}:105`, `${T}:1`]);
    expect(set.counters.collisions).toBe(1);
  });
});

describe('substituted timestamps move, device timestamps stay', () => {
  it('garbage "ts": -5 stamped with the exact millisecond of a good reading: the good one keeps it, the garbage moves', () => {
    const { set, send } = setup();
    // Received at T: the garbage takes T first.
    expect(send(-5, 666, { receivedAt: T })).toEqual([`${T}:666`]);
    // The good reading with its own ts T takes T back; the garbage is written again at T+1.
    expect(send(T, 1, { receivedAt: T + 3 })).toEqual([`${T}:1`, `${T + 1}:666`]);
    expect(set.counters).toMatchObject({ collisions: 1, duplicates: 0, badTimestamps: 1 });
    // Redeliveries of either change nothing.
    expect(send(T, 1, { receivedAt: T + 9 })).toEqual([`${T}:1`]);
    expect(send(-5, 666, { receivedAt: T })).toEqual([`${T + 1}:666`]);
    // A later good reading at T+1 takes that slot back as well.
    expect(send(T + 1, 2, { receivedAt: T + 9 })).toEqual([`${T + 1}:2`, `${T + 2}:666`]);
  });

  it('a substituted reading arriving second is the one bumped', () => {
    const { send } = setup();
    expect(send(T, 1, { receivedAt: T })).toEqual([`${T}:1`]);
    expect(send(-5, 666, { receivedAt: T })).toEqual([`${T + 1}:666`]);
  });

  it('under keep nothing moves: the device reading overwrites', () => {
    const { send } = setup({ on_collision: 'keep' });
    expect(send(-5, 666, { receivedAt: T })).toEqual([`${T}:666`]);
    expect(send(T, 1, { receivedAt: T })).toEqual([`${T}:1`]);
  });
});

describe('after a restart, a dense stream (one reading per ms) redelivered', () => {
  it('finds every redelivered reading of the restored run: same ts, no collision, no cascade of bumps', () => {
    const guard = new CollisionGuard(1000, true);
    const rows = Array.from({ length: 100 }, (_, i) => ({ col: 'c', doc: 'd', ts: 1000 + i, data: `{"v":${i}}` }));
    guard.remember(rows);
    // The broker redelivers the last 40 readings it had not seen acknowledged.
    for (let i = 60; i < 100; i++) expect(guard.admit('c', 'd', 1000 + i, `{"v":${i}}`, false)).toBe(1000 + i);
    expect(guard.collisions).toBe(0);
    // A genuinely new reading in the restored run's last millisecond still collides and moves.
    expect(guard.admit('c', 'd', 1099, '{"v":"other"}', false)).toBe(1100);
    expect(guard.collisions).toBe(1);
  });
});
