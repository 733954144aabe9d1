/**
 * `fluxion-edge demo`: the main job on embedded defaults. An in-memory FluxionDB-compatible
 * server, the agent with a demo config (its embedded MQTT broker, a queue in a temporary
 * directory, the sender), and a simulated fleet of devices publishing over MQTT; every few
 * seconds it prints what landed in the database. Ctrl-C stops it.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { Agent } from '../agent.js';
import { FluxionClient } from '../client/index.js';
import { parseConfig } from '../config/index.js';
import { DevServer } from '../devserver/index.js';
import { createLogger } from '../service/logger.js';
import { ExitCodes, type CommandIo } from './process-io.js';
import { intOption, parseCommandArgs } from './args.js';

const USAGE = `usage: fluxion-edge demo [--port N] [--mqtt-port N] [--devices N] [--interval-ms N] [--print-every-s N] [--duration-s N]

Runs the whole pipeline on embedded defaults: a FluxionDB-compatible server in memory on
127.0.0.1 (--port, default 0 = any free port), the agent with its embedded MQTT broker
(--mqtt-port, default 0) and a queue in a temporary directory, and --devices simulated
sensors (default 5) each publishing a QoS 1 reading every --interval-ms (default 1000).
Prints what landed every --print-every-s seconds (default 3). Stops on Ctrl-C, or after
--duration-s seconds when given.
`;

const DEMO_KEY = 'demo-key';

/** The demo's config: the same YAML an operator writes, checked by the same loader. */
function demoConfig(serverUrl: string, mqttPort: number, dir: string): string {
  return `
gateway: { id: demo-gateway }
log: { level: warn }
fluxiondb:
  url: ${serverUrl}
  api_key: ${DEMO_KEY}
queue:
  path: ${join(dir, 'queue.db')}
  synchronous: normal
mqtt:
  embedded_broker: { host: 127.0.0.1, port: ${mqttPort} }
  client_id: fluxion-edge-demo
  subscriptions:
    - topic: greenhouse/{site}/{device}/telemetry
      collection: telemetry
      document: "{device}"
      timestamp: { field: ts, unit: ms }
      fields: { temperature: temp_c, humidity: rh }
      tags: { site: "{site}" }
metadata:
  collection: metadata
  devices:
    device-1: { location: bench A, model: TH-200 }
    device-2: { location: bench B, model: TH-200 }
  heartbeat: { schedule: "*/5 * * * * *" }
`;
}

/** A simulated sensor: temperature and humidity that wander like real ones do. */
class SimulatedDevice {
  private temperature = 18 + Math.random() * 6;
  private humidity = 40 + Math.random() * 20;

  constructor(
    readonly name: string,
    readonly client: MqttClient,
  ) {}

  publish(): void {
    this.temperature += (Math.random() - 0.5) * 0.4;
    this.humidity = Math.min(100, Math.max(0, this.humidity + (Math.random() - 0.5)));
    const payload = JSON.stringify({ ts: Date.now(), temp_c: round(this.temperature), rh: round(this.humidity) });
    this.client.publish(`greenhouse/house-1/${this.name}/telemetry`, payload, { qos: 1 });
  }
}

function round(n: number): number {
  return Math.round(n * 10) / 10;
}

export async function run(args: string[], io: CommandIo): Promise<number> {
  const parsed = parseCommandArgs(args, {
    port: { type: 'string' },
    'mqtt-port': { type: 'string' },
    devices: { type: 'string' },
    'interval-ms': { type: 'string' },
    'print-every-s': { type: 'string' },
    'duration-s': { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (parsed.values.help === true) {
    io.stdout.write(USAGE);
    return ExitCodes.OK;
  }
  const deviceCount = intOption(parsed, 'devices', 5)!;
  const intervalMs = intOption(parsed, 'interval-ms', 1000)!;
  const printEveryMs = intOption(parsed, 'print-every-s', 3)! * 1000;
  const durationS = intOption(parsed, 'duration-s');

  const dir = mkdtempSync(join(tmpdir(), 'fluxion-edge-demo-'));
  const server = new DevServer({ port: intOption(parsed, 'port', 0), masterKey: DEMO_KEY });
  await server.start();
  const { settings } = parseConfig(demoConfig(server.url, intOption(parsed, 'mqtt-port', 0)!, dir), { env: {}, baseDir: dir });
  const agent = new Agent(settings.agent, createLogger(settings.log.level), { mapping: settings.mapping, mqtt: settings.mqtt }, settings.metadata, settings.secrets);
  await agent.start();
  const brokerUrl = agent.embeddedBrokerUrl!;
  const reader = new FluxionClient({ url: server.url, apiKey: DEMO_KEY, connectionName: 'fluxion-edge-demo-reader' });
  const devices = await Promise.all(
    Array.from({ length: deviceCount }, async (_, i) => {
      const name = `device-${i + 1}`;
      return new SimulatedDevice(name, await mqtt.connectAsync(brokerUrl, { clientId: `demo-${name}` }));
    }),
  );

  io.stdout.write(
    `fluxion-edge demo: FluxionDB dev server ${server.url} (API key "${DEMO_KEY}"), MQTT broker ${brokerUrl}\n` +
      `${deviceCount} simulated devices publish to greenhouse/house-1/<device>/telemetry every ${intervalMs} ms. Ctrl-C stops.\n` +
      `Try in another shell: fluxion-edge db latest --url ${server.url} --api-key ${DEMO_KEY} --col telemetry\n\n`,
  );
  const publish = setInterval(() => devices.forEach((d) => d.publish()), intervalMs);

  const print = async (): Promise<void> => {
    const latest = await reader.fetchLatestRecords({ col: 'telemetry', ts: Date.now() + 60_000 });
    const { queue, sender, inputs } = agent.status();
    io.stdout.write(
      `${new Date().toISOString()}  landed ${server.recordCount()} records  mqtt ${inputs[0]?.state ?? '-'}  queue depth ${queue.depth}  sender ${sender.state}\n`,
    );
    for (const doc of Object.keys(latest).sort()) {
      const p = latest[doc]!;
      io.stdout.write(`  ${doc.padEnd(10)} ${new Date(p.ts).toISOString()}  ${p.data}\n`);
    }
    const meta = await reader.getValues({ col: 'metadata' });
    const keys = Object.keys(meta).sort();
    if (keys.length > 0) io.stdout.write(`  metadata: ${keys.map((k) => `${k}=${meta[k]}`).join('  ')}\n`);
  };
  const printer = setInterval(() => void print().catch((err: Error) => io.stderr.write(`demo: ${err.message}\n`)), printEveryMs);

  const stopAfter = durationS === undefined ? [] : [sleep(durationS * 1000, undefined, { ref: false })];
  await Promise.race([io.shutdownSignal(), ...stopAfter]);

  clearInterval(publish);
  clearInterval(printer);
  await Promise.all(devices.map((d) => d.client.endAsync()));
  await agent.stop();
  await print().catch(() => undefined);
  await reader.close();
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
  io.stdout.write('demo stopped\n');
  return ExitCodes.OK;
}
