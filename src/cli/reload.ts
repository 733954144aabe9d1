/**
 * SIGHUP: re-read the config and apply what can change live (mappings, mapping options,
 * log level, metadata: changed static fields written and a resync started). Everything
 * else (queue, FluxionDB connection, sender, broker connection, serial port settings,
 * health endpoint) keeps running as it is, and each such change is
 * reported as needing a restart. An invalid new config is refused with all its problems and
 * the running one stays. The queue is never touched.
 */
import { isDeepStrictEqual } from 'node:util';
import type { Logger } from 'pino';
import type { Agent } from '../agent.js';
import { formatProblems, loadConfig, problemsOf, type EdgeSettings } from '../config/index.js';
import { isAgentError, ErrorCodes } from '../errors.js';

/** Settings that only a restart applies, by the name an operator knows them under. */
function restartOnly(s: EdgeSettings): Record<string, unknown> {
  return {
    gateway: s.gateway,
    fluxiondb: s.agent.fluxiondb,
    queue: s.agent.queue,
    sender: s.agent.sender,
    'mqtt (connection)': s.mqtt === undefined ? null : { ...s.mqtt.input, subscriptions: undefined, embeddedBroker: s.mqtt.embeddedBroker },
    'serial (ports)': (s.serial ?? []).map((p) => p.input),
    health: s.health,
  };
}

/**
 * Loads the config again and applies it; returns the settings now in force (the new
 * mappings and log level over the running rest).
 */
export async function reloadAgent(
  agent: Agent,
  running: EdgeSettings,
  path: string,
  env: Readonly<Record<string, string | undefined>>,
  logger: Logger,
): Promise<EdgeSettings> {
  const log = logger.child({ component: 'config' });
  let next: EdgeSettings;
  try {
    next = loadConfig(path, env).settings;
  } catch (err) {
    if (isAgentError(err, ErrorCodes.CONFIG_INVALID)) {
      log.error({ problems: formatProblems(problemsOf(err)).split('\n') }, 'reload refused: the new config is invalid; the running config stays');
    } else {
      log.error({ err: (err as Error).message }, 'reload failed; the running config stays');
    }
    return running;
  }

  const before = restartOnly(running);
  const after = restartOnly(next);
  const needRestart = Object.keys(after).filter((k) => !isDeepStrictEqual(before[k], after[k]));
  const inForce: EdgeSettings = {
    ...running,
    log: next.log,
    mapping: next.mapping,
    metadata: next.metadata,
    mqtt: running.mqtt === undefined ? undefined : { ...running.mqtt, rules: next.mqtt?.rules ?? [] },
    serial: running.serial?.map((p) => ({ ...p, rules: next.serial?.find((q) => q.input.name === p.input.name)?.rules ?? [] })),
  };
  try {
    const applied = await agent.reloadInputs({ mapping: inForce.mapping, mqtt: inForce.mqtt, serial: inForce.serial });
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
