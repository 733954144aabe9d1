import { describe, expect, it } from 'vitest';
import { Progress, groupDigits } from '../../../src/cli/progress.js';

function setup(isTTY: boolean, total: number) {
  let t = 1_000_000;
  const chunks: string[] = [];
  const progress = new Progress({
    label: 'replay',
    unit: 'records',
    total,
    isTTY,
    stream: { write: (s: string) => chunks.push(s) },
    now: () => t,
  });
  return {
    progress,
    chunks,
    advance: (ms: number) => {
      t += ms;
    },
  };
}

describe('Progress on a terminal', () => {
  it('redraws one line with \\r, bar, counts and rate, at most 10 times a second', () => {
    const { progress, chunks, advance } = setup(true, 30_000);
    advance(1000);
    progress.update(4_000);
    advance(50);
    progress.update(4_500); // 50 ms after the last redraw: skipped
    advance(50);
    progress.update(5_000);
    advance(1900);
    progress.update(12_000);
    expect(chunks).toEqual([
      '\r[##..................] 4,000/30,000 records 4,000/s',
      '\r[###.................] 5,000/30,000 records 4,545/s',
      '\r[########............] 12,000/30,000 records 4,000/s',
    ]);
  });

  it('pads over a longer previous line, and finish() draws the final state and ends the line', () => {
    const { progress, chunks, advance } = setup(true, 2_000);
    advance(1000);
    progress.update(1_500);
    advance(10_000);
    progress.finish();
    progress.finish();
    progress.update(2_000);
    expect(chunks).toEqual([
      '\r[###############.....] 1,500/2,000 records 1,500/s',
      // 1,500/s became 136/s: two characters shorter, so two spaces wipe the old tail.
      '\r[###############.....] 1,500/2,000 records 136/s  ',
      '\n',
    ]);
  });

  it('shows a full bar when there is nothing to do, and writes nothing if never updated', () => {
    const empty = setup(true, 0);
    empty.progress.update(0);
    expect(empty.chunks).toEqual(['\r[####################] 0/0 records 0/s']);

    const idle = setup(true, 100);
    idle.progress.finish();
    expect(idle.chunks).toEqual([]);
  });
});

describe('Progress elsewhere (log, pipe)', () => {
  it('prints a plain line at each 10 % step, never twice for the same step', () => {
    const { progress, chunks, advance } = setup(false, 30_000);
    for (let done = 1_000; done <= 30_000; done += 1_000) {
      advance(100);
      progress.update(done);
    }
    expect(chunks).toEqual([
      'replay: 3000/30000 records\n',
      'replay: 6000/30000 records\n',
      'replay: 9000/30000 records\n',
      'replay: 12000/30000 records\n',
      'replay: 15000/30000 records\n',
      'replay: 18000/30000 records\n',
      'replay: 21000/30000 records\n',
      'replay: 24000/30000 records\n',
      'replay: 27000/30000 records\n',
      'replay: 30000/30000 records\n',
    ]);
    progress.finish();
    expect(chunks).toHaveLength(10);
  });

  it('prints a line when 5 s passed without a 10 % step, and the final count on finish()', () => {
    const { progress, chunks, advance } = setup(false, 1_000_000);
    advance(4_000);
    progress.update(10_000);
    advance(999);
    progress.update(20_000);
    advance(1);
    progress.update(30_000); // 5 s after the start
    advance(4_999);
    progress.update(40_000);
    advance(1);
    progress.update(40_000); // 5 s after the last line
    advance(6_000);
    progress.update(40_000); // 6 s later, but nothing new to say
    advance(10);
    progress.update(41_000);
    progress.finish();
    expect(chunks).toEqual(['replay: 30000/1000000 records\n', 'replay: 40000/1000000 records\n', 'replay: 41000/1000000 records\n']);
  });

  it('finish() prints the last count only when it was not printed yet', () => {
    const { progress, chunks, advance } = setup(false, 100);
    advance(10);
    progress.update(15);
    advance(10);
    progress.update(17);
    progress.finish();
    expect(chunks).toEqual(['replay: 15/100 records\n', 'replay: 17/100 records\n']);
  });
});

describe('groupDigits', () => {
  it('groups thousands with commas whatever the locale', () => {
    expect([0, 999, 1000, 12_345, 1_234_567, -4_100].map(groupDigits)).toEqual(['0', '999', '1,000', '12,345', '1,234,567', '-4,100']);
  });
});
