import type { AgentStatus } from '../../../src/agent.js';

/** An agent status for unit tests: an idle, connected agent with nothing queued; override any part. */
export function agentStatus(over: {
  queue?: Partial<AgentStatus['queue']>;
  sender?: Partial<AgentStatus['sender']>;
  inputs?: AgentStatus['inputs'];
  ingest?: Partial<AgentStatus['ingest']>;
  mapping?: AgentStatus['mapping'];
} = {}): AgentStatus {
  return {
    queue: {
      depth: 0, bytes: 0, retainedRows: 0, retainedBytes: 0, oldestUnsentEnqueuedAt: null, oldestUnsentAgeMs: null,
      appended: 0, sent: 0, prunedSent: 0, dropped: 0, droppedByReason: {}, deadLettered: 0, deadLetterDepth: 0,
      bytesWritten: 0, corruptFilesMovedAside: 0, leased: 0, leases: 0, newestId: 0,
      // Plain rows (nothing compacted): on disk as they count logically, unless a test says otherwise.
      storedBytes: over.queue?.bytes ?? 0, retainedStoredBytes: over.queue?.retainedBytes ?? 0, ...over.queue,
    },
    sender: {
      state: 'connected', connections: 1, reconnects: 0, inFlightBatches: 0, sentRecords: 0, sentBatches: 0, resentRecords: 0,
      resendsSkipped: 0, deadLettered: 0, isolating: 0, lastAckAt: null, lastError: null, ...over.sender,
    },
    inputs: over.inputs ?? [{ name: 'mqtt', state: 'connected', received: 0, committed: 0, lastMessageAt: null, lastError: null }],
    ingest: { received: 0, committed: 0, deadLettered: 0, ...over.ingest },
    mapping: over.mapping ?? null,
  };
}
