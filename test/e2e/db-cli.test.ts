import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DevServer } from '../../src/devserver/index.js';
import { runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';

const MASTER = 'db-cli-master-key-123';

describe('fluxion-edge db (built CLI against the dev server)', () => {
  const server = new DevServer({ port: 0, masterKey: MASTER });
  const dir = tempDir();
  let env: Record<string, string>;

  beforeAll(async () => {
    await server.start();
    env = { FLUXION_URL: server.url, FLUXION_API_KEY: MASTER };
  });
  afterAll(async () => {
    await server.stop();
    dir.cleanup();
  });

  const db = (args: string[], input?: string) => runCli(['db', ...args], { env, input });

  it('inserts records from stdin and reads them back with latest and doc', async () => {
    const records = [1, 2, 3].map((i) => ({ col: 'temperature', doc: `device-${i}`, ts: 1_700_000_000_000 + i, data: `{"v":${i}}` }));
    records.push({ col: 'temperature', doc: 'device-1', ts: 1_700_000_000_010, data: '{"v":10}' });
    const ins = await db(['insert'], JSON.stringify(records));
    expect(ins.stderr).toBe('');
    expect(JSON.parse(ins.stdout)).toEqual({ inserted: 4 });

    const latest = await db(['latest', '--col', 'temperature', '--doc', '/device-[12]/']);
    expect(latest.code).toBe(0);
    expect(JSON.parse(latest.stdout)).toEqual({
      'device-1': { ts: 1_700_000_000_010, data: '{"v":10}' },
      'device-2': { ts: 1_700_000_000_002, data: '{"v":2}' },
    });

    const doc = await db(['doc', '--col', 'temperature', '--doc', 'device-1', '--from', '0', '--to', '9999999999999', '--reverse', '--limit', '1']);
    expect(JSON.parse(doc.stdout)).toEqual([{ ts: 1_700_000_000_010, data: '{"v":10}' }]);

    const cols = await db(['collections']);
    expect(JSON.parse(cols.stdout)).toEqual(['temperature']);
  });

  it('reads records as JSON lines from a file and deletes a range', async () => {
    const file = join(dir.path, 'recs.jsonl');
    writeFileSync(file, [5, 6, 7].map((i) => JSON.stringify({ col: 'c2', doc: 'd', ts: i, data: String(i) })).join('\n'));
    expect((await db(['insert', '--file', file])).code).toBe(0);
    expect((await db(['delete-range', '--col', 'c2', '--doc', 'd', '--from', '5', '--to', '6'])).code).toBe(0);
    expect(server.records('c2', 'd')).toEqual([{ ts: 7, data: '7' }]);
  });

  it('sets, gets, lists and deletes key/values', async () => {
    expect(JSON.parse((await db(['kv', 'set', '--col', 'metadata', '--key', 'device-1:location', '--value', 'warehouse-1'])).stdout)).toEqual({ status: 'ok' });
    expect(JSON.parse((await db(['kv', 'get', '--col', 'metadata', '--key', 'device-1:location'])).stdout)).toEqual({ value: 'warehouse-1' });
    expect(JSON.parse((await db(['kv', 'values', '--col', 'metadata'])).stdout)).toEqual({ 'device-1:location': 'warehouse-1' });
    expect(JSON.parse((await db(['kv', 'keys', '--col', 'metadata'])).stdout)).toEqual(['device-1:location']);
    expect((await db(['kv', 'delete', '--col', 'metadata', '--key', 'device-1:location'])).code).toBe(0);
    expect(server.values('metadata')).toEqual({});
  });

  it('manages API keys and masks them when listing', async () => {
    const add = await db(['keys', 'add', '--key', 'reader-key-abcdef', '--scope', 'readonly']);
    expect(JSON.parse(add.stdout)).toEqual({ status: 'ok', scope: 'readonly' });
    const list = await db(['keys', 'list']);
    expect(list.stdout).not.toContain('reader-key-abcdef');
    expect(list.stdout).not.toContain(MASTER);
    const shown = JSON.parse((await db(['keys', 'list', '--show-keys'])).stdout) as Array<{ key: string; scope: string }>;
    expect(shown).toContainEqual(expect.objectContaining({ key: 'reader-key-abcdef', scope: 'readonly' }));
    expect((await db(['keys', 'remove', '--key', 'reader-key-abcdef'])).code).toBe(0);
  });

  it('prints one clear line and exits 1 when the key is refused, without echoing the key', async () => {
    const r = await runCli(['db', 'collections'], { env: { FLUXION_URL: server.url, FLUXION_API_KEY: 'wrong-secret-key-999' } });
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain('FLUXION_ERR_AUTH');
    expect(r.stderr).toContain('Unknown API key');
    expect(r.stderr).not.toContain('wrong-secret-key-999');
  });

  it('reads the key from --api-key-file', async () => {
    const keyFile = join(dir.path, 'api-key');
    writeFileSync(keyFile, `${MASTER}\n`, { mode: 0o600 });
    const r = await runCli(['db', 'collections', '--url', server.url, '--api-key-file', keyFile], { env: { FLUXION_API_KEY: '' } });
    expect(r.code).toBe(0);
  });

  it('refuses a record the server would store as garbage, naming the field, without connecting', async () => {
    const before = server.frameCounts.get('ins') ?? 0;
    const r = await db(['insert'], JSON.stringify([{ col: 'c', doc: '', ts: 5, data: 'x' }]));
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('FLUXION_ERR_VALIDATION');
    expect(r.stderr).toContain('records[0].doc');
    expect(server.frameCounts.get('ins') ?? 0).toBe(before);
  });

  it('exits 64 on usage errors', async () => {
    expect((await db(['doc', '--col', 'x'])).code).toBe(64);
    expect((await db(['nonsense'])).code).toBe(64);
    expect((await db(['kv', 'frobnicate', '--col', 'x'])).code).toBe(64);
  });
});
