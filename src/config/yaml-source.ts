/**
 * The YAML side of the loader: parses the text keeping node positions, and maps a key path
 * back to the line and column where an operator will find it.
 */
import { isAlias, isMap, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node } from 'yaml';
import type { ConfigPath, ConfigProblem } from './problems.js';

export interface YamlSource {
  /** The plain data (aliases resolved, `<<` merge keys applied). */
  tree: unknown;
  /** Line and column of the node at `path` (its key when `at` is 'key'), or of its nearest existing parent. */
  locate(path: ConfigPath, at?: 'key' | 'value'): { line: number; column: number } | undefined;
}

/** Parses YAML; returns the syntax errors (with positions) instead of a source when there are any. */
export function parseYaml(text: string): YamlSource | { problems: ConfigProblem[] } {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, merge: true, prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    // One broken bracket can make the parser complain about every token after it: the
    // first error of each line is enough to find the mistake.
    const lines = new Set<number>();
    const problems: ConfigProblem[] = [];
    for (const e of doc.errors) {
      const pos = e.linePos?.[0];
      if (pos !== undefined && lines.has(pos.line)) continue;
      if (pos !== undefined) lines.add(pos.line);
      const message = e.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
      problems.push({ path: '', message: `YAML syntax: ${message}`, ...(pos ? { line: pos.line, column: pos.col } : {}) });
    }
    return { problems: problems.slice(0, 10) };
  }
  return {
    tree: doc.toJS({ maxAliasCount: 1000 }),
    locate: (path, at = 'value') => {
      const offset = findOffset(doc, path, at);
      if (offset === undefined) return undefined;
      const pos = lineCounter.linePos(offset);
      return { line: pos.line, column: pos.col };
    },
  };
}

function findOffset(doc: Document, path: ConfigPath, at: 'key' | 'value'): number | undefined {
  let node: unknown = doc.contents;
  // A missing top-level key has no better place than "somewhere in the file": no position.
  let best: number | undefined;
  for (let i = 0; i < path.length; i++) {
    if (isAlias(node)) node = node.resolve(doc);
    const seg = path[i]!;
    const last = i === path.length - 1;
    if (isMap(node)) {
      const pair = node.items.find((p) => (isScalar(p.key) ? String(p.key.value) : String(p.key)) === String(seg));
      if (pair === undefined) return best;
      const keyStart = rangeStart(pair.key);
      if (keyStart !== undefined) best = keyStart;
      if (last && at === 'key') return best;
      node = pair.value;
      const valueStart = rangeStart(node);
      // A key without a value (`url:`) has no value node: point at the key.
      if (last && valueStart !== undefined) return valueStart;
    } else if (isSeq(node) && typeof seg === 'number') {
      node = node.items[seg];
      const start = rangeStart(node);
      if (start === undefined) return best;
      best = start;
    } else {
      return best;
    }
  }
  return best;
}

function rangeStart(node: unknown): number | undefined {
  const range = (node as Node | null | undefined)?.range;
  return Array.isArray(range) ? range[0] : undefined;
}
