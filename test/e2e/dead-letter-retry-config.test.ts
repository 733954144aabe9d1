/**
 * `dead-letter retry --config FILE`: raw MQTT payloads and serial lines that no rule mapped
 * are mapped again with the config's current rules; what maps is queued (and sent by the
 * agent), what does not stays a dead letter with its new reason.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { nmeaChecksum } from '../../src/mapping/nmea.js';
import { readKvOutbox, SqliteQueue } from '../../src/queue/index.js';
import { sendQueueToDevServer, TEST_KEY } from '../helpers/agent.js';
import { runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';

const AT = Date.UTC(2025, 0, 10, 8, 0, 0);
const RMC = (() => {
  const body = 'GPRMC,123519,A,4807.038,N,01131.000,E,022.4,084.4,170524,003.1,W';
  return `$${body}*${nmeaChecksum(body)}`;
})();

describe('fluxion-edge dead-letter retry --config (built CLI)', () => {
  const cleanups: Array<() => Promise<unknown> | unknown> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  it('maps raw payloads again with the current rules: queues what maps, keeps the rest with its new reason', async () => {
    const dir = tempDir();
    cleanups.push(() => dir.cleanup());
    const queuePath = join(dir.path, 'queue.db');
    const queue = new SqliteQueue({ path: queuePath, synchronous: 'normal' }, { now: () => AT });
    queue.start();
    // What an agent whose rules were wrong or missing filed.
    queue.deadLetterMany([
      { reason: "no_rule: no rule matches topic 'plc/press-1/status'", source: 'mqtt', origin: 'plc/press-1/status', payload: Buffer.from('state=run speed=1200') },
      { reason: 'parse_error: payload is not valid JSON', source: 'mqtt', origin: 'plc/press-2/status', payload: Buffer.from('state=stop speed=') },
      { reason: "no_rule: no rule matches port 'gps'", source: 'serial', origin: 'gps', payload: Buffer.from(RMC) },
      { reason: "parse_error: kv pair 'FW' has no '='", source: 'serial', origin: 'meter', payload: Buffer.from('FW=2.1.3') },
      { reason: 'parse_error: payload does not match the regex', source: 'serial', origin: 'meter', payload: Buffer.from('garbage') },
      // The head of an over-long line: not a whole line, never mapped again.
      { reason: 'too_large: line of 5000 bytes is over max_line_bytes (16); its first 16 bytes are kept', source: 'serial', origin: 'meter', payload: Buffer.from('V=230.1 I=4.20 P') },
      { reason: 'server_rejected', source: 'sender', record: { col: 'telemetry', doc: 'd-1', ts: AT, data: '{"t":1}' } },
    ]);
    queue.stop();

    const configPath = join(dir.path, 'config.yaml');
    writeFileSync(
      configPath,
      `fluxiondb: { url: "ws://127.0.0.1:1", api_key: "${TEST_KEY}" }
queue: { path: ${queuePath}, synchronous: normal }
mqtt:
  url: mqtt://127.0.0.1:1
  subscriptions:
    - topic: plc/{machine}/status
      collection: machines
      document: "{machine}"
      format: kv
      fields: { state: state, speed: speed }
      coerce: { speed: number }
serial:
  - name: gps
    path: /dev/null-gps
    rules:
      - { collection: gps, document: truck-7, format: nmea, timestamp: { field: time, unit: iso }, fields: { lat: lat, lon: lon } }
  - name: meter
    path: /dev/null-meter
    rules:
      - { kind: metadata, document: "{port}", match: { prefix: "FW=" }, format: regex, regex: "^FW=(?<firmware>\\\\S+)" }
      - { collection: energy, document: "{port}", format: regex, regex: "V=(?<voltage>[\\\\d.]+)" }
`,
      { mode: 0o600 },
    );

    const r = await runCli(['dead-letter', 'retry', '--config', configPath, '--all']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(
      'retried 4, re-queued 3 records, skipped 3\n' +
        '1 metadata pairs recorded for the metadata sync\n' +
        'still unmapped 2: kept with the reason the current rules give (fluxion-edge dead-letter list)\n',
    );

    const after = new SqliteQueue({ path: queuePath, synchronous: 'normal' });
    after.start();
    expect(after.listDeadLetters().map((d) => [d.id, d.origin, d.reason])).toEqual([
      [2, 'plc/press-2/status', 'bad_type: field \'speed\' is "", not a number'],
      [5, 'meter', 'rules[0] no_rule: not selected: the line does not start with "FW="; rules[1] parse_error: payload does not match the regex'],
      [6, 'meter', 'too_large: line of 5000 bytes is over max_line_bytes (16); its first 16 bytes are kept'],
    ]);
    after.stop();
    expect(readKvOutbox(queuePath).map((e) => [e.col, e.key, e.value, e.state])).toEqual([['metadata', 'meter:firmware', '2.1.3', 'pending']]);

    // An agent then sends what was queued.
    const server = await sendQueueToDevServer(dir.path, cleanups);
    expect(server.records('machines', 'press-1')).toEqual([{ ts: AT, data: '{"state":"run","speed":1200}' }]);
    expect(server.records('gps', 'truck-7')).toEqual([{ ts: Date.UTC(2024, 4, 17, 12, 35, 19), data: '{"lat":48.1173,"lon":11.516666667}' }]);
    expect(server.records('telemetry', 'd-1')).toEqual([{ ts: AT, data: '{"t":1}' }]);
  });
});
