import { describe, expect, it } from 'vitest';
import { checkRules } from '../../../src/mapping/index.js';
import { brief, MINIMAL, problemsFor } from '../config/helpers.js';

const base = { topic: 'a/{d}', collection: 'c', document: '{d}' };

describe('a rule\'s shape is checked once, by the rule schema', () => {
  it('reports each wrong key once, and still checks the meaning of the rest', () => {
    expect(checkRules([
      { ...base, kind: 'metadata', collection: undefined, timestamp: { unit: 'x' } },
      { ...base, sparkplug: 5, tags: { a: 1, b: '{e}' } },
      { ...base, fields: { '': 'x', b: '' }, coerce: { b: 'int' } },
      { topic: 5, collection: 'c', document: 'd' },
      { port: 'p', collection: 'c', document: 'd', csv: { header: ['a', 'a'] }, format: 'csv', report: { min_interval: 'soon' } },
    ]).map((p) => `${p.path}: ${p.message}`)).toEqual([
      'rules[0].timestamp.field: is required: the path of the timestamp in the payload',
      "rules[0].timestamp.unit: unknown unit 'x' (expected s, ms, us, ns or iso)",
      'rules[1].sparkplug: must be an object { node_document }',
      'rules[1].tags.a: must be a string template',
      "rules[1].tags.b: '{e}': placeholder '{e}' is not a named wildcard of the topic (named wildcards: {d}; or use {payload.<path>})",
      'rules[2].fields: an output name must not be empty',
      'rules[2].fields.b: must not be empty',
      "rules[2].coerce.b: unknown coercion 'int' (expected none, number or string)",
      'rules[3].topic: must be a string',
      'rules[4].report.min_interval: must be a duration such as "500ms", "15s", "5m", "24h", "7d", or a number of milliseconds',
      "rules[4].csv.header[1]: column 'a' appears twice",
    ]);
  });

  it('the config reports a serial rule\'s MQTT-only keys once, in its own words', () => {
    const text = `${MINIMAL}serial:
  - path: /dev/ttyS0
    rules:
      - topic: x
        qos: 3
        format: sparkplug_b
        collection: c
        document: "{port}"
        match: { cells: 0, regex: "(" }
      - collection: c
`;
    expect(brief(problemsFor(text))).toEqual([
      expect.stringMatching(/^serial\[0\]\.rules\[0\]\.topic: unknown key/),
      expect.stringMatching(/^serial\[0\]\.rules\[0\]\.qos: unknown key/),
      'serial[0].rules[0].format: must be one of json, value, kv, csv, regex, nmea (got "sparkplug_b")',
      'serial[0].rules[0].match.cells: must be at least 1 (got 0)',
      'serial[0].rules[0].match.regex: is not a valid regex: Invalid regular expression: /(/: Unterminated group',
      'serial[0].rules[1].document: is required',
    ]);
  });
});
