import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../src/config/index.js';
import { brief, MINIMAL, problemsFor } from './helpers.js';

const parse = (text: string) => parseConfig(text, { env: {}, hostname: 'host-1', baseDir: '/etc/fluxion-edge' });
const RULE = '    rules:\n      - { collection: c, document: d, format: kv }\n';

describe('serial config', () => {
  it('applies every default and maps a port onto SerialPortOptions, its rules bound to the port name', () => {
    const { settings } = parse(`${MINIMAL}serial:\n  - path: /dev/serial/by-id/usb-FTDI_X-if00-port0\n${RULE}`);
    expect(settings.serial).toEqual([
      {
        input: {
          name: 'usb-FTDI_X-if00-port0',
          path: '/dev/serial/by-id/usb-FTDI_X-if00-port0',
          baudRate: 9600,
          dataBits: 8,
          parity: 'none',
          stopBits: 1,
          flowControl: 'none',
          delimiter: '\n',
          maxLineBytes: 4096,
          encoding: 'utf8',
          reopenBaseMs: 200,
          reopenCapMs: 5000,
          commitDelayMs: 250,
        },
        rules: [{ port: 'usb-FTDI_X-if00-port0', collection: 'c', document: 'd', format: 'kv', kind: 'records' }],
      },
    ]);
  });

  it('maps every setting', () => {
    const { settings } = parse(`${MINIMAL}serial:
  - name: meter
    path: /dev/ttyUSB0
    baud: 115200
    data_bits: 7
    parity: even
    stop_bits: 2
    flow_control: rts_cts
    frame_regex: "<[^>]*>"
    max_line_bytes: 1KiB
    encoding: latin1
    reopen: { base: 1s, cap: 1m }
    commit_delay: 50ms
    poll: { command: "READ\\r\\n", schedule: "*/10 * * * * *" }
${RULE}`);
    expect(settings.serial![0]!.input).toEqual({
      name: 'meter', path: '/dev/ttyUSB0', baudRate: 115200, dataBits: 7, parity: 'even', stopBits: 2, flowControl: 'rts_cts',
      delimiter: '\n', frameRegex: '<[^>]*>', maxLineBytes: 1024, encoding: 'latin1', reopenBaseMs: 1000, reopenCapMs: 60_000,
      commitDelayMs: 50, poll: { command: 'READ\r\n', schedule: '*/10 * * * * *', responseTimeoutMs: 2000 },
    });
  });

  it('reports every bad setting with its path and how to fix it', () => {
    const problems = brief(problemsFor(`${MINIMAL}serial:
  - path: /dev/ttyUSB0
    baud: 9601
    data_bits: 9
    parity: maybe
    stop_bits: 3
    flow_control: dtr
    max_line_bytes: 2
    frame_regex: "a*"
    delimiter: ";"
    reopen: { base: 10s, cap: 1s }
    poll: { command: "R", schedule: "every 10s" }
    rules:
      - { topic: a/b, collection: c, document: d, format: nmea, nmea: { sentences: [GSV] } }
      - { collection: c, document: "{device}" }
  - name: other
    path: /dev/ttyUSB0
    rules: []
  - path: /dev/other/ttyUSB0
${RULE}`));
    expect(problems).toEqual([
      expect.stringMatching(/^serial\[0\]\.baud: must be one of 50, 75, .*, 9600, 19200, .*, 4000000 \(got 9601\)$/),
      'serial[0].data_bits: must be one of 5, 6, 7, 8 (got 9)',
      'serial[0].parity: must be one of none, even, odd, mark, space (got "maybe")',
      'serial[0].stop_bits: must be one of 1, 1.5, 2 (got 3)',
      'serial[0].flow_control: must be one of none, rts_cts, xon_xoff (got "dtr")',
      'serial[0].max_line_bytes: must be at least 16 bytes (got 2)',
      'serial[0].frame_regex: must not match an empty string (a frame needs at least one byte) (got "a*")',
      'serial[0].reopen.base: must not exceed reopen.cap (1s) (got 10s)',
      'serial[0].poll.schedule: must be a cron expression; six fields for seconds, e.g. "*/10 * * * * *" (every 10 s) (got "every 10s")',
      'serial[0].rules[0].topic: unknown key (known keys: kind, collection, document, format, kv, csv, regex, nmea, timestamp, fields, coerce, tags, passthrough, report, aggregate, match)',
      "serial[0].rules[0].nmea.sentences[0]: must be one of GGA, RMC (got \"GSV\")",
      expect.stringMatching(/^serial\[0\]\.rules\[1\]\.document: '\{device\}': /),
      'serial[1].path: serial[0] reads the same device (a port can be read by one entry only)',
      'serial[1].rules: must list at least one rule (how a line becomes readings) (got an empty list)',
      "serial[2].path: port name 'ttyUSB0' is also the name of serial[0] (names must be unique: set name)",
    ]);
  });
});
