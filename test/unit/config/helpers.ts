import { AgentError } from '../../../src/errors.js';
import { parseConfig, problemsOf, type ConfigProblem, type ParseConfigOptions } from '../../../src/config/index.js';

/** Minimal valid config text: the one required section. */
export const MINIMAL = 'fluxiondb:\n  url: ws://db.example:8080\n  api_key: k-123\n';

/** The problems parseConfig throws for `text` (fails the test if it does not throw). */
export function problemsFor(text: string, opts: Partial<ParseConfigOptions> = {}): ConfigProblem[] {
  try {
    parseConfig(text, { env: {}, hostname: 'host-1', baseDir: '/etc/fluxion-edge', ...opts });
  } catch (err) {
    if (err instanceof AgentError) return problemsOf(err);
    throw err;
  }
  throw new Error('expected the config to be invalid');
}

/** Just `path: message` pairs, for compact assertions. */
export function brief(problems: readonly ConfigProblem[]): string[] {
  return problems.map((p) => `${p.path}: ${p.message}`);
}
