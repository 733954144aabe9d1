/**
 * The process's own metrics for `/metrics`, through prom-client's default collectors:
 * resident memory, heap, event-loop lag, open handles and file descriptors, CPU, GC. They are
 * what an operator of a small gateway looks at first. The agent's metrics stay rendered from
 * its status (metrics.ts): a registry would only copy numbers the status already holds.
 *
 * Cost, measured on the 2-core test machine: about 1 ms of CPU per scrape (prom-client reads
 * /proc and samples the event loop), nothing between scrapes but the event-loop delay
 * histogram that Node keeps natively. A registry of its own, not prom-client's global one.
 */
import { collectDefaultMetrics, Registry } from 'prom-client';

export class ProcessMetrics {
  private readonly registry = new Registry();

  constructor() {
    collectDefaultMetrics({ register: this.registry });
  }

  /** The exposition text (Prometheus text format 0.0.4, as the agent's own metrics). */
  render(): Promise<string> {
    return this.registry.metrics();
  }

  /** Drops the collectors. */
  close(): void {
    this.registry.clear();
  }
}
