/**
 * Keeps the house in order: reads the relative imports of every src/**\/*.ts file (type-only
 * ones included: a type import across layers is a design dependency all the same) and fails
 * on an import from a lower layer to a higher one, or on any cycle between files.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const SRC = join(dirname(fileURLToPath(import.meta.url)), '../../src');

/**
 * The layers, top first. A unit (a folder of src/, or a file loose in src/ without its
 * `.ts`) may import itself and any unit of a LOWER layer; never one of its own layer or
 * above. A new folder must be placed here before its imports pass.
 */
const LAYERS: readonly (readonly string[])[] = [
  ['cli', 'index'], //             entry points: argument parsing, the package's public surface
  ['config'], //                    YAML -> validated settings for everything below
  ['service'], //                   process, health/metrics endpoint, sd_notify, logging set-up
  ['console'], //                   the web console: a view of the agent, mounted by the service's endpoint
  ['agent'], //                     the composition root
  ['pipeline'], //                  raw message -> mapping -> queue (the inputs' sink)
  ['sparkplug'], //                 the Sparkplug B host side: alias tables, rebirth requests, STATE
  ['inputs', 'metadata', 'sender', 'devserver'], // components
  ['queue', 'mapping'], //          the SQLite owner; pure mapping
  ['shared'], //                    small mechanisms reused by many (backoff, wake, rate-limited log)
  ['client', 'errors', 'version'], // the standalone client; error codes; the version
];

/** A unit's layer index (0 = top). */
function layerOf(unit: string): number {
  const i = LAYERS.findIndex((l) => l.includes(unit));
  if (i < 0) throw new Error(`src/${unit} is not in LAYERS of test/unit/import-graph.test.ts: place it`);
  return i;
}

function unitOf(file: string): string {
  const parts = relative(SRC, file).split(sep);
  return parts.length === 1 ? parts[0]!.replace(/\.ts$/, '') : parts[0]!;
}

/** Every relative import and re-export, resolved to the .ts file it names. */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const out: string[] = [];
  for (const m of text.matchAll(/^\s*(?:import|export)\b[^'"]*?\bfrom\s*['"](\.{1,2}\/[^'"]+)['"]/gm)) {
    out.push(normalize(join(dirname(file), m[1]!)).replace(/\.js$/, '.ts'));
  }
  for (const m of text.matchAll(/\bimport\(\s*['"](\.{1,2}\/[^'"]+)['"]\s*\)/g)) {
    out.push(normalize(join(dirname(file), m[1]!)).replace(/\.js$/, '.ts'));
  }
  return out;
}

function graph(): Map<string, string[]> {
  const files = readdirSync(SRC, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts'))
    .map((f) => join(SRC, f));
  return new Map(files.map((f) => [f, importsOf(f)]));
}

describe('import graph of src/', () => {
  const g = graph();

  it('reads the imports (the scanner finds what it should)', () => {
    expect(g.size).toBeGreaterThan(50);
    const agent = g.get(join(SRC, 'agent.ts'))!;
    expect(agent).toContain(join(SRC, 'queue/index.ts'));
    // every import names a file that exists
    const missing = [...g].flatMap(([f, deps]) => deps.filter((d) => !g.has(d)).map((d) => `${relative(SRC, f)} -> ${relative(SRC, d)}`));
    expect(missing).toEqual([]);
  });

  it('has no import from a lower layer to a higher one (nor sideways between units of one layer)', () => {
    const wrong: string[] = [];
    for (const [file, deps] of g) {
      const from = unitOf(file);
      for (const dep of deps) {
        const to = unitOf(dep);
        if (to === from) continue;
        if (layerOf(to) <= layerOf(from)) wrong.push(`${relative(SRC, file)} -> ${relative(SRC, dep)}`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it('has no cycle between files', () => {
    const cycles: string[] = [];
    const state = new Map<string, 'open' | 'done'>();
    const stack: string[] = [];
    const visit = (f: string): void => {
      state.set(f, 'open');
      stack.push(f);
      for (const d of g.get(f) ?? []) {
        if (state.get(d) === 'open') cycles.push([...stack.slice(stack.indexOf(d)), d].map((x) => relative(SRC, x)).join(' -> '));
        else if (!state.has(d)) visit(d);
      }
      stack.pop();
      state.set(f, 'done');
    };
    for (const f of g.keys()) if (!state.has(f)) visit(f);
    expect(cycles).toEqual([]);
  });

  it('fails on what it guards against (the checks are not vacuous)', () => {
    expect(layerOf('client')).toBeGreaterThan(layerOf('agent'));
    expect(() => layerOf('new-folder')).toThrow(/not in LAYERS/);
  });
});
