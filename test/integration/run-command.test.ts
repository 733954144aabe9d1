import { afterEach, describe, expect, it } from 'vitest';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { run } from '../../src/cli/run-command.js';
import type { CommandIo } from '../../src/cli/process-io.js';
import { freePort } from '../helpers/ports.js';
import { tempDir } from '../helpers/tmp.js';

describe('fluxion-edge run and the signals that come while it starts', () => {
  const dir = tempDir();
  afterEach(() => dir.cleanup());

  it('takes SIGTERM and SIGHUP before the agent starts (no default action can kill it), then stops cleanly', async () => {
    const queuePath = join(dir.path, 'queue.db');
    const configPath = join(dir.path, 'config.yaml');
    // Nothing listens on the port: the sender backs off, which is all this run needs.
    writeFileSync(configPath, `log: { level: silent }\nfluxiondb: { url: "ws://127.0.0.1:${await freePort()}", api_key: k }\nqueue: { path: "${queuePath}" }\n`);
    const seen: Record<string, boolean> = {};
    let unsubscribed = 0;
    const io: CommandIo = {
      stdout: new PassThrough(),
      stderr: new PassThrough(),
      stdin: new PassThrough(),
      env: {},
      // A signal that arrives at once, i.e. while the agent is still starting.
      shutdownSignal: () => {
        seen.shutdownBeforeStart = !existsSync(queuePath);
        return Promise.resolve('SIGTERM');
      },
      onReload: (handler) => {
        seen.reloadBeforeStart = !existsSync(queuePath);
        handler();
        return () => unsubscribed++;
      },
    };
    expect(await run(['--config', configPath], io)).toBe(0);
    expect(seen).toEqual({ shutdownBeforeStart: true, reloadBeforeStart: true });
    expect(unsubscribed).toBe(1); // the SIGHUP handler was removed at the stop
    expect(existsSync(queuePath)).toBe(true); // the agent did start, and stopped
  });
});
