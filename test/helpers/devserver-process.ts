/**
 * The dev server as the built CLI in a child process, on a port the test fixed, so that it
 * can be SIGKILLed and started again there; a live feed of readings; and a read-back of what
 * the server holds through a real client (the server runs in another process).
 */
import { FluxionClient } from '../../src/client/index.js';
import type { FluxionRecord } from '../../src/client/types.js';
import { makeRecords, TEST_KEY } from './agent.js';
import { startCli } from './cli.js';
import { waitFor } from './wait.js';

export type CliProcess = ReturnType<typeof startCli>;

/** Starts `fluxion-edge dev-server` on `port` (empty memory) and waits until it listens. */
export async function startDevServerProcess(port: number, cleanups: Array<() => unknown>): Promise<CliProcess> {
  const s = startCli(['dev-server', '--port', String(port), '--secret-key', TEST_KEY]);
  cleanups.push(() => void (s.child.exitCode === null && s.child.kill('SIGKILL')));
  await waitFor(() => s.output().includes('listening on'), { what: 'dev server listening' });
  return s;
}

/** A live stream: 20 readings every 10 ms from 20 devices (`device-0`..`device-19`), handed to `ingest`. */
export function liveFeed(ingest: (batch: FluxionRecord[]) => void): { sent: FluxionRecord[]; stop: () => void } {
  const sent: FluxionRecord[] = [];
  let n = 0;
  const timer = setInterval(() => {
    const batch = makeRecords(20, { start: n, docs: 20, baseTs: 1_750_000_000_000 });
    n += 20;
    sent.push(...batch);
    ingest(batch);
  }, 10);
  return { sent, stop: () => clearInterval(timer) };
}

/** `doc/ts/data` of every `telemetry` record the server at `url` holds for the live feed's 20 devices. */
export async function heldByServer(url: string): Promise<Set<string>> {
  const reader = new FluxionClient({ url, apiKey: TEST_KEY });
  try {
    const held = new Set<string>();
    for (let d = 0; d < 20; d++) {
      const points = await reader.fetchDocument({ col: 'telemetry', doc: `device-${d}`, from: 1, to: 2_000_000_000_000 });
      for (const p of points) held.add(`device-${d}/${p.ts}/${p.data}`);
    }
    return held;
  } finally {
    await reader.close();
  }
}
