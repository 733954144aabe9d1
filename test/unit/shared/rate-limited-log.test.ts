import { describe, expect, it } from 'vitest';
import pino from 'pino';
import { RateLimitedLog } from '../../../src/shared/rate-limited-log.js';

describe('RateLimitedLog', () => {
  it('logs the first occurrence, then one line per interval carrying the suppressed count', () => {
    const lines: Array<Record<string, unknown>> = [];
    const logger = pino({ level: 'info' }, { write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>) });
    let t = 0;
    const log = new RateLimitedLog(logger, 10_000, () => t);
    for (let i = 0; i < 10_000; i++) {
      t = i; // 10,000 warnings over 10 s
      log.warn('bad-payload', { topic: 'x' }, 'payload rejected');
    }
    t = 10_000;
    log.warn('bad-payload', { topic: 'x' }, 'payload rejected');
    log.warn('other', {}, 'something else');
    expect(lines.map((l) => [l.msg, l.suppressed])).toEqual([
      ['payload rejected', undefined],
      ['payload rejected', 9_999],
      ['something else', undefined],
    ]);
  });
});
