/**
 * The end-to-end tests' agent: a config file for `fluxion-edge run` reading
 * `sensors/{site}/{device}/telemetry` into collection `telemetry`, and the readings a test
 * publishes with the records the mapping must make of them.
 */
import { join } from 'node:path';

export function pipelineConfigYaml(opts: { dir: string; brokerUrl: string; serverUrl: string; clientId: string; sharedGroup?: string }): string {
  const prefix = opts.sharedGroup === undefined ? '' : `$share/${opts.sharedGroup}/`;
  return `
gateway: { id: ${opts.clientId} }
log: { level: info }
fluxiondb:
  url: ${opts.serverUrl}
  api_key: \${FLUXION_API_KEY}
queue:
  path: ${join(opts.dir, 'queue.db')}
sender:
  backoff: { base: 50ms, cap: 500ms }
  linger: 5ms
mqtt:
  url: ${opts.brokerUrl}
  client_id: ${opts.clientId}
  reconnect: { base: 50ms, cap: 500ms }
  subscriptions:
    - topic: ${prefix}sensors/{site}/{device}/telemetry
      collection: telemetry
      document: "{device}"
      timestamp: { field: ts, unit: ms }
      fields: { temperature: temp }
      coerce: number
      tags: { site: "{site}" }
`;
}

export interface PipelineReading {
  topic: string;
  payload: string;
  record: { col: string; doc: string; ts: number; data: string };
}

/** Reading `i` of a stream over `devices` devices of one site. */
export function pipelineReading(i: number, { site = 'plant-3', devices = 50, baseTs = 1_760_000_000_000 } = {}): PipelineReading {
  const device = `dev-${i % devices}`;
  const ts = baseTs + i;
  const temp = (i % 300) / 10;
  return {
    topic: `sensors/${site}/${device}/telemetry`,
    payload: JSON.stringify({ ts, temp }),
    record: { col: 'telemetry', doc: device, ts, data: JSON.stringify({ temperature: temp, site }) },
  };
}
