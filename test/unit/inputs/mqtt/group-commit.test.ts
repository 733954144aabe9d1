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
function simulate(options: GroupCommitOptions, window: number, backlog: number) {
  const groups: number[] = [];
  let inFlight = 0;
  let sent = 0;
  const commit: GroupCommit<number> = new GroupCommit<number>(options, {
    sink: {
      commit: (messages: readonly RawMessage[]) => void groups.push(messages.length),
      waitForRoom: () => Promise.resolve(),
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
