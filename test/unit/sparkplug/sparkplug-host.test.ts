import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { compileRules, type RawMessage } from '../../../src/mapping/index.js';
import { SparkplugHost } from '../../../src/sparkplug/sparkplug-host.js';
import type { SparkplugHostOptions } from '../../../src/sparkplug/types.js';
import { queueFixture } from '../../helpers/queue.js';
import { aliasOnly, encodeTahu } from '../../helpers/sparkplug.js';

const OPTIONS: SparkplugHostOptions = { primaryHostId: null, rebirthRequests: true, rebirthIntervalMs: 30_000, onUnresolved: 'hold', retainedBirths: true };

describe('SparkplugHost', () => {
  const f = queueFixture();

  function host(options: Partial<SparkplugHostOptions> = {}) {
    const queue = f.open();
    const h = new SparkplugHost({ ...OPTIONS, ...options }, { queue, logger: pino({ level: 'silent' }), now: () => f.clock });
    h.start();
    const rules = compileRules([{ topic: 'spBv1.0/#', format: 'sparkplug_b', collection: 'plant' }], {}, { sparkplug: h.decoder });
    const published: string[] = [];
    h.attach({ publish: async (topic) => (published.push(topic), true) }, () => rules, () => true);
    const unknown = (seq: number): RawMessage => ({
      source: 'mqtt', topic: 'spBv1.0/g/NDATA/n', receivedAt: f.clock,
      payload: aliasOnly(encodeTahu({ timestamp: 1_760_000_000_000 + seq, seq, metrics: [{ alias: 1, type: 'Int32', value: seq }] })),
    });
    return { h, rules, published, unknown, queue };
  }

  it('asks an edge node for a rebirth at most once per interval, again after it', async () => {
    const { h, rules, published, unknown } = host();
    for (let i = 0; i < 5; i++) {
      expect(rules.map(unknown(i))).toMatchObject({ ok: false, code: 'unresolved' });
      h.afterCommit();
      f.clock += 1000;
    }
    await Promise.resolve();
    expect(published).toEqual(['spBv1.0/g/NCMD/n']);
    f.clock += 30_000;
    rules.map(unknown(6));
    h.afterCommit();
    await Promise.resolve();
    expect(published).toEqual(['spBv1.0/g/NCMD/n', 'spBv1.0/g/NCMD/n']);
    expect(h.status().nodes['g/n']).toMatchObject({ unresolved: 6, rebirthRequests: 2 });
  });

  it('publishes nothing when rebirth requests are off', async () => {
    const { h, rules, published, unknown } = host({ rebirthRequests: false });
    rules.map(unknown(1));
    h.afterCommit();
    await Promise.resolve();
    expect(published).toEqual([]);
  });

  it('persists alias tables after a commit, and a new host loads them', () => {
    const { h, rules, queue } = host();
    rules.map({ source: 'mqtt', topic: 'spBv1.0/g/NBIRTH/n', receivedAt: f.clock, payload: encodeTahu({ timestamp: 1_760_000_000_000, seq: 0, metrics: [{ name: 'v', alias: 1, type: 'Int32', value: 0 }] }) });
    h.afterCommit();
    const again = new SparkplugHost(OPTIONS, { queue, logger: pino({ level: 'silent' }) });
    again.start();
    const set = compileRules([{ topic: 'spBv1.0/#', format: 'sparkplug_b', collection: 'plant' }], {}, { sparkplug: again.decoder });
    const r = set.map({ source: 'mqtt', topic: 'spBv1.0/g/NDATA/n', receivedAt: f.clock, payload: aliasOnly(encodeTahu({ timestamp: 1_760_000_000_001, seq: 1, metrics: [{ alias: 1, type: 'Int32', value: 7 }] })) });
    expect(r).toMatchObject({ ok: true, records: [{ data: '{"v":7}' }] });
  });
});
