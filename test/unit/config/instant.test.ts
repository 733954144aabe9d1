import { describe, expect, it } from 'vitest';
import { parseIsoInstant } from '../../../src/config/schema/index.js';
import { parseConfig } from '../../../src/config/index.js';
import { isAgentError } from '../../../src/errors.js';

/** The one ISO 8601 parser: config instants, `--since`/`--until`, `map --received-at`. */
describe('parseIsoInstant', () => {
  it.each([
    ['2024-02-29T00:00:00Z', Date.UTC(2024, 1, 29)],
    ['2024-05-01T12:00:00.5Z', Date.UTC(2024, 4, 1, 12, 0, 0, 500)],
    ['2024-05-01T12:00:00+02:00', Date.UTC(2024, 4, 1, 10)],
    ['2024-05-01', Date.UTC(2024, 4, 1)],
    ['1970-01-01T00:00:00Z', 0],
  ])('reads %s', (text, ms) => {
    expect(parseIsoInstant(text)).toBe(ms);
  });

  it.each(['2024-02-30T00:00:00Z', '2023-02-29T00:00:00Z', '2024-04-31', '2024-05-01T10:00:00', '2024-05-01T24:00:00Z', 'Wed, 01 May 2024 10:00:00 +0200', ''])(
    'refuses %j (Date.parse would take some of these, and roll 30 February over to 1 March)',
    (text) => {
      expect(parseIsoInstant(text)).toBeNull();
    },
  );

  it('is what the config uses: mapping.timestamp_floor on 30 February is a config error', () => {
    const yaml = (floor: string) => `fluxiondb: { url: "ws://db:8080", api_key: k }\nmapping: { timestamp_floor: "${floor}" }\n`;
    const ok = parseConfig(yaml('2024-02-29T00:00:00Z'), { env: {}, baseDir: '/tmp', hostname: 'h' });
    expect(ok.settings.mapping.timestamp_floor).toBe(Date.UTC(2024, 1, 29));
    let caught: unknown;
    try {
      parseConfig(yaml('2024-02-30T00:00:00Z'), { env: {}, baseDir: '/tmp', hostname: 'h' });
    } catch (err) {
      caught = err;
    }
    expect(isAgentError(caught, 'EDGE_ERR_CONFIG_INVALID')).toBe(true);
  });
});
