import { basename } from 'node:path';
import cron from 'node-cron';
import { z } from 'zod';
import { STANDARD_BAUD_RATES } from '../../inputs/serial/types.js';
import { matchSchema, ruleSchema, textFormatSchema } from '../../mapping/rule-schema.js';
import { duration, size } from './units.js';
import { LIVE_ON_RELOAD } from './reload.js';

const SERIAL_TEMPLATE_HELP = 'Placeholders: `{port}` the port name, `{payload.path}` a scalar of the parsed line.';

/** A serial rule: a mapping rule without topic and qos; its port is the entry's name. */
export const serialRuleSchema = ruleSchema.omit({ topic: true, qos: true, sparkplug: true }).extend({
  format: textFormatSchema,
  collection: z.string().min(1).optional().meta({
    description: `Collection template (required for kind: records, not allowed for kind: metadata). ${SERIAL_TEMPLATE_HELP}`,
  }),
  document: z.string().min(1).meta({ description: `Document template (for kind: metadata, the device). Required. ${SERIAL_TEMPLATE_HELP}` }),
  match: matchSchema,
});

/** The name of a port entry: `name`, or the last part of its path (`/dev/ttyUSB0` -> `ttyUSB0`). */
export function serialPortName(entry: { name?: string | undefined; path: string }): string {
  return entry.name ?? basename(entry.path);
}

const portSchema = z
  .strictObject({
    name: z
      .string()
      .regex(/^[A-Za-z0-9._-]+$/, { error: 'must be letters, digits, dot, underscore or hyphen, e.g. gps or meter-1' })
      .optional()
      .meta({ description: 'Port name: the `{port}` of templates and the origin of dead letters. Default: the last part of path (`ttyUSB0`).' }),
    path: z.string().regex(/^\S+$/, { error: 'must be a device path without spaces, e.g. /dev/serial/by-id/usb-FTDI_FT232R-if00-port0' }).meta({
      description:
        'Device path. Use `/dev/serial/by-id/...`: it names the adapter itself, while `/dev/ttyUSB0` can name another one after a re-plug or a reboot. A port absent at start is waited for, not an error. Required.',
    }),
    baud: z.literal(STANDARD_BAUD_RATES).default(9600).meta({ description: 'Baud rate: a standard rate (9600, 19200, 38400, 57600, 115200, ...).' }),
    data_bits: z.literal([5, 6, 7, 8]).default(8).meta({ description: 'Data bits: 5, 6, 7 or 8.' }),
    parity: z.enum(['none', 'even', 'odd', 'mark', 'space']).default('none').meta({ description: 'Parity: none, even, odd, mark or space.' }),
    stop_bits: z.literal([1, 1.5, 2]).default(1).meta({ description: 'Stop bits: 1, 1.5 or 2.' }),
    flow_control: z.enum(['none', 'rts_cts', 'xon_xoff']).default('none').meta({
      description: 'Flow control: `rts_cts` (hardware: the device waits while the agent cannot take more), `xon_xoff` (software), or `none`.',
    }),
    delimiter: z.string().min(1).max(8).default('\n').meta({
      description:
        'Text that ends a line (YAML escapes in double quotes: "\\r\\n", "\\u0003"). With "\\n", "\\r" or "\\r\\n", any CR or LF ends a line (CR/LF tolerant) and empty lines are skipped. Not with frame_regex.',
    }),
    frame_regex: z
      .string()
      .min(1)
      .superRefine((v, ctx) => {
        let re: RegExp;
        try {
          re = new RegExp(v);
        } catch (err) {
          ctx.addIssue({ code: 'custom', message: `is not a valid regex: ${(err as Error).message}` });
          return;
        }
        if (re.test('')) ctx.addIssue({ code: 'custom', message: 'must not match an empty string (a frame needs at least one byte)' });
      })
      .optional()
      .meta({
        description:
          'Frames are the matches of this regex in the byte stream, instead of delimited lines, e.g. `\\$[^$\\r\\n]*\\*[0-9A-F]{2}`. It must match a whole frame, its end included. Non-blank bytes between frames are dead-lettered.',
      }),
    max_line_bytes: size({ min: 16, max: 1024 * 1024 }).prefault('4KiB').meta({
      description: 'Longest line: a longer one is dead-lettered (its first bytes kept) instead of growing memory.',
    }),
    encoding: z.enum(['utf8', 'latin1']).default('utf8').meta({
      description: 'Text encoding of the lines: `utf8` (lines that are not valid UTF-8 are dead-lettered) or `latin1`.',
    }),
    reopen: z
      .strictObject({
        base: duration({ min: 1 }).prefault('200ms').meta({ description: 'Ceiling of the first delay before reopening a vanished or absent port (each delay is drawn at random below its ceiling, so gateways re-plugged together do not retry in lockstep).' }),
        cap: duration({ min: 1 }).prefault('5s').meta({ description: 'Largest ceiling of the delay between attempts (the ceiling doubles per failed attempt).' }),
      })
      .prefault({})
      .meta({ description: 'Reopening a port that vanished (unplugged, USB re-enumeration) or is not there yet: backoff until it is back.' }),
    commit_delay: duration({ max: 1000 }).prefault('250ms').meta({
      description: 'Lines read within this time of the first one share one queue commit (one fsync, whole 4 KiB pages written). This is the loss window: a serial device cannot send a line again, so an agent crash or a power cut loses the lines read in the last commit_delay. Longer saves flash wear (a device faster than one line per commit_delay shares commits); shorter narrows the window.',
    }),
    poll: z
      .strictObject({
        command: z.string().min(1).meta({ description: 'Text written to the port, e.g. "READ\\r\\n" (double quotes for escapes). Required.' }),
        schedule: z
          .string()
          .refine((v) => cron.validate(v), { error: 'must be a cron expression; six fields for seconds, e.g. "*/10 * * * * *" (every 10 s)' })
          .meta({ description: 'When to poll: a node-cron expression (six fields with seconds: "*/10 * * * * *" is every 10 s). Required.' }),
        response_timeout: duration({ min: 1 }).prefault('2s').meta({
          description: 'A poll without a line in answer within this time is counted as missed (status `polls.timeouts`).',
        }),
      })
      .optional()
      .meta({ description: 'Request/response devices: a command written on a schedule; the lines it brings back are mapped like any other.' }),
    rules: z.array(serialRuleSchema).min(1, { error: 'must list at least one rule (how a line becomes readings)' }).meta({
      ...LIVE_ON_RELOAD,
      description:
        'Mapping rules for this port\'s lines (the same as MQTT subscriptions, without topic and qos, plus `match`). Tried in order: the first rule that takes a line (its `match` selects it, or, without `match`, it maps it) decides. At least one.',
    }),
  });

export const serialSection = z.array(portSchema).optional().meta({
  description: 'Serial ports (NMEA GPS, meters, sensors printing lines). Absent: no serial input. Each port is read and reopened on its own.',
});
