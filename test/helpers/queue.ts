import { join } from 'node:path';
import { afterEach, beforeEach } from 'vitest';
import { SqliteQueue, type QueueOptions } from '../../src/queue/index.js';
import { tempDir } from './tmp.js';

/**
 * Queues on temp files with a hand-driven clock, stopped and removed after each test. Call
 * inside a describe(); `f.clock` starts at 1,000,000 ms for every test.
 */
export function queueFixture() {
  const f = {
    dir: undefined as unknown as ReturnType<typeof tempDir>,
    clock: 0,
    queues: [] as SqliteQueue[],
    /** Opens (and starts) a queue on `q.db` in the test's directory, unless `path` says otherwise. */
    open(opts: Partial<QueueOptions> = {}): SqliteQueue {
      const q = new SqliteQueue({ path: join(f.dir.path, 'q.db'), synchronous: 'off', ...opts }, { now: () => f.clock });
      q.start();
      f.queues.push(q);
      return q;
    },
  };
  beforeEach(() => {
    f.dir = tempDir();
    f.clock = 1_000_000;
    f.queues = [];
  });
  afterEach(() => {
    for (const q of f.queues) q.stop();
    f.dir.cleanup();
  });
  return f;
}
