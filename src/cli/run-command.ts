/**
 * `fluxion-edge run --config FILE`: the agent process. Loads and validates the config
 * (every problem listed, exit 78), starts the components in order, and on SIGTERM/SIGINT
 * stops taking readings, commits what it holds, lets batches in flight finish within the
 * drain deadline, and exits 0.
 */
import { Agent } from '../agent.js';
import { formatProblems, loadConfig, problemsOf } from '../config/index.js';
import { isAgentError, ErrorCodes } from '../errors.js';
import { createLogger } from '../service/logger.js';
import { ExitCodes, type CommandIo } from '../service/process-io.js';
import { parseCommandArgs, stringOption } from './args.js';

const USAGE = `usage: fluxion-edge run --config FILE

Runs the agent: inputs -> mapping -> queue -> FluxionDB. Logs JSON lines on stdout.
SIGTERM or SIGINT stop it cleanly (exit 0). Exit 78: the config is invalid (every
problem is printed); exit 1: a fatal error.
`;

export async function run(args: string[], io: CommandIo): Promise<number> {
  const parsed = parseCommandArgs(args, { config: { type: 'string', short: 'c' }, help: { type: 'boolean', short: 'h' } });
  if (parsed.values.help === true) {
    io.stdout.write(USAGE);
    return ExitCodes.OK;
  }
  const configPath = stringOption(parsed, 'config', true);
  let loaded;
  try {
    loaded = loadConfig(configPath, io.env);
  } catch (err) {
    if (isAgentError(err, ErrorCodes.CONFIG_INVALID)) {
      io.stderr.write(`fluxion-edge: invalid configuration, refusing to start:\n${formatProblems(problemsOf(err))}\n`);
      return ExitCodes.CONFIG;
    }
    throw err;
  }
  const { settings, warnings } = loaded;
  const logger = createLogger(settings.log.level);
  for (const w of warnings) logger.warn({ component: 'config', path: w.path }, w.message);

  const agent = new Agent(settings.agent, logger, { mapping: settings.mapping, mqtt: settings.mqtt });
  try {
    await agent.start();
  } catch (err) {
    logger.fatal({ err }, 'agent failed to start');
    await agent.stop().catch(() => undefined);
    return ExitCodes.FAILURE;
  }
  logger.info({ gateway: settings.gateway.id, config: configPath }, 'fluxion-edge running');
  const signal = await io.shutdownSignal();
  logger.info({ signal }, 'stopping: no new readings; committing and draining in-flight batches');
  await agent.stop();
  logger.flush();
  return ExitCodes.OK;
}
