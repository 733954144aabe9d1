/**
 * `fluxion-edge map`: runs one message through the configured rules, exactly as the agent
 * would, and prints what it would store. For trying a rule before it goes live.
 */
import { readFileSync } from 'node:fs';
import { formatProblems, loadConfig, problemsOf } from '../config/index.js';
import { parseIsoInstant } from '../config/schema/index.js';
import type { EdgeSettings } from '../config/index.js';
import { AgentError, ErrorCodes, isAgentError } from '../errors.js';
import { compileRules, type MapResult, type RawMessage } from '../mapping/index.js';
import { ExitCodes, type CommandIo } from './process-io.js';
import { parseCommandArgs, stringOption } from './args.js';

const USAGE = `usage: fluxion-edge map --config FILE (--topic T | --port P) (--payload TEXT | --payload-file F) [--received-at ISO|MS]

Maps one message with the rules of the config and prints, as JSON, the records it would
produce ({col, doc, ts, ts_iso, data}) and its metadata pairs; exit 0. A message that
produces nothing prints {rejected, reason} and exits 1. --received-at sets the receive
time (ISO 8601 or ms since the epoch; default now), used when a rule takes no timestamp
from the payload.
`;

const OPTIONS = {
  config: { type: 'string', short: 'c' },
  topic: { type: 'string' },
  port: { type: 'string' },
  payload: { type: 'string' },
  'payload-file': { type: 'string' },
  'received-at': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

interface MapRequest {
  configPath: string;
  message: RawMessage;
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
  // Every input's rules, MQTT first, exactly as the agent compiles them (so rule indexes agree).
  const rules = [...(settings.mqtt?.rules ?? []), ...(settings.serial ?? []).flatMap((s) => s.rules)];
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
  return { configPath, message };
}

function parseReceivedAt(v: string | undefined): number {
  if (v === undefined) return Date.now();
  const ms = /^\d+$/.test(v) ? Number(v) : parseIsoInstant(v);
  if (ms === null || !Number.isSafeInteger(ms) || ms <= 0) {
    throw new AgentError(ErrorCodes.USAGE, `--received-at must be an ISO 8601 date-time with a zone or ms since the epoch, got '${v}'`);
  }
  return ms;
}

const TO_MS: Readonly<Record<string, number>> = { s: 1000, ms: 1, us: 0.001 };

export function present(result: MapResult, settings: EdgeSettings): unknown {
  if (!result.ok) {
    // Serial rules are numbered within their port, as the config lists them (`serial[i].rules[n]`).
    const rejections = result.rejections.map((r) => ({ rule: r.portRule ?? r.rule, code: r.code, reason: r.reason }));
    const lead = result.rejections.find((r) => r.rule === result.rule);
    return {
      rejected: result.code,
      reason: result.reason,
      ...(result.rule !== undefined ? { rule: lead?.portRule ?? result.rule } : {}),
      ...(rejections.length > 1 ? { rejections } : {}),
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
