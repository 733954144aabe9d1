/**
 * Every error code the code can raise or report is in its table (src/errors.ts for the
 * agent, src/client/errors.ts for the client), so operators and callers can look each one up.
 * Reads the source: a code written as a string anywhere in src/ must be a value of a table.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { FluxionErrorCodes } from '../../src/client/index.js';
import { ErrorCodes } from '../../src/errors.js';

const SRC = join(dirname(fileURLToPath(import.meta.url)), '../../src');
const CODE = /\b(?:EDGE|FLUXION)_ERR_[A-Z0-9_]+\b/g;

function sources(): Array<{ file: string; text: string }> {
  return readdirSync(SRC, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts'))
    .map((f) => ({ file: relative(SRC, join(SRC, f)), text: readFileSync(join(SRC, f), 'utf8') }));
}

describe('error codes', () => {
  const table = new Set<string>([...Object.values(ErrorCodes), ...Object.values(FluxionErrorCodes)]);

  it('every code written in src/ is in a table', () => {
    const unknown: string[] = [];
    for (const { file, text } of sources()) {
      for (const m of text.matchAll(CODE)) if (!table.has(m[0])) unknown.push(`${file}: ${m[0]}`);
    }
    expect(unknown).toEqual([]);
  });

  it('each table names its codes after its keys, once each', () => {
    for (const [key, code] of Object.entries(ErrorCodes)) expect(code).toBe(`EDGE_ERR_${key}`);
    for (const [key, code] of Object.entries(FluxionErrorCodes)) expect(code).toBe(`FLUXION_ERR_${key}`);
    expect(new Set(Object.values(ErrorCodes)).size).toBe(Object.keys(ErrorCodes).length);
  });

  it('the codes the sender and the metadata sync report of their own are in the table', () => {
    expect(table.has('EDGE_ERR_SEND')).toBe(true);
    expect(table.has('EDGE_ERR_METADATA')).toBe(true);
  });
});
