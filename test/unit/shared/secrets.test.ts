import { describe, expect, it } from 'vitest';
import { displayUrl, passwordInUrl, Secrets } from '../../../src/shared/secrets.js';

describe('Secrets', () => {
  it('scrubs each secret in every form text may carry it (as is, URL-encoded, JSON-escaped)', () => {
    const s = new Secrets(['k/ey"1', undefined, '', 'pw']);
    expect(s.values).toEqual(['k/ey"1', 'pw']);
    const text = `a k/ey"1 b ${encodeURIComponent('k/ey"1')} c ${JSON.stringify('k/ey"1')} d pw`;
    expect(s.scrub(text)).toBe('a *** b *** c "***" d ***');
    expect(Secrets.none.scrub(text)).toBe(text);
  });

  it('replaces a secret that contains another one whole', () => {
    expect(new Secrets(['abc', 'abcdef']).scrub('x abcdef y')).toBe('x *** y');
  });

  it('tells a value that holds a secret', () => {
    const s = new Secrets(['k-secret']);
    expect(s.heldBy('x-k-secret-y')).toBe(true);
    expect(s.heldBy('k-secre')).toBe(false);
    expect(Secrets.none.heldBy('anything')).toBe(false);
  });

  it('shows a URL without user info, query or fragment; finds the password in it', () => {
    expect(displayUrl('mqtt://edge:p%40ss@broker:1883/?x=1#f')).toBe('mqtt://broker:1883');
    expect(displayUrl('ws://db:8080/path?api-key=k')).toBe('ws://db:8080/path');
    expect(displayUrl('not a url')).toBe('(invalid url)');
    expect(passwordInUrl('mqtt://edge:p%40ss@broker:1883')).toBe('p@ss');
    expect(passwordInUrl('mqtt://broker:1883')).toBeUndefined();
  });
});
