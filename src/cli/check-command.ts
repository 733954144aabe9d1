/**
 * `fluxion-edge check --config FILE [--json]`: validates a config the way the agent would
 * at start. Problems go to stderr, one line each, exit 78; a valid config is printed
 * resolved (defaults applied, secrets masked) with its warnings on stderr, exit 0.
 */
import { stringify } from 'yaml';
import { formatProblems, loadConfig, maskSecrets, problemsOf } from '../config/index.js';
import { isAgentError, ErrorCodes } from '../errors.js';
import { capWarning } from '../queue/index.js';
import { ExitCodes, type CommandIo } from './process-io.js';
import { parseCommandArgs, stringOption } from './args.js';

const USAGE = `usage: fluxion-edge check --config FILE [--json]

Validates the configuration and prints it resolved (defaults applied, durations in ms,
sizes in bytes, secrets masked), as YAML or with --json as JSON. Every problem is listed
on stderr as FILE:LINE:COLUMN PATH: MESSAGE, and the exit code is then 78.
`;

export async function run(args: string[], io: CommandIo): Promise<number> {
  let configPath: string;
  let json: boolean;
  try {
    const parsed = parseCommandArgs(args, { config: { type: 'string', short: 'c' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } });
    if (parsed.values.help === true) {
      io.stdout.write(USAGE);
      return ExitCodes.OK;
    }
    configPath = stringOption(parsed, 'config', true);
    json = parsed.values.json === true;
  } catch (err) {
    io.stderr.write(`fluxion-edge check: ${(err as Error).message}\n\n${USAGE}`);
    return ExitCodes.USAGE;
  }
  try {
    const { config, warnings } = loadConfig(configPath, io.env);
    const masked = maskSecrets(config);
    io.stdout.write(json ? `${JSON.stringify(masked, null, 2)}\n` : stringify(masked, { lineWidth: 0 }));
    if (warnings.length > 0) io.stderr.write(`${formatProblems(warnings).replace(/^/gm, 'warning: ')}\n`);
    // The disk is looked at here, not in the config loader: it is a fact of this machine, now.
    const space = capWarning(config.queue.path, config.queue.max_bytes);
    if (space !== null) io.stderr.write(`warning: ${space}\n`);
    return ExitCodes.OK;
  } catch (err) {
    if (!isAgentError(err, ErrorCodes.CONFIG_INVALID)) throw err;
    const problems = problemsOf(err);
    io.stderr.write(`${formatProblems(problems)}\n`);
    return ExitCodes.CONFIG;
  }
}
