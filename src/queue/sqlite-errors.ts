import { AgentError, ErrorCodes } from '../errors.js';

/** Maps a SQLite failure to the agent's codes; SQLITE_FULL is the one callers retry on. */
export function sqliteError(err: unknown, op: string): AgentError {
  const code = (err as { code?: unknown } | null)?.code;
  if (code === 'SQLITE_FULL') {
    return new AgentError(ErrorCodes.QUEUE_DISK_FULL, `queue ${op} failed: the disk (or maxFileBytes) is full; nothing was written`, {
      cause: err,
    });
  }
  return new AgentError(ErrorCodes.QUEUE_IO, `queue ${op} failed: ${(err as Error)?.message ?? String(err)}`, { cause: err });
}
