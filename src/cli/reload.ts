/**
 * SIGHUP: re-read the config and apply what can change live (mappings, mapping options,
 * log level, metadata: changed static fields written and a resync started): the keys the
 * schema marks live (config/schema/reload.ts). Everything else keeps running as it is, and
 * each such change is reported, by its config path, as needing a restart. An invalid new config is refused with all its problems and
 * the running one stays. The queue is never touched.
 */
import type { Logger } from 'pino';
import type { Agent } from '../agent.js';
import { changesNeedingRestart, formatProblems, loadConfig, problemsOf, type EdgeSettings, type LoadedConfig } from '../config/index.js';
import { isAgentError, ErrorCodes } from '../errors.js';

/**
 * Loads the config again and applies it; returns the settings now in force (the new
 * mappings and log level over the running rest).
 */
export async function reloadAgent(
  agent: Agent,
  running: LoadedConfig,
  path: string,
  env: Readonly<Record<string, string | undefined>>,
  logger: Logger,
): Promise<LoadedConfig> {
  const log = logger.child({ component: 'config' });
  let loaded: LoadedConfig;
  try {
    loaded = loadConfig(path, env);
  } catch (err) {
    if (isAgentError(err, ErrorCodes.CONFIG_INVALID)) {
      log.error({ problems: formatProblems(problemsOf(err)).split('\n') }, 'reload refused: the new config is invalid; the running config stays');
    } else {
      log.error({ err: (err as Error).message }, 'reload failed; the running config stays');
    }
    return running;
  }

  const next = loaded.settings;
  const current = running.settings;
  // Compared with what runs: a pending restart change is reported again at each reload.
  const needRestart = changesNeedingRestart(running, loaded);
  const settings: EdgeSettings = {
    ...current,
    log: next.log,
    mapping: next.mapping,
    metadata: next.metadata,
    mqtt: current.mqtt === undefined ? undefined : { ...current.mqtt, rules: next.mqtt?.rules ?? [] },
    serial: current.serial?.map((p) => ({ ...p, rules: next.serial?.find((q) => q.input.name === p.input.name)?.rules ?? [] })),
  };
  const inForce: LoadedConfig = { ...running, settings };
  try {
    const applied = await agent.reloadInputs({ mapping: settings.mapping, mqtt: settings.mqtt, serial: settings.serial, modbus: current.modbus });
    agent.reloadMetadata(next.metadata);
    logger.level = next.log.level;
    if (needRestart.length > 0) {
      log.warn({ needRestart }, 'config reloaded; these changes take effect only after a restart');
    }
    log.info({ logLevel: next.log.level, resubscribed: applied.resubscribed }, 'config reloaded: mappings and log level applied');
    return inForce;
  } catch (err) {
    log.error({ err: (err as Error).message }, 'reload failed while applying the mappings; the running mappings stay');
    return running;
  }
}
