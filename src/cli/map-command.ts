/**
 * `fluxion-edge map`: runs one message through the configured rules, exactly as the agent
 * would, and prints what it would store. For trying a rule before it goes live.
 */
import { readFileSync } from 'node:fs';
import { formatProblems, loadConfig, problemsOf } from '../config/index.js';
import type { EdgeSettings } from '../config/index.js';
import { AgentError, ErrorCodes, isAgentError } from '../errors.js';
import { compileRules, type MapResult, type RawMessage } from '../mapping/index.js';
import { ExitCodes, type CommandIo } from '../service/process-io.js';
import { parseCommandArgs, stringOption } from './args.js';
import { parseDuration } from '../config/schema/units.js';
import { isSequenceFile, mapSequence, type SequenceRequest } from './map-sequence.js';

const USAGE = `usage: fluxion-edge map --config FILE (--topic T | --port P) (--payload TEXT | --payload-file F) [--received-at ISO|MS] [--interval D]

Maps one message with the rules of the config and prints, as JSON, the records it would
produce ({col, doc, ts, ts_iso, data}) and its metadata pairs; exit 0. A message that
produces nothing prints {rejected, reason} and exits 1. --received-at sets the receive
time (ISO 8601 or ms since the epoch; default now), used when a rule takes no timestamp
from the payload.

A --payload-file ending in .jsonl or .ndjson is a sequence: one payload per line, received
--interval apart (default 1s) from --received-at. Each reading is shown with the decision of
its rule's report: / aggregate: settings (sent or not, and why), then the windows the
sequence would write, and a summary.
`;

const OPTIONS = {
  config: { type: 'string', short: 'c' },
  topic: { type: 'string' },
  port: { type: 'string' },
  payload: { type: 'string' },
  'payload-file': { type: 'string' },
  'received-at': { type: 'string' },
  interval: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

interface MapRequest {
  configPath: string;
  message: RawMessage;
  sequence: SequenceRequest | null;
}

export async function run(args: string[], io: CommandIo): Promise<number> {
  let req: MapRequest | null;
  try {
    req = parseRequest(args);
  } catch (err) {
    if (!isAgentError(err, ErrorCodes.USAGE)) throw err;
    io.stderr.write(`fluxion-edge map: ${err.message}\n\n${USAGE}`);
    return ExitCodes.USAGE;
  }
  if (req === null) {
    io.stdout.write(USAGE);
    return ExitCodes.OK;
  }
  let settings: EdgeSettings;
  try {
    settings = loadConfig(req.configPath, io.env).settings;
  } catch (err) {
    if (!isAgentError(err, ErrorCodes.CONFIG_INVALID)) throw err;
    io.stderr.write(`${formatProblems(problemsOf(err))}\n`);
    return ExitCodes.CONFIG;
  }
  const rules = [...(settings.mqtt?.rules ?? [])];
  if (req.sequence !== null) {
    io.stdout.write(`${JSON.stringify(mapSequence(req.sequence, rules, settings), null, 2)}\n`);
    return ExitCodes.OK;
  }
  const result = compileRules(rules, settings.mapping).map(req.message);
  io.stdout.write(`${JSON.stringify(present(result, settings), null, 2)}\n`);
  return result.ok ? ExitCodes.OK : ExitCodes.FAILURE;
}

function parseRequest(args: string[]): MapRequest | null {
  const p = parseCommandArgs(args, OPTIONS);
  if (p.values.help === true) return null;
  const configPath = stringOption(p, 'config', true);
  const topic = stringOption(p, 'topic');
  const port = stringOption(p, 'port');
  if ((topic === undefined) === (port === undefined)) throw new AgentError(ErrorCodes.USAGE, 'give exactly one of --topic and --port');
  const text = stringOption(p, 'payload');
  const file = stringOption(p, 'payload-file');
  if ((text === undefined) === (file === undefined)) throw new AgentError(ErrorCodes.USAGE, 'give exactly one of --payload and --payload-file');
  let payload: Uint8Array | string;
  if (text !== undefined) payload = text;
  else {
    try {
      payload = readFileSync(file!);
    } catch (err) {
      throw new AgentError(ErrorCodes.USAGE, `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, { cause: err });
    }
  }
  const receivedAt = parseReceivedAt(stringOption(p, 'received-at'));
  const message: RawMessage = topic !== undefined
    ? { source: 'mqtt', topic, payload, receivedAt }
    : { source: 'serial', port: port!, payload, receivedAt };
  const interval = stringOption(p, 'interval');
  const intervalMs = interval === undefined ? 1000 : parseDuration(/^\d+$/.test(interval) ? Number(interval) : interval);
  if (intervalMs === null) throw new AgentError(ErrorCodes.USAGE, `--interval must be a duration such as 1s or 500ms, got '${interval}'`);
  const sequence = file !== undefined && isSequenceFile(file)
    ? { lines: payload.toString().split(/\r?\n/).filter((l) => l.trim() !== ''), first: message, intervalMs }
    : null;
  return { configPath, message, sequence };
}

function parseReceivedAt(v: string | undefined): number {
  if (v === undefined) return Date.now();
  const ms = /^\d+$/.test(v) ? Number(v) : /(Z|[+-]\d\d:?\d\d)$/i.test(v) ? Date.parse(v) : Number.NaN;
  if (!Number.isSafeInteger(ms) || ms <= 0) {
    throw new AgentError(ErrorCodes.USAGE, `--received-at must be an ISO 8601 date-time with a zone or ms since the epoch, got '${v}'`);
  }
  return ms;
}

const TO_MS: Readonly<Record<string, number>> = { s: 1000, ms: 1, us: 0.001 };

function present(result: MapResult, settings: EdgeSettings): unknown {
  if (!result.ok) {
    return {
      rejected: result.code,
      reason: result.reason,
      ...(result.rule !== undefined ? { rule: result.rule } : {}),
      ...(result.rejections.length > 1 ? { rejections: result.rejections } : {}),
    };
  }
  const m = settings.mapping;
  return {
    records: result.records.map((r) => {
      const unit = m.collections?.[r.col]?.ts_unit_out ?? m.ts_unit_out ?? 'ms';
      return { col: r.col, doc: r.doc, ts: r.ts, ts_iso: new Date(Math.floor(r.ts * TO_MS[unit]!)).toISOString(), data: r.data };
    }),
    metadata: result.metadata,
    ...(result.rejections.length > 0 ? { rejections: result.rejections } : {}),
  };
}
