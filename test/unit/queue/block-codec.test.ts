/**
 * The block body (block-codec.ts): version 3 keeps each row's text JSON-escaped, so that a
 * lease sends the inflated bytes inside the frame's `data` string as they are. Whatever a
 * row holds (quotes, backslashes, control characters, non-ASCII, a lone surrogate), the
 * escaped bytes are exactly what JSON.stringify would have made of the text, and the text
 * comes back exactly; blocks of versions 1 and 2 (unescaped) give the same answers.
 */
import { describe, expect, it } from 'vitest';
import { decodeBlock, encodeBlock, insJson, type BlockRow } from '../../../src/queue/block-codec.js';

const datas = [
  '{"temperature":21.5,"humidity":40.2}',
  '{"v":"say \\"hi\\" \\\\ back"}',
  'tab\there, newline\nhere, nul\u0000 and \u001f',
  'ünïcödé ✓ 温度 🌡',
  'lone \ud800 surrogate and \udfff too',
  '',
];

function rows(n: number): BlockRow[] {
  return Array.from({ length: n }, (_, k) => ({
    id: 100 + k,
    enqueuedAt: 1_700_000_000_000 + k * 7,
    bytes: 60 + k,
    json: insJson({ ts: 1000 + k, doc: `dev-${k % 3} "x"`, data: datas[k % datas.length]!, col: 'c' }),
  }));
}

describe('block body', () => {
  for (const version of [1, 2, 3]) {
    it(`version ${version}: every slice comes back as its text and as exactly JSON.stringify's escape of it`, () => {
      const r = rows(25);
      const d = decodeBlock(encodeBlock(r, version));
      expect(d.version).toBe(version);
      expect(Array.from(d.ids)).toEqual(r.map((x) => x.id));
      for (const [a, b] of [[0, 1], [0, 25], [3, 4], [5, 17], [24, 25]] as const) {
        const text = r.slice(a, b).map((x) => x.json).join(',');
        expect(d.json(a, b)).toBe(text);
        expect(d.escaped(a, b).toString('utf8')).toBe(JSON.stringify(text).slice(1, -1));
        // The slice inside quotes parses back to the rows' objects.
        expect(JSON.parse(`[${JSON.parse(`"${d.escaped(a, b).toString('utf8')}"`) as string}]`)).toEqual(r.slice(a, b).map((x) => JSON.parse(x.json)));
      }
      for (let k = 0; k < 25; k++) expect(d.row(k).data).toBe(datas[k % datas.length]);
    });
  }

  it('writes version 3 by default', () => {
    expect(decodeBlock(encodeBlock(rows(2))).version).toBe(3);
  });
});
