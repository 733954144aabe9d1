import { describe, expect, it } from 'vitest';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const DIR = fileURLToPath(new URL('../../../src/console/assets/', import.meta.url));

describe('the console assets', () => {
  const files = readdirSync(DIR);

  it('stay small (a Raspberry Pi serves them; the budget is 150 KB)', () => {
    const total = files.reduce((n, f) => n + statSync(`${DIR}${f}`).size, 0);
    expect(total).toBeLessThan(150 * 1024);
  });

  it('load nothing from elsewhere and hold no inline script, style or event handler', () => {
    for (const f of files) {
      const text = readFileSync(`${DIR}${f}`, 'utf8');
      expect(text, f).not.toMatch(/https?:\/\/(?!www\.w3\.org\/2000\/svg)/);
      if (f.endsWith('.html')) {
        expect(text, f).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
        expect(text, f).not.toMatch(/\son[a-z]+=/i);
        expect(text, f).not.toMatch(/<style|style=/i);
      }
      if (f.endsWith('.js')) expect(text, f).not.toMatch(/innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(/);
    }
  });
});
