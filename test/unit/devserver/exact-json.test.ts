import { describe, expect, it } from 'vitest';
import { parseExactJson } from '../../../src/devserver/exact-json.js';
import { toInteger } from '../../../src/devserver/numbers.js';

describe('parseExactJson', () => {
  it('reads what JSON.parse reads when no number reaches 2^53', () => {
    const text = '[{"ts":1700000000000,"doc":"d\\"1","data":"{\\"v\\":1.5e3}","col":"c"}]';
    expect(parseExactJson(text)).toEqual(JSON.parse(text));
  });

  it('keeps integer tokens beyond 2^53 exact, as bigints, everything else as JSON.parse does', () => {
    const text = ' { "a" : [9223372036854775807, -9007199254740993, 1e300, 2.5, "x\\\\", true, false, null, {}], "__proto__": {"b": "\\u00e9\\"}"} } ';
    const v = parseExactJson(text) as Record<string, unknown>;
    expect(v.a).toEqual([9223372036854775807n, -9007199254740993n, 1e300, 2.5, 'x\\', true, false, null, {}]);
    expect(Object.keys(v)).toEqual(['a', '__proto__']);
    expect(v['__proto__']).toEqual({ b: 'é"}' });
  });

  it.each(['[1,]', '{"a":1', '[9007199254740993 1]', '"\\x"', '[01]', '[9007199254740993]x'])('refuses %s like JSON.parse', (text) => {
    expect(() => parseExactJson(text)).toThrow(SyntaxError);
  });
});

describe('toInteger', () => {
  it.each<[unknown, number | bigint]>([
    [9223372036854775807n, 9223372036854775807n],
    [18446744073709551615n, -1],
    [18446744073709551614n, -2],
    [18446744073709551616n, -9223372036854775808n],
    [-9223372036854775809n, -9223372036854775808n],
    [1e300, -9223372036854775808n],
    [-1e300, -9223372036854775808n],
    [1e18, 1000000000000000000n],
    [1500.7, 1500],
    [-0.5, 0],
    ['17abc', 17],
    [' +42', 42],
    ['abc', 0],
    ['99999999999999999999', 9223372036854775807n],
    [true, 0],
    [undefined, 0],
  ])('%s → %s', (input, expected) => {
    expect(toInteger(input)).toBe(expected);
  });
});
