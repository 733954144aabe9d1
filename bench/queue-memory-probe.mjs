// Child of queue-memory.bench.mjs: starts the agent on a queue file, sends exactly 20,000
// records (queued ones, or fresh ones on an empty queue: the same work either way), stops,
// and prints its peak RSS and the depth it saw.
import pino from 'pino';
import { Agent } from '../dist/agent.js';
import { DEFAULT_SENDER_OPTIONS } from '../dist/sender/types.js';

const [path, url] = process.argv.slice(2);
const agent = new Agent(
  {
    fluxiondb: { url, apiKey: 'bench-key', requestTimeoutMs: 60_000 },
    queue: { path, synchronous: 'normal', maxRows: 1e9, maxBytes: 64 * 2 ** 30 },
    sender: { ...DEFAULT_SENDER_OPTIONS },
    housekeepingIntervalMs: 1000,
    stopDeadlineMs: 5000,
  },
  pino({ level: 'warn' }),
);
await agent.start();
const depth = agent.status().queue.depth;
if (depth === 0) {
  const { accepted } = agent.queue.append(Array.from({ length: 20_000 }, (_, i) => ({ col: 'mem', doc: `d${i % 100}`, ts: 1_700_000_000_000 + i, data: '{"t":1}' })));
  agent.sender.notify(accepted);
}
while (agent.status().queue.sent < 20_000) await new Promise((r) => setTimeout(r, 5));
await agent.stop();
console.log(JSON.stringify({ rss: process.resourceUsage().maxRSS * 1024, depth }));
