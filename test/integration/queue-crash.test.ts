import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SqliteQueue } from '../../src/queue/index.js';
import { tempDir } from '../helpers/tmp.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/**
 * The child must run the real queue module under plain node. Building dist/ would touch
 * files other tests use, so the queue's sources (and the few files they import) are
 * transpiled into a temp dir whose node_modules links to the project's.
 */
function buildQueueModule(out: string): void {
  const files = [
    ...readdirSync(join(ROOT, 'src/queue')).filter((f) => f.endsWith('.ts')).map((f) => `queue/${f}`),
    'errors.ts',
    'client/types.ts',
    'client/validate.ts',
    'client/errors.ts',
  ];
  for (const f of files) {
    const js = ts.transpileModule(readFileSync(join(ROOT, 'src', f), 'utf8'), {
      compilerOptions: { module: ts.ModuleKind.ES2022, target: ts.ScriptTarget.ES2022 },
      fileName: f,
    }).outputText;
    const dest = join(out, 'src', f.replace(/\.ts$/, '.js'));
    mkdirSync(dirname(dest), { recursive: true });
    writeFileSync(dest, js);
  }
  writeFileSync(join(out, 'package.json'), '{"type":"module"}');
  symlinkSync(join(ROOT, 'node_modules'), join(out, 'node_modules'), 'dir');
}

const CHILD = `
import { SqliteQueue } from './src/queue/index.js';
const q = new SqliteQueue({ path: process.argv[2], synchronous: 'full' });
q.start();
const r = q.append(Array.from({ length: 100 }, (_, i) => ({ col: 'c', doc: 'd', ts: i + 1, data: '{"i":' + i + '}' })));
process.stdout.write('appended ' + r.accepted + '\\n');
setInterval(() => {}, 1000);
`;

describe('queue crash safety', () => {
  const dir = tempDir();
  const build = join(dir.path, 'build');

  beforeAll(() => {
    buildQueueModule(build);
    writeFileSync(join(build, 'child.mjs'), CHILD);
  });
  afterAll(() => dir.cleanup());

  it('keeps rows committed by append() when the process is killed with SIGKILL right after', async () => {
    const path = join(dir.path, 'crash.db');
    const child = spawn(process.execPath, [join(build, 'child.mjs'), path], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    const exited = new Promise<NodeJS.Signals | null>((r) => child.on('exit', (_code, signal) => r(signal)));
    await new Promise<void>((resolveLine, reject) => {
      child.stdout.setEncoding('utf8').on('data', (d: string) => {
        out += d;
        if (out.includes('\n')) resolveLine();
      });
      child.on('exit', () => reject(new Error(`child exited early: ${out} ${err}`)));
    });
    child.kill('SIGKILL');
    expect(await exited).toBe('SIGKILL');
    expect(out).toBe('appended 100\n');
    expect(existsSync(`${path}-wal`)).toBe(true); // no clean close happened

    const q = new SqliteQueue({ path, synchronous: 'off' });
    q.start();
    try {
      expect(q.stats()).toMatchObject({ depth: 100, appended: 100 });
      const lease = q.lease({ maxRecords: 1000, maxBytes: 1e9 })!;
      expect(lease.records.map((r) => r.ts)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
      expect(lease.records[99]!.data).toBe('{"i":99}');
    } finally {
      q.stop();
    }
  });
});
