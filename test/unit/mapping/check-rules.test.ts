import { describe, expect, it } from 'vitest';
import { checkRules, compileRules, MappingConfigError, type MappingRuleSpec } from '../../../src/mapping/index.js';
import { isAgentError } from '../../../src/errors.js';

describe('checkRules', () => {
  it('lists every problem of a rule list with its path', () => {
    const rules: unknown[] = [
      { topic: 'sensors/{site}/{device}/telemetry', collection: 'telemetry', document: '{device}', fields: { t: 'temp' } },
      { topic: 'sensors/{device}/{device}', collection: 'c', document: '{serial}' },
      { topic: 'a/b', collection: 'c', document: 'd', format: 'csv' },
      { topic: 'a/b', collection: 'c', document: 'd', format: 'regex', regex: '(?<t>[0-9' },
      { topic: 'a/b', collection: 'c', document: 'd', format: 'xml', colection: 'x' },
      { port: 'ttyUSB0', collection: 'c', document: 'd', fields: { site: 'site' }, tags: { site: 'x' }, timestamp: { field: 'ts', unit: 'minutes' } },
    ];
    expect(checkRules(rules)).toEqual([
      { path: 'rules[1].topic', rule: 1, field: 'topic', message: "'sensors/{device}/{device}': wildcard name 'device' is used twice" },
      {
        path: 'rules[1].document', rule: 1, field: 'document',
        message: "'{serial}': placeholder '{serial}' is not a named wildcard of the topic (named wildcards: {device}; or use {payload.<path>})",
      },
      { path: 'rules[2].csv', rule: 2, field: 'csv', message: 'format: csv needs csv: { header: [names...] }' },
      { path: 'rules[3].regex', rule: 3, field: 'regex', message: 'invalid regex: Invalid regular expression: /(?<t>[0-9/: Unterminated character class' },
      { path: 'rules[4].colection', rule: 4, field: 'colection', message: 'unknown setting' },
      { path: 'rules[4].format', rule: 4, field: 'format', message: "unknown format 'xml' (expected json, value, kv, csv, regex, nmea or sparkplug_b)" },
      { path: 'rules[5].timestamp.unit', rule: 5, field: 'timestamp.unit', message: "unknown unit 'minutes' (expected s, ms, us, ns or iso)" },
      { path: 'rules[5].tags.site', rule: 5, field: 'tags.site', message: "clashes with the field 'site' (rename one of them)" },
    ]);
  });

  it('checks sources, kinds, templates and options', () => {
    expect(checkRules(
      [
        { collection: 'c', document: 'd' },
        { topic: 't', port: 'p', collection: 'c', document: 'd' },
        { topic: 't', document: 'd' },
        { topic: 't', kind: 'metadata', collection: 'c', document: '{port}' },
        { port: 'p', collection: 'c', document: '{payload.}', qos: 3, coerce: 'int' },
        { topic: 't/{x}', collection: 'c', document: 'd}', passthrough: true, fields: { a: 'a' } },
        { topic: 't', collection: 'c', document: 'd', format: 'value', tags: { value: 'v' }, fields: undefined, coerce: { nope: 'number' }, kv: {} },
        'not a rule',
      ],
      { on_collision: 'drop', timestamp_floor: -5, collections: { c: { ts_unit_out: 'ns' } } } as never,
    ).map((p) => `${p.path}: ${p.message}`)).toEqual([
      'options.timestamp_floor: must be an integer number of ms since the epoch, >= 0',
      'options.on_collision: must be bump or keep',
      'options.collections.c.ts_unit_out: must be s, ms or us',
      'rules[0].topic: a rule needs topic (MQTT) or port (serial)',
      'rules[1].topic: a rule has either topic (MQTT) or port (serial), not both',
      'rules[2].collection: is required',
      'rules[3].document: \'{port}\': placeholder \'{port}\' is not a named wildcard of the topic (named wildcards: none; or use {payload.<path>})',
      'rules[3].collection: not used by kind: metadata (pairs go to the metadata collection, without time)',
      'rules[4].qos: must be 0, 1 or 2',
      "rules[4].document: '{payload.}': placeholder '{payload.}': empty field path",
      "rules[4].coerce: unknown coercion 'int' (expected none, number or string)",
      "rules[5].document: 'd}': unmatched '}' (write '}}' for a literal brace)",
      'rules[5].fields: not used with passthrough: true (data is the whole payload)',
      'rules[6].kv: only used with format: kv',
      "rules[6].coerce.nope: 'nope' is not one of the fields",
      "rules[6].tags.value: clashes with the field 'value' (rename one of them)",
      'rules[7]: a rule must be an object',
    ]);
  });

  it('returns nothing for good rules, and compileRules throws a config error listing the problems', () => {
    const good: MappingRuleSpec[] = [{ topic: 'a/{d}', collection: 'c', document: '{d}' }];
    expect(checkRules(good)).toEqual([]);
    let caught: unknown;
    try {
      compileRules([{ topic: 'a/{d}', collection: 'c', document: '{e}' }, { topic: '', collection: 'c', document: 'd' }]);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(MappingConfigError);
    expect(isAgentError(caught, 'EDGE_ERR_CONFIG_INVALID')).toBe(true);
    expect((caught as MappingConfigError).problems.map((p) => p.path)).toEqual(['rules[0].document', 'rules[1].topic']);
    expect((caught as Error).message).toBe(
      'invalid mapping rules (2 problems):\n' +
        "  rules[0].document: '{e}': placeholder '{e}' is not a named wildcard of the topic (named wildcards: {d}; or use {payload.<path>})\n" +
        '  rules[1].topic: topic must not be empty',
    );
  });
});
