import { join } from 'node:path';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { AgentError, ErrorCodes } from '../../src/errors.js';
import { IngestSink } from '../../src/pipeline/ingest-sink.js';
import type { RawMessage } from '../../src/inputs/types.js';
import { LineCommitter } from '../../src/inputs/serial/line-committer.js';
import { compileRules } from '../../src/mapping/index.js';
import { SqliteQueue } from '../../src/queue/index.js';
import { memoryLogger } from '../helpers/agent.js';
import { tempDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';

const line = (n: number): RawMessage => ({ source: 'serial', port: 'meter', payload: `{"v":${n},"ts":${1_780_000_000_000 + n}}`, receivedAt: 1_780_000_000_000 + n });

/**
 * Serial and polled readings cannot be held back (a device does not resend): on a full disk
 * they are counted as dropped with reason `disk_full`, never lost silently, and the port is
 * read on. The sink and queue are real; the disk's refusal is the queue's error.
 */
describe('serial readings on a full disk', () => {
  const cleanups: Array<() => void> = [];
  afterEach(() => {
    for (const c of cleanups.splice(0).reverse()) c();
  });

  it('counts what cannot be stored as dropped (disk_full), keeps reading, and stores again once the disk takes it', async () => {
    const dir = tempDir();
    const queue = new SqliteQueue({ path: join(dir.path, 'q.db'), synchronous: 'off' });
    queue.start();
    cleanups.push(() => dir.cleanup(), () => queue.stop());
    const rules = compileRules([{ port: 'meter', collection: 'power', document: 'meter-1', format: 'json', timestamp: { field: 'ts', unit: 'ms' } } as never]);
    const sink = new IngestSink(rules, queue, pino({ level: 'silent' }), () => undefined);
    // The disk refuses the next two commits, as a full disk does once the queue made what room it could.
    let refusals = 2;
    const append = queue.append.bind(queue);
    queue.append = (records) => {
      if (refusals > 0) {
        refusals--;
        throw new AgentError(ErrorCodes.QUEUE_DISK_FULL, 'the disk is full (test)');
      }
      return append(records);
    };
    const log = memoryLogger('info');
    let paused = 0;
    const committer = new LineCommitter(1, { sink, logger: log.logger, pause: () => paused++, resume: () => undefined, now: Date.now });
    cleanups.push(() => void committer.stop());

    for (let i = 0; i < 3; i++) committer.add(line(i));
    committer.flush();
    committer.add(line(3));
    committer.flush();
    committer.add(line(4));
    committer.flush();
    await waitFor(() => committer.committed === 1, { what: 'the last line stored' });
    expect(committer.droppedDiskFull).toBe(4);
    expect(paused).toBe(0);
    expect(queue.stats()).toMatchObject({ depth: 1, droppedByReason: { disk_full: 4 }, dropped: 4 });
    expect(log.lines().filter((l) => String(l.msg).startsWith('disk full'))).toHaveLength(1);
  });
});
