import type { Agent } from '../agent.js';
import type { ConsoleSource } from './console-source.js';

/** What the console may read and do, taken from the running agent. */
export function agentConsoleSource(agent: Agent, queuePath: string): ConsoleSource {
  return {
    status: () => agent.status(),
    rtt: () => agent.sender.rtt,
    queuePath,
    listDeadLetters: (f) => agent.queue.listDeadLetters(f),
    deadLetterSummary: () => agent.queue.deadLetterSummary(),
    retryDeadLetters: (ids) => agent.retryDeadLetters(ids),
    purgeDeadLetters: (ids) => agent.queue.purgeDeadLetters({ ids }),
    previewMapping: (m) => agent.previewMapping(m),
    mappingTargets: () => agent.mappingTargets(),
    metadata: () => (agent.metadata === null ? null : { status: agent.metadata.status(), entries: agent.metadata.entries() }),
    resyncMetadata: () => {
      if (agent.metadata === null) return false;
      agent.metadata.requestResync();
      return true;
    },
  };
}
