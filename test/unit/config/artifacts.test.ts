import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseConfig } from '../../../src/config/index.js';
import { renderJsonSchema, renderReference } from '../../../src/config/reference.js';

const root = (p: string): string => fileURLToPath(new URL(`../../../${p}`, import.meta.url));

describe('generated and example config files', () => {
  it('config.schema.json is what the schema produces now (regenerate: node scripts/gen-config-docs.mjs)', () => {
    expect(readFileSync(root('config.schema.json'), 'utf8')).toBe(renderJsonSchema());
  });

  it('docs/configuration.md is what the schema produces now (regenerate: node scripts/gen-config-docs.mjs)', () => {
    expect(readFileSync(root('docs/configuration.md'), 'utf8')).toBe(renderReference());
  });

  it('the JSON Schema documents every key and accepts durations and sizes as strings or numbers', () => {
    const schema = JSON.parse(readFileSync(root('config.schema.json'), 'utf8')) as {
      $schema: string;
      properties: Record<string, { properties?: Record<string, { description?: string; anyOf?: Array<{ type: string }> }> }>;
    };
    expect(schema.$schema).toBe('http://json-schema.org/draft-07/schema#');
    const undocumented: string[] = [];
    for (const [section, node] of Object.entries(schema.properties)) {
      for (const [key, child] of Object.entries(node.properties ?? {})) if (!child.description) undocumented.push(`${section}.${key}`);
    }
    expect(undocumented).toEqual([]);
    expect(schema.properties.queue!.properties!.retain_sent!.anyOf!.map((a) => a.type)).toEqual(['integer', 'string']);
    expect(schema.properties.queue!.properties!.max_bytes!.anyOf!.map((a) => a.type)).toEqual(['integer', 'string']);
  });

  it('config.example.yaml is valid with the variables it references', () => {
    const text = readFileSync(root('config.example.yaml'), 'utf8');
    const { config, settings, warnings } = parseConfig(text, {
      env: { FLUXION_API_KEY: 'example-api-key', MQTT_PASSWORD: 'example-password' },
      baseDir: root('.'),
      hostname: 'ignored',
    });
    expect(warnings).toEqual([]);
    expect(config.gateway.id).toBe('gw-plant-3');
    expect(settings.agent.fluxiondb.url).toBe('ws://db.example:8080');
    expect(settings.mqtt?.rules.map((r) => r.format)).toEqual(['json', 'csv', 'kv', 'value', 'json']);
    expect(settings.mqtt?.input.subscriptions).toEqual([
      { filter: 'sensors/+/+/telemetry', qos: 1 },
      { filter: 'plant/+/meter/+', qos: 1 },
      { filter: 'plc/+/status', qos: 1 },
      { filter: 'tanks/+/level', qos: 1 },
      { filter: 'sensors/+/+/info', qos: 1 },
    ]);
    // Every top-level section of the schema appears in the example.
    expect(Object.keys(config).sort()).toEqual(['console', 'fluxiondb', 'gateway', 'health', 'log', 'mapping', 'metadata', 'modbus', 'mqtt', 'queue', 'sender', 'serial']);
  });
});
