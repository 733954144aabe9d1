import { describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseConfig } from '../../../src/config/index.js';
import { isLoopback } from '../../../src/config/cross-checks.js';
import { tempDir } from '../../helpers/tmp.js';
import { brief, MINIMAL, problemsFor } from './helpers.js';

describe('the console section', () => {
  it('is off by default, and on loopback needs no token', () => {
    expect(parseConfig(MINIMAL, { env: {} }).settings.console).toBeNull();
    const on = parseConfig(`${MINIMAL}health: { enabled: true }\nconsole: { enabled: true }\n`, { env: {} }).settings.console;
    expect(on).toEqual({ token: null, sampleIntervalMs: 5000, sessionTtlMs: 43_200_000 });
  });

  it('refuses another address without a token, and a console without the health listener, all at once', () => {
    const text = `${MINIMAL}health: { enabled: false, host: 0.0.0.0 }\nconsole: { enabled: true }\n`;
    expect(brief(problemsFor(text))).toEqual([
      'console.token_file: health.host is 0.0.0.0, not a loopback address: the console needs token_file there (anyone on that network could otherwise use it)',
      "console.enabled: the console is served on the health endpoint's listener: set health.enabled: true",
    ]);
  });

  it('reads the token from its file, refuses a short one, and keeps it out of every problem', () => {
    const dir = tempDir();
    try {
      writeFileSync(join(dir.path, 'good'), 'a-long-enough-console-token\n', { mode: 0o600 });
      writeFileSync(join(dir.path, 'short'), 'short\n', { mode: 0o600 });
      const good = parseConfig(`${MINIMAL}health: { enabled: true, host: 0.0.0.0 }\nconsole: { enabled: true, token_file: good }\n`, { env: {}, baseDir: dir.path });
      expect(good.settings.console?.token).toBe('a-long-enough-console-token');
      const problems = problemsFor(`${MINIMAL}health: { enabled: true, host: 0.0.0.0 }\nconsole: { enabled: true, token_file: short }\n`, { baseDir: dir.path });
      expect(brief(problems)).toEqual(['console.token_file: the console token must be at least 16 characters (e.g. `openssl rand -hex 24 > FILE`)']);
      expect(JSON.stringify(problems)).not.toContain('short\\n');
    } finally {
      dir.cleanup();
    }
  });

  it('knows the loopback addresses', () => {
    for (const h of ['127.0.0.1', '127.3.2.1', '::1', 'localhost']) expect(isLoopback(h)).toBe(true);
    for (const h of ['0.0.0.0', '::', '10.0.0.5', '192.168.1.2', 'gateway.local']) expect(isLoopback(h)).toBe(false);
  });
});
