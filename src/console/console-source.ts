/**
 * What the console reads and the few things it may do, as the service layer hands them to
 * it (run-command builds this from the agent). The console never opens the queue file or
 * builds a component: it is a view, and its actions are the same functions the CLI calls.
 */
import type { AgentStatus } from '../agent.js';
import type { MapResult, RawMessage } from '../mapping/types.js';
import type { MetadataStatus } from '../metadata/types.js';
import type { KvEntry } from '../queue/kv-outbox.js';
import type { DeadLetter, DeadLetterFilter, DeadLetterSummary, RetryDeadLettersResult } from '../queue/types.js';
import type { RttHistogram } from '../sender/rtt-histogram.js';

/** The sender's round-trip histogram, read-only. */
export type RttSnapshot = Readonly<Pick<RttHistogram, 'count' | 'sumSeconds'>> & { readonly counts: readonly number[] };

export interface ConsoleSource {
  status(): AgentStatus;
  rtt(): RttSnapshot;
  /** The queue file's path: the console shows the free space of its filesystem. */
  queuePath: string;
  listDeadLetters(filter: DeadLetterFilter): DeadLetter[];
  deadLetterSummary(): DeadLetterSummary[];
  /** Re-queues dead letters: stored records as they are, raw payloads mapped by the running rules. */
  retryDeadLetters(ids: readonly number[]): RetryDeadLettersResult;
  purgeDeadLetters(ids: readonly number[]): number;
  /** Maps a message with the running rules, queueing nothing and touching no counter. */
  previewMapping(message: RawMessage): MapResult;
  /** Serial port names and MQTT filters the running rules listen to (the playground's choices). */
  mappingTargets(): { topics: string[]; ports: string[] };
  /** Null when the agent runs without metadata sync. */
  metadata(): { status: MetadataStatus; entries: KvEntry[] } | null;
  /** Starts a full metadata resync; false without metadata sync. */
  resyncMetadata(): boolean;
}

/** The configuration page: the running config (secrets masked) and the file on disk. */
export interface ConfigView {
  /** The config in force, snake_case as written, secrets masked. */
  running(): unknown;
  /** The file on disk: whether it changed since it was loaded, and its problems if it does not validate. */
  onDisk(): { path: string; changed: boolean; problems: Array<{ path: string; line?: number; column?: number; message: string }> };
}
