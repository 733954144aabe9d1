/**
 * The group commit's sizes (flash wear, issue 17): a group closes when the broker's in-flight
 * window is full or after max_delay; with `auto` the window is learnt by holding one full
 * group open now and then. The broker is simulated: it has at most `window` messages
 * unacknowledged and sends the next one as soon as a slot frees.
 */
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { GroupCommit, INITIAL_WINDOW, PROBE_INTERVAL_MS, type GroupCommitOptions } from '../../../../src/inputs/mqtt/group-commit.js';
import type { RawMessage } from '../../../../src/inputs/types.js';

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

/** A broker with `window` slots and `backlog` messages to send, fast (no time between messages). */
function simulate(options: GroupCommitOptions, window: number, backlog: number, backlogged = false) {
  const groups: number[] = [];
  let inFlight = 0;
  let sent = 0;
  const commit: GroupCommit<number> = new GroupCommit<number>(options, {
    sink: {
      commit: (messages: readonly RawMessage[]) => void groups.push(messages.length),
      waitForRoom: () => Promise.resolve(),
      backlogged: () => backlogged,
    },
    logger: pino({ level: 'silent' }),
    release: (acks) => {
      inFlight -= acks.length;
      queueMicrotask(pump);
    },
    onCommitted: () => undefined,
    now: () => Date.now(),
  });
  function pump(): void {
    while (inFlight < window && sent < backlog) {
      inFlight++;
      const n = sent++;
      const group = commit.add({ source: 'mqtt', topic: 't', payload: Buffer.from('{}'), receivedAt: Date.now() } as RawMessage, true);
      commit.attachAck(group, n);
    }
  }
  pump();
  return {
    groups,
    commit,
    done: () => sent === backlog && inFlight === 0,
    more(n: number): void {
      backlog += n;
      pump();
    },
  };
}

async function runUntil(done: () => boolean): Promise<void> {
  for (let i = 0; i < 10_000 && !done(); i++) await vi.advanceTimersByTimeAsync(1);
}

describe('group commit sizes', () => {
  it('a fixed max_messages closes every group at that many messages', async () => {
    const s = simulate({ maxMessages: 20, maxDelayMs: 50 }, 20, 200);
    await runUntil(s.done);
    expect(s.groups).toEqual(Array(10).fill(20));
  });

  it('auto learns a window of 100 from one probe, then closes groups at 100 without waiting', async () => {
    const s = simulate({ maxMessages: 'auto', maxDelayMs: 50 }, 100, 1000);
    await runUntil(s.done);
    // The first group reaches the assumed 20, is held open and sees the broker send 100.
    expect(s.groups[0]).toBe(100);
    expect(s.commit.window).toBe(100);
    expect(s.groups.slice(1)).toEqual(Array(9).fill(100));
  });

  it('auto with the default window of 20 probes once, then closes groups at 20', async () => {
    const s = simulate({ maxMessages: 'auto', maxDelayMs: 50 }, INITIAL_WINDOW, 200);
    const t0 = Date.now();
    await runUntil(s.done);
    expect(s.commit.window).toBe(20);
    expect(s.groups).toEqual(Array(10).fill(20));
    // Only the probe waited for its timer; the other groups closed as soon as they were full.
    expect(Date.now() - t0).toBeLessThan(100);
  });

  it('a new connection starts from the initial window; the next probe comes PROBE_INTERVAL_MS after the last', async () => {
    const s = simulate({ maxMessages: 'auto', maxDelayMs: 50 }, 40, 40);
    await runUntil(s.done);
    expect(s.groups).toEqual([40]);
    s.commit.connectionChanged();
    expect(s.commit.window).toBe(INITIAL_WINDOW);
    s.more(40);
    await runUntil(s.done);
    // Too soon to probe: groups close at the initial window.
    expect(s.groups.slice(1)).toEqual([20, 20]);
    await vi.advanceTimersByTimeAsync(PROBE_INTERVAL_MS);
    s.more(80);
    await runUntil(s.done);
    expect(s.groups.slice(3)).toEqual([40, 40]);
    expect(s.commit.window).toBe(40);
  });

  it('light traffic: a group closes max_delay after its first message', async () => {
    const groups: number[] = [];
    const commit = new GroupCommit<number>({ maxMessages: 'auto', maxDelayMs: 50 }, {
      sink: { commit: (m: readonly RawMessage[]) => void groups.push(m.length), waitForRoom: () => Promise.resolve() },
      logger: pino({ level: 'silent' }),
      release: () => undefined,
      onCommitted: () => undefined,
      now: () => Date.now(),
    });
    // 100 readings/s: one every 10 ms.
    for (let i = 0; i < 10; i++) {
      commit.add({ source: 'mqtt', topic: 't', payload: Buffer.from('{}'), receivedAt: Date.now() } as RawMessage, true);
      await vi.advanceTimersByTimeAsync(10);
    }
    await vi.advanceTimersByTimeAsync(50);
    expect(groups).toEqual([5, 5]);
  });
});

