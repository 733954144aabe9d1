/**
 * `fluxion-edge map --payload-file readings.jsonl` (built CLI): the report decision of every
 * reading of a sequence, and the windows an aggregate rule would write.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';

const CONFIG = `
gateway: { id: gw-map }
fluxiondb: { url: ws://db.example:8080, api_key: k-1 }
queue: { path: ./q.db }
mqtt:
  url: mqtt://broker.local:1883
  subscriptions:
    - topic: tanks/{tank}/level
      collection: tanks
      document: "{tank}"
      timestamp: { field: ts, unit: ms }
      fields: { level: level }
      report: { deadband: { level: 1% }, max_interval: 1m }
    - topic: rooms/{room}/temp
      collection: rooms
      document: "{room}"
      timestamp: { field: ts, unit: ms }
      fields: { t: t }
      aggregate: { window: 1m, fields: [t], functions: [mean, max, count] }
`;
const T0 = Date.UTC(2026, 0, 1, 8, 0, 0);

interface Decision { line: number; ts: number; decision: string; sent: boolean }

describe('map --payload-file with a sequence (built CLI)', () => {
  const dir = tempDir();
  afterAll(() => dir.cleanup());
  const config = join(dir.path, 'config.yaml');
  writeFileSync(config, CONFIG);

  it('shows what a deadband would drop, reading by reading', async () => {
    const levels = [100, 100.5, 101.2, 101.3, 99.9, 99.9];
    const file = join(dir.path, 'levels.jsonl');
    writeFileSync(file, `${levels.map((level, i) => JSON.stringify({ ts: T0 + i * 10_000, level })).join('\n')}\n${JSON.stringify({ ts: T0 + 100_000, level: 99.9 })}\n`);
    const r = await runCli(['map', '--config', config, '--topic', 'tanks/t1/level', '--payload-file', file]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as { readings: Decision[]; summary: Record<string, unknown> };
    expect(out.readings.map((d) => [d.line, d.decision, d.sent])).toEqual([
      [1, 'first', true],
      [2, 'unchanged', false], // 0.5 % of 100
      [3, 'change', true], // 1.2 %
      [4, 'unchanged', false],
      [5, 'change', true], // 1.28 % below 101.2
      [6, 'unchanged', false],
      [7, 'heartbeat', true], // 60 s after the last one sent
    ]);
    expect(out.summary).toMatchObject({ readings: 7, sent: 4, not_sent: 3 });
  });

  it('shows the windows an aggregate rule would write', async () => {
    const file = join(dir.path, 'temps.ndjson');
    const lines = [1, 2, 3, 10, 20].map((t, i) => JSON.stringify({ ts: T0 + (i < 3 ? i * 10_000 : 60_000 + i * 1000), t }));
    writeFileSync(file, lines.join('\n'));
    const r = await runCli(['map', '--config', config, '--topic', 'rooms/r1/temp', '--payload-file', file]);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as { readings: Decision[]; windows: Array<{ ts: number; data: string }> };
    expect(out.readings.every((d) => d.decision === 'window' && !d.sent)).toBe(true);
    expect(out.windows.map((w) => [w.ts - T0, JSON.parse(w.data)])).toEqual([
      [0, { t_mean: 2, t_max: 3, t_count: 3 }],
      [60_000, { t_mean: 15, t_max: 20, t_count: 2 }],
    ]);
  });
});
