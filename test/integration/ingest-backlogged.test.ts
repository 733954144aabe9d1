/**
 * When may an MQTT commit group wait `max_delay_offline` (issue 17, flash wear)? Only while
 * nothing committed leaves: the sender has no connection to FluxionDB and the queue stages its
 * commits (no lease for `stage_flush`). With a live link a group never waits longer, even
 * after a quiet spell without leases (a slow site's dashboard stays as fresh as before).
 */
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { compileRules, type MappingRuleSpec } from '../../src/mapping/index.js';
import { IngestSink } from '../../src/pipeline/ingest-sink.js';
import { queueFixture } from '../helpers/queue.js';

const rule: MappingRuleSpec = { topic: 's/{dev}', collection: 'c', document: '{dev}', timestamp: { field: 'ts', unit: 'ms' } };
const FLUSH = 5000;

describe('IngestSink.backlogged', () => {
  const f = queueFixture();

  function setup() {
    const q = f.open({ stageFlushMs: FLUSH });
    const link = { down: true };
    const sink = new IngestSink(compileRules([rule]), q, pino({ level: 'silent' }), () => undefined, undefined, null, () => link.down);
    const commit = (ts: number) => sink.commit([{ source: 'mqtt', topic: 's/d1', payload: `{"ts":${ts}}`, receivedAt: ts }]);
    return { q, link, sink, commit };
  }

  it('is true while the link is down and no sender has leased for stage_flush; a lease ends it', () => {
    const { q, sink, commit } = setup();
    // No sender has leased since start: the queue stages.
    expect(sink.backlogged()).toBe(true);
    commit(1);
    const lease = q.lease({ maxRecords: 10, maxBytes: 1e6 });
    expect(lease?.records).toHaveLength(1);
    q.release(lease!);
    expect(sink.backlogged()).toBe(false);
    f.clock += FLUSH - 1;
    expect(sink.backlogged()).toBe(false);
    f.clock += 1;
    expect(sink.backlogged()).toBe(true);
  });

  it('is false with a live link, even when no batch has left for longer than stage_flush', () => {
    const { link, sink, commit } = setup();
    link.down = false;
    commit(1);
    f.clock += 10 * FLUSH;
    expect(sink.backlogged()).toBe(false);
    link.down = true;
    expect(sink.backlogged()).toBe(true);
  });

  it('is false with the staging log off (stage_flush: 0): groups keep max_delay', () => {
    const q = f.open({ stageFlushMs: 0 });
    const sink = new IngestSink(compileRules([rule]), q, pino({ level: 'silent' }), () => undefined, undefined, null, () => true);
    f.clock += 10 * FLUSH;
    expect(sink.backlogged()).toBe(false);
  });
});
