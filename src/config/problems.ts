/**
 * A config problem: where (the key path and the YAML line:column), and what is wrong
 * together with how to fix it. Every problem is collected before the agent refuses to
 * start, so an operator fixes them all in one pass.
 */
import { AgentError, ErrorCodes } from '../errors.js';

export type ConfigPath = ReadonlyArray<string | number>;

export interface ConfigProblem {
  /** Dotted key path, e.g. `queue.on_full` or `mqtt.subscriptions[2].topic`; '' for the whole file. */
  path: string;
  /** What is wrong and how to fix it. Never carries a secret's value. */
  message: string;
  /** The config file, as given to the loader (e.g. `/etc/fluxion-edge/config.yaml`). */
  file?: string;
  /** 1-based line and column of the offending YAML node (or its nearest existing parent). */
  line?: number;
  column?: number;
}

/** A warning has the same shape as a problem; the config is still valid. */
export type ConfigWarning = ConfigProblem;

/** `['mqtt', 'subscriptions', 2, 'topic']` -> `mqtt.subscriptions[2].topic`. */
export function pathToString(path: ConfigPath): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else out += out === '' ? seg : `.${seg}`;
  }
  return out;
}

/** One line per problem: `config.yaml:12:5 queue.on_full: must be one of ... (got "drop_old")`. */
export function formatProblems(problems: readonly ConfigProblem[]): string {
  return problems.map(formatProblem).join('\n');
}

function formatProblem(p: ConfigProblem): string {
  let where = p.file ?? '';
  if (p.line !== undefined) where += `${where === '' ? '' : ':'}${p.line}:${p.column ?? 1}`;
  const head = [where, p.path].filter((s) => s !== '').join(' ');
  return head === '' ? p.message : `${head}: ${p.message}`;
}

/** The error the loader throws: `details` holds every problem. */
export function configInvalid(problems: ConfigProblem[]): AgentError {
  const n = problems.length;
  return new AgentError(ErrorCodes.CONFIG_INVALID, `invalid configuration (${n} problem${n === 1 ? '' : 's'}):\n${formatProblems(problems)}`, {
    details: problems,
  });
}

/** The problems of a CONFIG_INVALID error (an empty list for any other value). */
export function problemsOf(err: unknown): ConfigProblem[] {
  if (err instanceof AgentError && err.code === ErrorCodes.CONFIG_INVALID && Array.isArray(err.details)) return err.details as ConfigProblem[];
  return [];
}

/** Closest candidate by edit distance, when it is close enough to be a likely typo. */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  const lower = word.toLowerCase();
  for (const c of candidates) {
    const d = editDistance(lower, c.toLowerCase());
    if (d < bestD) {
      best = c;
      bestD = d;
    }
  }
  const limit = Math.max(2, Math.floor(word.length / 3));
  if (best !== undefined && bestD <= limit) return best;
  // `mqtt_broker` for `mqtt`: a known key with something added.
  return [...candidates].filter((c) => lower.startsWith(c.toLowerCase())).sort((a, b) => b.length - a.length)[0];
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length]!;
}
