import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { aliasOnly, encodeTahu } from '../helpers/sparkplug.js';
import { tempDir } from '../helpers/tmp.js';

const T0 = 1_760_000_000_000;

describe('fluxion-edge map with a Sparkplug B payload', () => {
  const cleanups: Array<() => void> = [];
  afterEach(() => {
    for (const c of cleanups.splice(0)) c();
  });

  function setup(): { dir: string; config: string } {
    const dir = tempDir();
    cleanups.push(() => dir.cleanup());
    const config = join(dir.path, 'config.yaml');
    writeFileSync(config, `
fluxiondb: { url: ws://127.0.0.1:1, api_key: k }
queue: { path: ${join(dir.path, 'q.db')} }
mqtt:
  url: mqtt://127.0.0.1:1
  subscriptions:
    - topic: spBv1.0/{group}/+/{node}/#
      format: sparkplug_b
      collection: plant
`);
    return { dir: dir.path, config };
  }

  it('resolves an alias-only payload (hex or base64) against a birth given with --birth', async () => {
    const { dir, config } = setup();
    const birth = join(dir, 'birth.bin');
    writeFileSync(birth, encodeTahu({ timestamp: T0, seq: 0, metrics: [{ name: 'bdSeq', type: 'UInt64', value: 4 }, { name: 'Line/Speed', alias: 2, type: 'Int16', value: 0 }] }));
    const data = aliasOnly(encodeTahu({ timestamp: T0 + 5, seq: 1, metrics: [{ alias: 2, type: 'Int16', value: -3 }] }));
    for (const payload of [['--payload-hex', data.toString('hex')], ['--payload-base64', data.toString('base64')]]) {
      const r = await runCli(['map', '--config', config, '--topic', 'spBv1.0/p/NDATA/e1', ...payload, '--birth', birth]);
      expect(r.stderr).toBe('');
      expect(JSON.parse(r.stdout)).toEqual({
        records: [{ col: 'plant', doc: 'p/e1', ts: T0 + 5, ts_iso: new Date(T0 + 5).toISOString(), data: '{"Line/Speed":-3}' }],
        metadata: [],
      });
      expect(r.code).toBe(0);
    }
    const unresolved = await runCli(['map', '--config', config, '--topic', 'spBv1.0/p/NDATA/e1', '--payload-hex', data.toString('hex')]);
    expect(JSON.parse(unresolved.stdout)).toMatchObject({ rejected: 'unresolved', reason: 'p/e1: unknown alias 2 (no NBIRTH defines it)' });
    expect(unresolved.code).toBe(1);

    const b = await runCli(['map', '--config', config, '--topic', 'spBv1.0/p/NBIRTH/e1', '--payload-file', birth]);
    const out = JSON.parse(b.stdout) as { records: Array<{ data: string }>; metadata: Array<{ device: string; key: string; value: string }> };
    expect(out.records[0]!.data).toBe('{"Line/Speed":0}');
    expect(out.metadata.map((m) => [m.device, m.key, m.value])).toEqual([
      ['p/e1', 'sparkplug.online', 'true'],
      ['p/e1', 'sparkplug.birth_time', new Date(T0).toISOString()],
      ['p/e1', 'sparkplug.bdseq', '4'],
      ['p/e1', 'sparkplug.metrics', '[{"name":"Line/Speed","datatype":"Int16","alias":"2"}]'],
    ]);
  });
});
