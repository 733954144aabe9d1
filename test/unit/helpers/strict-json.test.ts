import { describe, expect, it } from 'vitest';
import { parseLogLines, parseStrictJson, StrictJsonError } from '../../helpers/strict-json.js';

describe('parseStrictJson (the log-line checker)', () => {
  it('reads what JSON.parse reads', () => {
    const text = '{"level":30,"a":[1,-2.5e3,true,false,null,{"b":"x\\"y\\u00e9"}],"msg":"ok"}';
    expect(parseStrictJson(text)).toEqual(JSON.parse(text));
  });

  it('refuses a key twice in one object, at any depth, and malformed text', () => {
    expect(() => parseStrictJson('{"level":30,"msg":"x","level":"info"}')).toThrow(StrictJsonError);
    expect(() => parseStrictJson('{"a":{"port":"line1","port":"line1"}}')).toThrow(/duplicate key "port"/);
    expect(() => parseStrictJson('{"a":1}x')).toThrow(StrictJsonError);
    expect(() => parseStrictJson('{"a":01}')).toThrow(StrictJsonError);
    expect(parseStrictJson('[{"a":1},{"a":2}]')).toEqual([{ a: 1 }, { a: 2 }]);
  });

  it('names the offending log line', () => {
    expect(() => parseLogLines('{"a":1}\n{"b":1,"b":2}\n')).toThrow(/log line is not strict JSON .*\n\{"b":1,"b":2\}/);
  });
});
