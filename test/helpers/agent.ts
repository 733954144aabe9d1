import { join } from 'node:path';
import pino from 'pino';
import { Agent, type AgentSettings } from '../../src/agent.js';
import type { FluxionRecord } from '../../src/client/types.js';
import { DevServer } from '../../src/devserver/index.js';
import type { AppendResult } from '../../src/queue/index.js';
import { waitFor } from './wait.js';
import { parseStrictJson } from './strict-json.js';
import { DEFAULT_SENDER_OPTIONS } from '../../src/sender/types.js';
import { loadConfig } from '../../src/config/index.js';

export const TEST_KEY = 'test-master-key-0123456789';

/** Agent settings for tests: fast backoff, a queue file in `dir`; override anything. */
export function agentSettings(
  dir: string,
  url: string,
  overrides: { sender?: Partial<AgentSettings['sender']>; queue?: Partial<AgentSettings['queue']>; fluxiondb?: Partial<AgentSettings['fluxiondb']> } = {},
): AgentSettings {
  return {
    fluxiondb: { url, apiKey: TEST_KEY, requestTimeoutMs: 5000, connectTimeoutMs: 2000, ...overrides.fluxiondb },
    queue: { path: join(dir, 'queue.db'), synchronous: 'normal', ...overrides.queue },
    sender: { ...DEFAULT_SENDER_OPTIONS, backoffBaseMs: 50, backoffCapMs: 400, authRetryMs: 300, lingerMs: 5, ...overrides.sender },
    housekeepingIntervalMs: 1000,
    stopDeadlineMs: 3000,
  };
}

/**
 * Appends records to the agent's queue and wakes its sender, as an input's sink would: the
 * way tests feed an agent without an input. Throws what the queue throws (QUEUE_FULL...).
 */
export function ingest(agent: Agent, records: readonly FluxionRecord[]): AppendResult {
  const result = agent.queue.append(records);
  if (result.accepted > 0) agent.sender.notify(result.accepted);
  return result;
}

/**
 * A logger that keeps lines in memory, so tests can read what the agent said. Lines are
 * parsed strictly: a key twice in one line (a child binding written again) fails the test.
 */
export function memoryLogger(level: pino.LevelWithSilent = 'info'): { logger: pino.Logger; lines: () => Array<Record<string, unknown>> } {
  const lines: string[] = [];
  const logger = pino({ level }, { write: (s: string) => void lines.push(s) });
  return { logger, lines: () => lines.map((l) => parseStrictJson(l) as Record<string, unknown>) };
}

/** `count` records over `docs` documents of collection `col`, distinct timestamps, data naming their index. */
export function makeRecords(count: number, { start = 0, col = 'telemetry', docs = 10, baseTs = 1_700_000_000_000 } = {}): FluxionRecord[] {
  const out: FluxionRecord[] = new Array(count);
  for (let i = 0; i < count; i++) {
    const n = start + i;
    out[i] = { col, doc: `device-${n % docs}`, ts: baseTs + n, data: `{"n":${n}}` };
  }
  return out;
}

/** Identities (col/doc/ts) of `records` that the server does not hold with the same data. */
export function missingOn(server: DevServer, records: readonly FluxionRecord[]): FluxionRecord[] {
  const byDoc = new Map<string, Map<number | bigint, string>>();
  const missing: FluxionRecord[] = [];
  for (const r of records) {
    const key = `${r.col}\u0000${r.doc}`;
    let points = byDoc.get(key);
    if (points === undefined) {
      points = new Map(server.records(r.col, r.doc).map((p) => [p.ts, p.data]));
      byDoc.set(key, points);
    }
    if (points.get(r.ts) !== r.data) missing.push(r);
  }
  return missing;
}

/**
 * Starts a dev server and an agent on the queue file in `dir` (`queue.db`) and waits until the
 * agent sent every queued record; both are stopped by `cleanups`. Returns the server.
 */
export async function sendQueueToDevServer(dir: string, cleanups: Array<() => unknown>): Promise<DevServer> {
  const server = new DevServer({ port: 0, masterKey: TEST_KEY });
  await server.start();
  cleanups.push(() => server.stop());
  const agent = new Agent(agentSettings(dir, server.url), memoryLogger('silent').logger);
  cleanups.push(() => agent.stop());
  await agent.start();
  await waitFor(() => agent.status().queue.depth === 0, { what: 'the queued records sent' });
  return server;
}

/**
 * The agent a config file describes (its MQTT input included), started as `run` would, with
 * its stop registered in `cleanups`; waits until the MQTT input is subscribed (the broker
 * keeps nothing for a filter it has not granted yet).
 */
export async function startConfiguredAgent(
  path: string,
  env: Record<string, string>,
  cleanups: Array<() => unknown>,
): Promise<{ agent: Agent; log: ReturnType<typeof memoryLogger>; settings: ReturnType<typeof loadConfig>['settings'] }> {
  const { settings } = loadConfig(path, env);
  const log = memoryLogger('info');
  const agent = new Agent(settings.agent, log.logger, { mapping: settings.mapping, mqtt: settings.mqtt });
  await agent.start();
  cleanups.push(() => agent.stop());
  await waitFor(() => log.lines().some((l) => l.msg === 'mqtt input subscribed'), { what: 'mqtt subscribed' });
  return { agent, log, settings };
}
