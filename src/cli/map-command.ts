/**
 * `fluxion-edge map`: runs one message through the configured rules, exactly as the agent
 * would, and prints what it would store. For trying a rule before it goes live.
 */
import { readFileSync } from 'node:fs';
import { formatProblems, loadConfig, problemsOf } from '../config/index.js';
import { parseIsoInstant } from '../config/schema/index.js';
import type { EdgeSettings } from '../config/index.js';
import { allRules } from '../agent.js';
import { AgentError, ErrorCodes, isAgentError } from '../errors.js';
import { compileRules, type MapResult, type RawMessage } from '../mapping/index.js';
import { ExitCodes, type CommandIo } from './process-io.js';
import { parseCommandArgs, stringOption } from './args.js';
import { parseDuration } from '../config/schema/units.js';
import { isSequenceFile, mapSequence, type SequenceRequest } from './map-sequence.js';

const USAGE = `usage: fluxion-edge map --config FILE (--topic T | --port P) (--payload TEXT | --payload-file F | --payload-hex HEX | --payload-base64 B64)
                         [--received-at ISO|MS] [--birth FILE] [--interval D]

Maps one message with the rules of the config and prints, as JSON, the records it would
produce ({col, doc, ts, ts_iso, data}) and its metadata pairs; exit 0. A message that
produces nothing prints {rejected, reason} and exits 1. --received-at sets the receive
time (ISO 8601 or ms since the epoch; default now), used when a rule takes no timestamp
from the payload.

Sparkplug B (format: sparkplug_b) payloads are binary: give them as a file (--payload-file),
or as hex or base64 text. --birth FILE first maps the node's or device's birth certificate
(NBIRTH for node topics, DBIRTH for device topics; a raw protobuf file, or hex text), so
that aliases in the data message resolve; without it an alias-only message is unresolved.

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
  'payload-hex': { type: 'string' },
  'payload-base64': { type: 'string' },
  birth: { type: 'string' },
  'received-at': { type: 'string' },
  interval: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

interface MapRequest {
  configPath: string;
  message: RawMessage;
  /** A Sparkplug birth to map first (aliases), with the topic it is taken to come from. */
  birth?: RawMessage;
  /** A .jsonl / .ndjson payload file: a sequence, shown with the report decisions. */
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
  const rules = allRules(settings);
  if (req.sequence !== null) {
    io.stdout.write(`${JSON.stringify(mapSequence(req.sequence, rules, settings), null, 2)}\n`);
    return ExitCodes.OK;
  }
  const set = compileRules(rules, settings.mapping);
  if (req.birth !== undefined) {
    const b = set.map(req.birth);
    if (!b.ok) {
      io.stderr.write(`fluxion-edge map: the birth (${req.birth.topic}) was not mapped: ${b.code}: ${b.reason}\n`);
      return ExitCodes.FAILURE;
    }
  }
  const result = set.map(req.message);
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
  const hex = stringOption(p, 'payload-hex');
  const b64 = stringOption(p, 'payload-base64');
  if ([text, file, hex, b64].filter((v) => v !== undefined).length !== 1) {
    throw new AgentError(ErrorCodes.USAGE, 'give exactly one of --payload, --payload-file, --payload-hex and --payload-base64');
  }
  let payload: Uint8Array | string;
  if (text !== undefined) payload = text;
  else if (hex !== undefined) payload = hexBytes(hex, '--payload-hex');
  else if (b64 !== undefined) payload = base64Bytes(b64);
  else payload = readPayloadFile(file!);
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
  const birthFile = stringOption(p, 'birth');
  if (birthFile === undefined) return { configPath, message, sequence };
  const birthTopic = topic === undefined ? null : birthTopicOf(topic);
  if (birthTopic === null) throw new AgentError(ErrorCodes.USAGE, '--birth needs a Sparkplug data topic (spBv1.0/<group>/NDATA/<node> or .../DDATA/<node>/<device>)');
  let birth: Uint8Array = readPayloadFile(birthFile);
  const asText = Buffer.from(birth).toString('latin1').trim();
  if (/^([0-9a-fA-F]{2}\s*)+$/.test(asText)) birth = hexBytes(asText, '--birth');
  return { configPath, message, sequence, birth: { source: 'mqtt', topic: birthTopic, payload: birth, receivedAt } };
}

function readPayloadFile(file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new AgentError(ErrorCodes.USAGE, `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, { cause: err });
  }
}

function hexBytes(text: string, option: string): Buffer {
  const clean = text.replace(/\s+/g, '');
  if (clean.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(clean)) throw new AgentError(ErrorCodes.USAGE, `${option} must be hex digits, two per byte`);
  return Buffer.from(clean, 'hex');
}

function base64Bytes(text: string): Buffer {
  const clean = text.replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/_-]*={0,2}$/.test(clean)) throw new AgentError(ErrorCodes.USAGE, '--payload-base64 must be base64');
  return Buffer.from(clean, 'base64');
}

/** The birth topic that defines the aliases of a Sparkplug data topic, or null. */
function birthTopicOf(topic: string): string | null {
  const levels = topic.split('/');
  if (levels[0] !== 'spBv1.0' || levels.length < 4) return null;
  if (levels[2] === 'NDATA' && levels.length === 4) levels[2] = 'NBIRTH';
  else if (levels[2] === 'DDATA' && levels.length === 5) levels[2] = 'DBIRTH';
  else return null;
  return levels.join('/');
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
