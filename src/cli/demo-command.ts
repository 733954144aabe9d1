/**
 * `fluxion-edge demo`: the main job on embedded defaults. An in-memory FluxionDB-compatible
 * server, the agent's queue (in a temporary directory) and sender, and a simulated fleet of
 * devices; every few seconds it prints what landed in the database. Ctrl-C stops it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent } from '../agent.js';
import { FluxionClient } from '../client/index.js';
import type { FluxionRecord } from '../client/types.js';
import { DevServer } from '../devserver/index.js';
import { DEFAULT_SENDER_OPTIONS } from '../sender/types.js';
import { createLogger } from '../service/logger.js';
import { ExitCodes, type CommandIo } from '../service/process-io.js';
import { intOption, parseCommandArgs } from './args.js';

const USAGE = `usage: fluxion-edge demo [--port N] [--devices N] [--interval-ms N] [--print-every-s N] [--duration-s N]

Runs the pipeline on embedded defaults: a FluxionDB-compatible server in memory on
127.0.0.1 (--port, default 0 = any free port), a queue in a temporary directory, the sender,
and --devices simulated sensors (default 5) each publishing a reading every --interval-ms
(default 1000). Prints what landed every --print-every-s seconds (default 3). Stops on
Ctrl-C, or after --duration-s seconds when given.
`;

const DEMO_KEY = 'demo-key';

/** A simulated sensor: temperature and humidity that wander like real ones do. */
class SimulatedDevice {
  private temperature = 18 + Math.random() * 6;
  private humidity = 40 + Math.random() * 20;
  private lastTs = 0;

  constructor(readonly name: string) {}

  reading(now: number): FluxionRecord {
    this.temperature += (Math.random() - 0.5) * 0.4;
    this.humidity = Math.min(100, Math.max(0, this.humidity + (Math.random() - 0.5)));
    // Distinct timestamps per document: the database overwrites on a repeated (col, doc, ts).
    this.lastTs = Math.max(now, this.lastTs + 1);
    const data = JSON.stringify({ temperature: round(this.temperature), humidity: round(this.humidity) });
    return { col: 'telemetry', doc: this.name, ts: this.lastTs, data };
  }
}

function round(n: number): number {
  return Math.round(n * 10) / 10;
}

export async function run(args: string[], io: CommandIo): Promise<number> {
  const parsed = parseCommandArgs(args, {
    port: { type: 'string' },
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
  const port = intOption(parsed, 'port', 0)!;
  const deviceCount = intOption(parsed, 'devices', 5)!;
  const intervalMs = intOption(parsed, 'interval-ms', 1000)!;
  const printEveryMs = intOption(parsed, 'print-every-s', 3)! * 1000;
  const durationS = intOption(parsed, 'duration-s');

  const logger = createLogger('warn');
  const dir = mkdtempSync(join(tmpdir(), 'fluxion-edge-demo-'));
  const server = new DevServer({ port, masterKey: DEMO_KEY });
  await server.start();
  const agent = new Agent(
    {
      fluxiondb: { url: server.url, apiKey: DEMO_KEY, connectionName: 'fluxion-edge-demo' },
      queue: { path: join(dir, 'queue.db'), synchronous: 'normal' },
      sender: { ...DEFAULT_SENDER_OPTIONS },
      housekeepingIntervalMs: 10_000,
      stopDeadlineMs: 5_000,
    },
    logger,
  );
  await agent.start();
  const reader = new FluxionClient({ url: server.url, apiKey: DEMO_KEY, connectionName: 'fluxion-edge-demo-reader' });

  io.stdout.write(
    `fluxion-edge demo: dev server on ${server.url} (API key "${DEMO_KEY}"), queue ${join(dir, 'queue.db')}\n` +
      `${deviceCount} simulated devices, one reading each every ${intervalMs} ms. Ctrl-C stops.\n` +
      `Try in another shell: fluxion-edge db latest --url ${server.url} --api-key ${DEMO_KEY} --col telemetry\n\n`,
  );

  const devices = Array.from({ length: deviceCount }, (_, i) => new SimulatedDevice(`device-${i + 1}`));
  const publish = setInterval(() => {
    const now = Date.now();
    agent.ingest(devices.map((d) => d.reading(now)));
  }, intervalMs);

  const print = async (): Promise<void> => {
    const latest = await reader.fetchLatestRecords({ col: 'telemetry', ts: Date.now() + 60_000 });
    const { queue, sender } = agent.status();
    io.stdout.write(
      `${new Date().toISOString()}  landed ${server.recordCount()} records  queue depth ${queue.depth}  sender ${sender.state}\n`,
    );
    for (const doc of Object.keys(latest).sort()) {
      const p = latest[doc]!;
      io.stdout.write(`  ${doc.padEnd(10)} ${new Date(p.ts).toISOString()}  ${p.data}\n`);
    }
  };
  const printer = setInterval(() => void print().catch((err: Error) => io.stderr.write(`demo: ${err.message}\n`)), printEveryMs);

  const stopAfter = durationS === undefined ? null : new Promise<void>((r) => setTimeout(r, durationS * 1000).unref());
  await Promise.race([io.shutdownSignal(), ...(stopAfter ? [stopAfter] : [])]);

  clearInterval(publish);
  clearInterval(printer);
  await agent.stop();
  await print().catch(() => undefined);
  await reader.close();
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
  io.stdout.write('demo stopped\n');
  return ExitCodes.OK;
}
