/**
 * `fluxion-edge run --config FILE`: the agent process. Loads and validates the config
 * (every problem listed, exit 78), starts the components in order, serves health and
 * metrics when enabled, tells systemd it is ready (and pings its watchdog while the
 * pipeline is not wedged), reloads the config on SIGHUP, and on SIGTERM/SIGINT stops
 * taking readings, commits what it holds, lets batches in flight finish within the drain
 * deadline, and exits 0.
 */
import type { Logger } from 'pino';
import { Agent } from '../agent.js';
import { FileConfigView } from './console-config-view.js';
import { ConsoleRoutes } from '../console/console-routes.js';
import { agentConsoleSource } from '../console/agent-console-source.js';
import { formatProblems, loadConfig, problemsOf, type LoadedConfig } from '../config/index.js';
import { isAgentError, ErrorCodes } from '../errors.js';
import { assessLiveness } from '../service/health.js';
import { HealthServer } from '../service/http-server.js';
import { createLogger } from '../service/logger.js';
import { ExitCodes, type CommandIo } from './process-io.js';
import { SdNotifier } from '../service/sd-notify.js';
import { version } from '../version.js';
import { parseCommandArgs, stringOption } from './args.js';
import { reloadAgent } from './reload.js';

const USAGE = `usage: fluxion-edge run --config FILE

Runs the agent: inputs -> mapping -> queue -> FluxionDB. Logs JSON lines on stdout.
SIGTERM or SIGINT stop it cleanly (exit 0); SIGHUP reloads the config (mappings, log
level, metadata; an invalid new config is refused and the running one kept). Exit 78: the config is
invalid (every problem is printed); exit 1: a fatal error.
`;

export async function run(args: string[], io: CommandIo): Promise<number> {
  const parsed = parseCommandArgs(args, { config: { type: 'string', short: 'c' }, help: { type: 'boolean', short: 'h' } });
  if (parsed.values.help === true) {
    io.stdout.write(USAGE);
    return ExitCodes.OK;
  }
  const configPath = stringOption(parsed, 'config', true);
  let loaded: LoadedConfig;
  try {
    loaded = loadConfig(configPath, io.env);
  } catch (err) {
    if (isAgentError(err, ErrorCodes.CONFIG_INVALID)) {
      io.stderr.write(`fluxion-edge: invalid configuration, refusing to start:\n${formatProblems(problemsOf(err))}\n`);
      return ExitCodes.CONFIG;
    }
    throw err;
  }
  const settings = loaded.settings;
  const logger = createLogger(settings.log.level);
  for (const w of loaded.warnings) logger.warn({ component: 'config', path: w.path }, w.message);

  const agent = new Agent(settings.agent, logger, { mapping: settings.mapping, mqtt: settings.mqtt, serial: settings.serial, modbus: settings.modbus }, settings.metadata, settings.secrets);
  const startedAt = Date.now();
  const rule = { ...settings.health.rule, startedAt };
  const configView = new FileConfigView(configPath, io.env, loaded.config);
  let http: HealthServer | null = null;
  if (settings.health.server !== null) {
    const consoleRoutes =
      settings.console === null
        ? undefined
        : new ConsoleRoutes(settings.console, {
            source: agentConsoleSource(agent, settings.agent.queue.path),
            config: configView,
            health: (status) => http!.health(status),
            scrub: (text) => settings.secrets.scrub(text),
            gatewayId: settings.gateway.id,
            version,
            startedAt,
          });
    http = new HealthServer(
      { ...settings.health.server, health: rule },
      { source: agent, secrets: settings.secrets, gatewayId: settings.gateway.id, version, ...(consoleRoutes !== undefined ? { console: consoleRoutes } : {}) },
    );
  }
  const systemd = new SdNotifier({ env: io.env }, logger.child({ component: 'systemd' }));
  // Signals are ours from here on: the sender may drain a backlog while the inputs are still
  // starting, and a SIGTERM (systemctl stop) or SIGHUP (reload) then must not find the
  // default action, which kills the process. A stop request waits for the start to finish;
  // reloads queue behind it.
  const shutdown = io.shutdownSignal();
  let markStarted!: () => void;
  let reloading = new Promise<void>((resolve) => (markStarted = resolve));
  const stopReloads = io.onReload(() => {
    reloading = reloading
      .then(async () => {
        await systemd.reloading();
        const before = loaded;
        loaded = await reloadAgent(agent, loaded, configPath, io.env, logger);
        if (loaded !== before) configView.reloaded();
        await systemd.ready('running');
      })
      // One failed reload must not block the next ones, nor the stop that waits for them.
      .catch((err: unknown) => logger.error({ component: 'config', err }, 'reload failed; the running config stays'));
  });
  try {
    await agent.start();
    await http?.start();
  } catch (err) {
    stopReloads();
    logger.fatal({ err }, 'agent failed to start');
    await http?.stop().catch(() => undefined);
    await agent.stop().catch(() => undefined);
    return ExitCodes.FAILURE;
  }
  if (http !== null) logger.info({ component: 'health', url: http.url }, 'health and metrics served');
  if (http !== null && settings.console !== null) logger.info({ component: 'console', url: `${http.url}/console/`, token: settings.console.token !== null }, 'web console served');
  await systemd.ready('running');
  systemd.startWatchdog(() => assessLiveness(agent.status(), Date.now(), rule).healthy);
  // `systemctl status` says it too; the watchdog itself is not stopped by a full disk.
  agent.queue.on('disk', (e) => void systemd.status(e.full ? 'DISK FULL: new readings held back or dropped, sending goes on' : 'running'));
  logger.info({ gateway: settings.gateway.id, config: configPath, version }, 'fluxion-edge running');

  markStarted();

  const signal = await shutdown;
  stopReloads();
  logger.info({ signal }, 'stopping: no new readings; committing and draining in-flight batches');
  await systemd.stopping('draining');
  await reloading;
  await http?.stop();
  await agent.stop();
  await systemd.stop();
  flush(logger);
  return ExitCodes.OK;
}

function flush(logger: Logger): void {
  logger.flush();
}
