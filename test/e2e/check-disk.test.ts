import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';

/** `check` looks at the queue's disk: a fixed cap the disk cannot hold is a warning (exit 0). */
describe('fluxion-edge check and the queue disk (built CLI)', () => {
  const dirs: Array<{ cleanup: () => void }> = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) d.cleanup();
  });

  function config(maxBytes: string): string {
    const dir = tempDir();
    dirs.push(dir);
    const file = join(dir.path, 'config.yaml');
    writeFileSync(file, `fluxiondb: { url: ws://127.0.0.1:1, api_key: k }\nqueue: { path: ${join(dir.path, 'q.db')}, max_bytes: ${maxBytes} }\n`);
    return file;
  }

  it('warns when a fixed max_bytes exceeds the free space, and not for auto', async () => {
    const huge = await runCli(['check', '--config', config('1000TB')]);
    expect(huge.code).toBe(0);
    expect(huge.stderr).toMatch(/^warning: queue\.max_bytes \(1000000000000000 bytes\) exceeds the space the queue has on its filesystem/m);
    const auto = await runCli(['check', '--config', config('auto')]);
    expect(auto.code).toBe(0);
    expect(auto.stderr).not.toMatch(/max_bytes/);
    expect(auto.stdout).toMatch(/max_bytes: auto/);
  });
});
