/**
 * `check` lists cross-check problems together with schema problems, not on the next attempt;
 * and warns when a metadata key is set both in the config and by a device rule.
 */
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../src/config/index.js';
import { brief, MINIMAL, problemsFor } from './helpers.js';

describe('cross-checks beside schema problems', () => {
  it('reports the metadata collection receiving readings while a rule of the same list is invalid', () => {
    const problems = brief(problemsFor(`${MINIMAL}mqtt:
  url: mqtt://127.0.0.1:1883
  subscriptions:
    - { topic: "a/{device}", collection: metadata, document: "{device}" }
    - { topic: "b/{device}", collection: b, document: "{device}", qos: 5 }
serial:
  - path: /dev/ttyUSB0
    baud: 9601
    rules:
      - { collection: metadata, document: meter }
`));
    expect(problems).toEqual([
      'mqtt.subscriptions[1].qos: must be one of 0, 1, 2 (got 5)',
      expect.stringMatching(/^serial\[0\]\.baud: must be one of .* \(got 9601\)$/),
      "metadata.collection: 'metadata' is also the collection of readings of mqtt.subscriptions[0], serial[0].rules[0]: deleting its last document would delete the metadata with it; give metadata a collection of its own",
    ]);
  });
});

describe('a metadata key set both statically and by a device rule', () => {
  it('warns, naming the rule and saying that the config wins', () => {
    const { warnings } = parseConfig(`${MINIMAL}mqtt:
  url: mqtt://127.0.0.1:1883
  subscriptions:
    - { topic: "devices/{device}/meta", kind: metadata, document: "{device}", fields: { model: model, fw: firmware } }
    - { topic: "other/{device}/meta", kind: metadata, document: "{device}" }
serial:
  - name: meter
    path: /dev/ttyUSB0
    rules:
      - { kind: metadata, document: "{port}", format: regex, regex: "^FW=(?<firmware>\\\\S+)" }
metadata:
  devices:
    device-1: { model: TH-200, location: hall }
    meter: { firmware: 1.0.0, model: EM-1 }
`, { env: {}, hostname: 'h' });
    expect(warnings.map((w) => `${w.path}: ${w.message}`)).toEqual([
      "metadata.devices.device-1.model: is also set by the kind: metadata rule mqtt.subscriptions[0]: the value in the config wins and the device's report of it is ignored (remove one of the two)",
      "metadata.devices.meter.firmware: is also set by the kind: metadata rule serial[0].rules[0]: the value in the config wins and the device's report of it is ignored (remove one of the two)",
      "metadata.devices.meter.model: is also set by the kind: metadata rule mqtt.subscriptions[0]: the value in the config wins and the device's report of it is ignored (remove one of the two)",
    ]);
  });
});
