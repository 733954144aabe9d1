/**
 * The console's configuration page: the config in force with its secrets masked, and the
 * file on disk when it was edited since (with every problem, as `check` lists them, when
 * it does not validate), so a technician sees why a reload was refused.
 */
import { readFileSync } from 'node:fs';
import { isAgentError, ErrorCodes } from '../errors.js';
import { loadConfig, maskSecrets, problemsOf, type EdgeConfig } from '../config/index.js';
import type { ConfigView } from '../console/console-source.js';

type Env = Readonly<Record<string, string | undefined>>;

export class FileConfigView implements ConfigView {
  private text: string;

  constructor(
    private readonly path: string,
    private readonly env: Env,
    private config: EdgeConfig,
  ) {
    this.text = readText(path) ?? '';
  }

  /** Call after a reload applied a new config: it becomes the one in force. */
  reloaded(): void {
    const text = readText(this.path);
    if (text === null) return;
    try {
      this.config = loadConfig(this.path, this.env).config;
      this.text = text;
    } catch {
      // Edited again since the reload: keep what is in force; onDisk() shows the problems.
    }
  }

  running(): unknown {
    return maskSecrets(this.config);
  }

  onDisk(): ReturnType<ConfigView['onDisk']> {
    const text = readText(this.path);
    if (text === null) return { path: this.path, changed: true, problems: [{ path: '', message: `cannot read ${this.path}` }] };
    if (text === this.text) return { path: this.path, changed: false, problems: [] };
    try {
      loadConfig(this.path, this.env);
      return { path: this.path, changed: true, problems: [] };
    } catch (err) {
      if (!isAgentError(err, ErrorCodes.CONFIG_INVALID)) return { path: this.path, changed: true, problems: [{ path: '', message: (err as Error).message }] };
      return { path: this.path, changed: true, problems: problemsOf(err).map(({ path, line, column, message }) => ({ path, line, column, message })) };
    }
  }
}

function readText(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null;
  }
}