describe('group commit while FluxionDB is unreachable (max_delay_offline)', () => {
  /** A group commit whose sink says `backlogged` as `state.backlogged`; records group sizes and commit times. */
  function offline(state: { backlogged: boolean }, options: Partial<GroupCommitOptions> = {}) {
    const groups: Array<{ n: number; at: number }> = [];
    // A window larger than any group here: only the timers close groups.
    const commit = new GroupCommit<number>({ maxMessages: 1000, maxDelayMs: 100, backlogDelayMs: 500, ...options }, {
      sink: {
        commit: (m: readonly RawMessage[]) => void groups.push({ n: m.length, at: Date.now() }),
        waitForRoom: () => Promise.resolve(),
        backlogged: () => state.backlogged,
      },
      logger: pino({ level: 'silent' }),
      release: () => undefined,
      onCommitted: () => undefined,
      now: () => Date.now(),
    });
    const msg = () => ({ source: 'mqtt', topic: 't', payload: Buffer.from('{}'), receivedAt: Date.now() }) as RawMessage;
    return { groups, commit, msg };
  }

  /** `n` messages, one every `everyMs`, QoS 1 unless `qos0(i)`. */
  async function stream(o: ReturnType<typeof offline>, n: number, everyMs: number, qos0: (i: number) => boolean = () => false) {
    for (let i = 0; i < n; i++) {
      o.commit.add(o.msg(), !qos0(i));
      await vi.advanceTimersByTimeAsync(everyMs);
    }
  }

  it('backlogged: a group of QoS 1 messages waits max_delay_offline instead of max_delay', async () => {
    const o = offline({ backlogged: true });
    const t0 = Date.now();
    // 100 readings/s for 1 s, then silence.
    await stream(o, 100, 10);
    await vi.advanceTimersByTimeAsync(600);
    expect(o.groups.map((g) => g.n)).toEqual([50, 50]);
    expect(o.groups[0]!.at - t0).toBe(500);
  });

  it('not backlogged (FluxionDB reachable): groups close at max_delay as before', async () => {
    const o = offline({ backlogged: false });
    await stream(o, 100, 10);
    await vi.advanceTimersByTimeAsync(600);
    expect(o.groups.map((g) => g.n)).toEqual(Array(10).fill(10));
  });

  it('max_delay_offline at or below max_delay never makes a group wait longer', async () => {
    const o = offline({ backlogged: true }, { backlogDelayMs: 50 });
    await stream(o, 100, 10);
    await vi.advanceTimersByTimeAsync(600);
    expect(o.groups.map((g) => g.n)).toEqual(Array(10).fill(10));
  });

  it('a group holding a QoS 0 message closes at max_delay: the broker does not keep it', async () => {
    const o = offline({ backlogged: true });
    // The 3rd message of every 50 is QoS 0: its group is not extended.
    const t0 = Date.now();
    await stream(o, 100, 10, (i) => i % 50 === 2);
    await vi.advanceTimersByTimeAsync(600);
    // 0-9 hold a QoS 0 message when max_delay runs out: closed then. 10-51 run past it, and
    // the QoS 0 message 52 closes them at once. 53-99 wait for max_delay_offline.
    expect(o.groups.map((g) => [g.n, g.at - t0])).toEqual([
      [10, 100],
      [43, 520],
      [47, 1030],
    ]);
  });

  it('a QoS 0 message reaching a group held past max_delay closes it at once', async () => {
    const o = offline({ backlogged: true });
    const t0 = Date.now();
    await stream(o, 20, 10);
    // 200 ms after the first message: past max_delay, the group is held for max_delay_offline.
    expect(o.groups).toEqual([]);
    o.commit.add(o.msg(), false);
    await vi.advanceTimersByTimeAsync(0);
    expect(o.groups).toEqual([{ n: 21, at: t0 + 200 }]);
  });

  it('the link coming back while a group is held past max_delay does not hold it longer than max_delay_offline', async () => {
    const state = { backlogged: true };
    const o = offline(state);
    await stream(o, 30, 10);
    state.backlogged = false;
    await stream(o, 30, 10);
    await vi.advanceTimersByTimeAsync(1000);
    // The first group was extended at 100 ms (backlogged then) and closes at 500 ms; what
    // follows closes at max_delay.
    expect(o.groups[0]!.n).toBe(50);
    expect(o.groups.slice(1).every((g) => g.n <= 10)).toBe(true);
    expect(o.groups.reduce((a, g) => a + g.n, 0)).toBe(60);
  });

  it('backlogged: a full window still closes a group at once', async () => {
    const s = simulate({ maxMessages: 20, maxDelayMs: 100, backlogDelayMs: 500 }, 20, 200);
    const t0 = Date.now();
    await runUntil(s.done);
    expect(s.groups).toEqual(Array(10).fill(20));
    expect(Date.now() - t0).toBeLessThan(100);
  });

  it('backlogged: a probe that finds the window full closes at max_delay (the broker sends no more)', async () => {
    const s = simulate({ maxMessages: 'auto', maxDelayMs: 100, backlogDelayMs: 500 }, 20, 200, true);
    const t0 = Date.now();
    await runUntil(s.done);
    expect(s.groups).toEqual(Array(10).fill(20));
    // Only the probe waited, and only for max_delay.
    expect(Date.now() - t0).toBeGreaterThanOrEqual(100);
    expect(Date.now() - t0).toBeLessThan(200);
  });

  it('backlogged: a probe that finds a larger window waits on and learns it', async () => {
    // A steady stream: one message every ms, a broker window of 1,000.
    const o = offline({ backlogged: true }, { maxMessages: 'auto' });
    await stream(o, 1500, 1);
    await vi.advanceTimersByTimeAsync(600);
    expect(o.groups.map((g) => g.n)).toEqual([500, 500, 500]);
    expect(o.commit.window).toBe(500);
  });
});
