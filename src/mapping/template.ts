/**
 * Templates for collection, document and tag values, compiled to arrays of parts once.
 * Placeholders: `{name}` a named topic wildcard, `{port}` the serial port (serial rules),
 * `{payload.path}` a scalar of the parsed payload. `{{` and `}}` write literal braces.
 */
import { compileFieldPath, lookupPath, type FieldPath } from './field-paths.js';

const TEXT = 0;
const CAPTURE = 1;
const PORT = 2;
const PAYLOAD = 3;

/** What a template may refer to: the topic's wildcard names (slot = index), or null for a serial rule. */
export interface TemplateScope {
  names: readonly string[] | null;
}

export class Template {
  readonly source: string;
  /** The rendered value when the template has no placeholder, else null. */
  readonly staticValue: string | null;
  /** True when rendering needs the parsed payload. */
  readonly usesPayload: boolean;
  private readonly kinds: Uint8Array;
  private readonly texts: readonly string[];
  private readonly slots: Int16Array;
  private readonly paths: readonly (FieldPath | null)[];

  constructor(source: string, kinds: number[], texts: string[], slots: number[], paths: (FieldPath | null)[]) {
    this.source = source;
    this.kinds = Uint8Array.from(kinds);
    this.texts = texts;
    this.slots = Int16Array.from(slots);
    this.paths = paths;
    this.usesPayload = kinds.includes(PAYLOAD);
    this.staticValue = kinds.length === 0 ? '' : kinds.length === 1 && kinds[0] === TEXT ? texts[0]! : null;
  }

  /** Renders; null when a `{payload.…}` placeholder finds no scalar. */
  render(captures: readonly string[], port: string | undefined, payload: unknown): string | null {
    if (this.staticValue !== null) return this.staticValue;
    const kinds = this.kinds;
    if (kinds.length === 1) return this.part(0, captures, port, payload);
    let out = '';
    for (let i = 0; i < kinds.length; i++) {
      const p = this.part(i, captures, port, payload);
      if (p === null) return null;
      out += p;
    }
    return out;
  }

  private part(i: number, captures: readonly string[], port: string | undefined, payload: unknown): string | null {
    switch (this.kinds[i]) {
      case TEXT:
        return this.texts[i]!;
      case CAPTURE:
        return captures[this.slots[i]!] ?? '';
      case PORT:
        return port ?? '';
      default: {
        const v = lookupPath(payload, this.paths[i]!);
        if (typeof v === 'string') return v;
        if (typeof v === 'number' || typeof v === 'boolean') return String(v);
        return null;
      }
    }
  }
}

/** Compiles a template, or returns every problem found in it. */
export function compileTemplate(source: string, scope: TemplateScope): Template | string[] {
  const kinds: number[] = [];
  const texts: string[] = [];
  const slots: number[] = [];
  const paths: (FieldPath | null)[] = [];
  const problems: string[] = [];
  let text = '';
  const flushText = (): void => {
    if (text.length === 0) return;
    kinds.push(TEXT);
    texts.push(text);
    slots.push(-1);
    paths.push(null);
    text = '';
  };
  let i = 0;
  while (i < source.length) {
    const ch = source[i]!;
    if (ch === '{' && source[i + 1] === '{') {
      text += '{';
      i += 2;
    } else if (ch === '}' && source[i + 1] === '}') {
      text += '}';
      i += 2;
    } else if (ch === '}') {
      problems.push(`'${source}': unmatched '}' (write '}}' for a literal brace)`);
      i++;
    } else if (ch === '{') {
      const end = source.indexOf('}', i + 1);
      if (end < 0) {
        problems.push(`'${source}': unclosed '{'`);
        break;
      }
      const name = source.slice(i + 1, end);
      i = end + 1;
      const problem = addPlaceholder(name, scope, kinds, texts, slots, paths, flushText);
      if (problem !== null) problems.push(`'${source}': ${problem}`);
    } else {
      text += ch;
      i++;
    }
  }
  flushText();
  if (problems.length > 0) return problems;
  return new Template(source, kinds, texts, slots, paths);
}

function addPlaceholder(
  name: string,
  scope: TemplateScope,
  kinds: number[],
  texts: string[],
  slots: number[],
  paths: (FieldPath | null)[],
  flushText: () => void,
): string | null {
  if (name.startsWith('payload.')) {
    const path = compileFieldPath(name.slice('payload.'.length));
    if (typeof path === 'string') return `placeholder '{${name}}': ${path}`;
    flushText();
    kinds.push(PAYLOAD);
    texts.push('');
    slots.push(-1);
    paths.push(path);
    return null;
  }
  const slot = scope.names === null ? -1 : scope.names.indexOf(name);
  if (slot >= 0) {
    flushText();
    kinds.push(CAPTURE);
    texts.push('');
    slots.push(slot);
    paths.push(null);
    return null;
  }
  if (scope.names === null && name === 'port') {
    flushText();
    kinds.push(PORT);
    texts.push('');
    slots.push(-1);
    paths.push(null);
    return null;
  }
  if (scope.names === null) {
    return `placeholder '{${name}}' is not available in a serial rule (use {port} or {payload.<path>})`;
  }
  const known = scope.names.length > 0 ? scope.names.map((n) => `{${n}}`).join(', ') : 'none';
  return `placeholder '{${name}}' is not a named wildcard of the topic (named wildcards: ${known}; or use {payload.<path>})`;
}
