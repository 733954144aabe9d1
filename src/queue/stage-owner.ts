import { existsSync, statSync } from 'node:fs';
import { queueFileInUse } from './read-only.js';

/**
 * True when the staging log beside `path` holds records and another process has the queue
 * file open: a running agent stages into it, and a second queue on the same file (e.g.
 * `dead-letter purge` beside the agent) must not recover those records behind its back.
 * Call before opening the file (an open connection of this process counts as another).
 */
export function stageLogInUse(path: string): boolean {
  const log = `${path}-stage`;
  if (!existsSync(path) || !existsSync(log) || statSync(log).size === 0) return false;
  return queueFileInUse(path);
}
