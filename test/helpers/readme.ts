/**
 * Examples taken from README.md as written, so a test runs what a user copies and the two
 * cannot drift apart.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

export function readme(): string {
  return readFileSync(`${REPO_ROOT}README.md`, 'utf8');
}

/** The fenced code blocks of a given language, in order. */
export function codeBlocks(markdown: string, lang: string): string[] {
  const out: string[] = [];
  const re = new RegExp('^```' + lang + '\\n([\\s\\S]*?)^```', 'gm');
  for (let m = re.exec(markdown); m !== null; m = re.exec(markdown)) out.push(m[1]!);
  return out;
}

/** The YAML block whose first line is `# README example: <name>`. */
export function yamlExample(name: string): string {
  const block = codeBlocks(readme(), 'yaml').find((b) => b.startsWith(`# README example: ${name}\n`));
  if (block === undefined) throw new Error(`README.md has no yaml block starting with '# README example: ${name}'`);
  return block;
}

/**
 * Commands of the `sh` blocks that start with `prefix` (e.g. `fluxion-edge map`), backslash
 * continuations joined, comments after ` # ` dropped, split into words as a POSIX shell
 * would for the quoting the README uses (single and double quotes, no expansions).
 */
export function shellCommands(prefix: string): string[][] {
  const commands: string[][] = [];
  for (const block of codeBlocks(readme(), 'sh')) {
    const joined = block.replace(/\\\n\s*/g, '');
    for (const line of joined.split('\n')) {
      const trimmed = line.trim();
      if (trimmed.startsWith(prefix)) commands.push(shellWords(trimmed));
    }
  }
  return commands;
}

function shellWords(line: string): string[] {
  const words: string[] = [];
  let cur: string | null = null;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (c === "'" || c === '"') {
      const end = line.indexOf(c, i + 1);
      if (end < 0) throw new Error(`unbalanced quote in README command: ${line}`);
      cur = (cur ?? '') + line.slice(i + 1, end);
      i = end;
    } else if (c === ' ' || c === '\t') {
      if (cur !== null) words.push(cur);
      cur = null;
    } else if (c === '#' && cur === null) {
      break;
    } else cur = (cur ?? '') + c;
  }
  if (cur !== null) words.push(cur);
  return words;
}
