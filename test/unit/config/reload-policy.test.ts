import { describe, expect, it } from 'vitest';
import { changesNeedingRestart, parseConfig } from '../../../src/config/index.js';

const base = {
  fluxiondb: '{ url: "ws://db:8080", api_key: k1 }',
  log: '{ level: info }',
  mqtt: `
  url: mqtt://broker:1883
  subscriptions:
    - { topic: "s/{device}", collection: t, document: "{device}" }`,
  serial: `
  - path: /dev/ttyUSB0
    baud: 9600
    rules:
      - { collection: gps, document: truck, format: nmea }`,
  mapping: '{ on_collision: bump }',
};

function load(over: Partial<typeof base> = {}) {
  const y = { ...base, ...over };
  const text = `fluxiondb: ${y.fluxiondb}\nlog: ${y.log}\nmapping: ${y.mapping}\nmqtt:${y.mqtt}\nserial:${y.serial}\n`;
  return parseConfig(text, { env: {}, baseDir: '/tmp', hostname: 'h' });
}

describe('changesNeedingRestart (from the schema marks)', () => {
  it('nothing for an unchanged config, nor for changes to keys marked live', () => {
    expect(changesNeedingRestart(load(), load())).toEqual([]);
    const live = load({
      log: '{ level: debug }',
      mapping: '{ on_collision: keep }',
      mqtt: base.mqtt.replace('s/{device}', 'x/{device}'),
      serial: base.serial.replace('truck', 'van'),
    });
    expect(changesNeedingRestart(load(), live)).toEqual([]);
  });

  it('names each restart-only change by its config path', () => {
    const changed = load({
      fluxiondb: '{ url: "ws://db2:8080", api_key: k2 }',
      mqtt: base.mqtt.replace('broker:1883', 'broker:1884'),
      serial: base.serial.replace('9600', '4800'),
    });
    expect(changesNeedingRestart(load(), changed)).toEqual(['fluxiondb.url', 'fluxiondb.api_key', 'mqtt.url', 'serial[0].baud']);
  });

  it('reports a file whose contents changed', () => {
    const a = load();
    const b = { ...a, files: { ...a.files, apiKey: 'from-a-file' } };
    expect(changesNeedingRestart(a, b)).toEqual(['fluxiondb.api_key_file (contents)']);
  });
});
