// Client insert benchmark: 1,000,000 small records in batches of 1,000, pipelined, against
// the dev server in another process. Prints records/s and the CPU per record of each side:
// the client must never be the bottleneck.
import { FluxionClient } from '../dist/client/index.js';
import { cpuSecondsOf, makeRecords, ownCpuSeconds, report, startDevServer } from './common.mjs';

export async function rawInsertRate({ total = 1_000_000, batch = 1000, window = 8, server, make = (n, start) => makeRecords(n, start, 'raw'), compression = false } = {}) {
  const client = new FluxionClient({ url: server.url, apiKey: 'bench-key', requestTimeoutMs: 60_000, compression });
  await client.connect();
  const batches = [];
  for (let i = 0; i < total; i += batch) batches.push(make(Math.min(batch, total - i), i));
  const cpu0 = ownCpuSeconds();
  const srv0 = cpuSecondsOf(server.pid);
  const t0 = performance.now();
  const inflight = new Set();
  for (const b of batches) {
    const p = client.insertMultipleRecords(b).finally(() => inflight.delete(p));
    inflight.add(p);
    if (inflight.size >= window) await Promise.race(inflight);
  }
  await Promise.all(inflight);
  const seconds = (performance.now() - t0) / 1000;
  const clientCpu = ownCpuSeconds() - cpu0;
  const serverCpu = cpuSecondsOf(server.pid) - srv0;
  await client.close();
  return { recordsPerSecond: total / seconds, seconds, clientCpuUsPerRecord: (clientCpu * 1e6) / total, serverCpuUsPerRecord: (serverCpu * 1e6) / total };
}

export async function main() {
  const server = await startDevServer();
  try {
    const r = await rawInsertRate({ server });
    report('client-insert', {
      records: 1_000_000,
      'records/s': r.recordsPerSecond,
      'client_cpu_us/record': r.clientCpuUsPerRecord,
      'server_cpu_us/record': r.serverCpuUsPerRecord,
      'client/server_cpu_ratio': r.clientCpuUsPerRecord / r.serverCpuUsPerRecord,
    });
  } finally {
    await server.stop();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
