/**
 * An in-process agent whose only input is a `modbus:` section, delivering to a dev server:
 * the set-up the Modbus integration tests share.
 */
import { join } from 'node:path';
import { Agent } from '../../src/agent.js';
import { parseConfig } from '../../src/config/index.js';
import { DevServer } from '../../src/devserver/index.js';
import type { ModbusInputStatus } from '../../src/inputs/modbus/index.js';
import { memoryLogger, TEST_KEY } from './agent.js';
import { tempDir } from './tmp.js';

export interface ModbusAgent {
  server: DevServer;
  agent: Agent;
  /** The status of bus `name`. */
  bus(name: string): ModbusInputStatus;
  lines(): Array<Record<string, unknown>>;
}

/** Starts a dev server and an agent with `modbusYaml` (the entries of `modbus:`); `cleanups` gets their stops. */
export async function startModbusAgent(modbusYaml: string, cleanups: Array<() => Promise<unknown> | void>): Promise<ModbusAgent> {
  const dir = tempDir();
  cleanups.push(() => dir.cleanup());
  const server = new DevServer({ port: 0, masterKey: TEST_KEY });
  await server.start();
  cleanups.push(() => server.stop());
  const yaml = `
gateway: { id: gw-modbus }
fluxiondb: { url: ${server.url}, api_key: "\${FLUXION_API_KEY}" }
queue: { path: ${join(dir.path, 'queue.db')}, synchronous: normal }
sender: { backoff: { base: 50ms, cap: 500ms }, linger: 5ms }
modbus:
${modbusYaml}`;
  const { settings } = parseConfig(yaml, { env: { FLUXION_API_KEY: TEST_KEY }, baseDir: dir.path });
  const { logger, lines } = memoryLogger('info');
  const agent = new Agent(settings.agent, logger, { mapping: settings.mapping, modbus: settings.modbus }, settings.metadata);
  await agent.start();
  cleanups.push(() => agent.stop());
  return { server, agent, lines, bus: (name) => agent.status().inputs.find((i) => i.name === `modbus:${name}`) as ModbusInputStatus };
}
