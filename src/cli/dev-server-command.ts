/**
 * `fluxion-edge dev-server`: runs the in-memory FluxionDB-compatible server until SIGINT or
 * SIGTERM. Prints one line on stdout once listening (tests parse it) and logs to stderr.
 */
import pino, { type Level } from 'pino';
import { DevServer } from '../devserver/index.js';
import { AgentError, isAgentError, ErrorCodes } from '../errors.js';
import { ExitCodes, type CommandIo } from './process-io.js';
import { intOption, parseCommandArgs, stringOption, type OptionSpec } from './args.js';

const USAGE = `usage: fluxion-edge dev-server --secret-key KEY [options]

Runs a FluxionDB-compatible server in memory (nothing is kept on disk).

options:
  --port N                    TCP port, 0 picks a free one (default 8080)
  --host ADDR                 address to bind (default 127.0.0.1)
  --secret-key KEY            the master key (or env FLUXION_MASTER_KEY)
  --idle-timeout-ms N         drop connections idle this long (default 120000)
  --ack-delay-ms N            fault: delay every response by N ms
  --close-after-frames N      fault: close each connection (1011) after N request frames
  --deny-inserts              fault: answer "permission denied" to every ins
  --refuse-connections-ms N   fault: answer 503 to new connections for N ms
  --log-level LEVEL           fatal, error, warn, info, debug, trace or silent (default info)
  -h, --help                  show this help
`;

const OPTIONS: OptionSpec = {
  port: { type: 'string' },
  host: { type: 'string' },
  'secret-key': { type: 'string' },
  'idle-timeout-ms': { type: 'string' },
  'ack-delay-ms': { type: 'string' },
  'close-after-frames': { type: 'string' },
  'deny-inserts': { type: 'boolean' },
  'refuse-connections-ms': { type: 'string' },
  'log-level': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
};

const LEVELS = new Set(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']);

function nonNegative(value: number | undefined, name: string): number | undefined {
  if (value !== undefined && value < 0) throw usageError(`--${name} must be 0 or more, got ${value}`);
  return value;
}

function usageError(message: string): AgentError {
  return new AgentError(ErrorCodes.USAGE, message);
}

interface Settings {
  port: number;
  host: string;
  masterKey: string;
  idleTimeoutMs: number;
  logLevel: string;
  ackDelayMs: number;
  closeAfterFrames: number;
  denyInserts: boolean;
  refuseConnectionsMs: number;
}

function parseSettings(args: string[], env: CommandIo['env']): Settings | 'help' {
  const parsed = parseCommandArgs(args, OPTIONS);
  if (parsed.values.help === true) return 'help';
  const masterKey = stringOption(parsed, 'secret-key') ?? env.FLUXION_MASTER_KEY ?? '';
  if (masterKey === '') throw usageError('missing --secret-key (or env FLUXION_MASTER_KEY)');
  const port = nonNegative(intOption(parsed, 'port', 8080), 'port')!;
  if (port > 65535) throw usageError(`--port must be at most 65535, got ${port}`);
  const logLevel = stringOption(parsed, 'log-level') ?? 'info';
  if (!LEVELS.has(logLevel)) throw usageError(`--log-level must be one of ${[...LEVELS].join(', ')}, got '${logLevel}'`);
  const idleTimeoutMs = nonNegative(intOption(parsed, 'idle-timeout-ms', 120_000), 'idle-timeout-ms')!;
  if (idleTimeoutMs === 0) throw usageError('--idle-timeout-ms must be more than 0');
  return {
    port,
    host: stringOption(parsed, 'host') ?? '127.0.0.1',
    masterKey,
    idleTimeoutMs,
    logLevel,
    ackDelayMs: nonNegative(intOption(parsed, 'ack-delay-ms', 0), 'ack-delay-ms')!,
    closeAfterFrames: nonNegative(intOption(parsed, 'close-after-frames', 0), 'close-after-frames')!,
    denyInserts: parsed.values['deny-inserts'] === true,
    refuseConnectionsMs: nonNegative(intOption(parsed, 'refuse-connections-ms', 0), 'refuse-connections-ms')!,
  };
}

export async function run(args: string[], io: CommandIo): Promise<number> {
  let settings: Settings | 'help';
  try {
    settings = parseSettings(args, io.env);
  } catch (err) {
    if (isAgentError(err, ErrorCodes.USAGE)) {
      io.stderr.write(`fluxion-edge dev-server: ${err.message}\n`);
      return ExitCodes.USAGE;
    }
    throw err;
  }
  if (settings === 'help') {
    io.stdout.write(USAGE);
    return ExitCodes.OK;
  }
  // Only the options below reach the logger: the master key is never logged.
  const logger = pino({ level: settings.logLevel as Level | 'silent', base: { cmd: 'dev-server' } }, io.stderr);
  const server = new DevServer({
    port: settings.port,
    host: settings.host,
    masterKey: settings.masterKey,
    idleTimeoutMs: settings.idleTimeoutMs,
    logger,
    faults: {
      ackDelayMs: settings.ackDelayMs,
      closeAfterFrames: settings.closeAfterFrames,
      denyInserts: settings.denyInserts,
      refuseConnectionsMs: settings.refuseConnectionsMs,
    },
  });
  const signal = io.shutdownSignal();
  try {
    await server.start();
  } catch (err) {
    io.stderr.write(`fluxion-edge dev-server: ${err instanceof Error ? err.message : String(err)}\n`);
    return ExitCodes.FAILURE;
  }
  io.stdout.write(`fluxion-edge dev-server listening on ${server.url}\n`);
  const sig = await signal;
  logger.info({ signal: sig }, 'stopping');
  await server.stop();
  return ExitCodes.OK;
}
