/**
 * The agent's error type. Every error the agent raises carries a stable `code`
 * (EDGE_ERR_*) that callers, tests and operators branch on; the message is for humans
 * and may change. The original error, if any, travels as `cause`.
 */
export const ErrorCodes = {
  /** The configuration is invalid; `details` lists every problem. Exit code 78. */
  CONFIG_INVALID: 'EDGE_ERR_CONFIG_INVALID',
  /** A file the config names (secret, CA, certificate) could not be read. */
  CONFIG_FILE: 'EDGE_ERR_CONFIG_FILE',
  /** The queue's SQLite file could not be opened or written. */
  QUEUE_IO: 'EDGE_ERR_QUEUE_IO',
  /** The disk holding the queue is full; retried, never fatal. */
  QUEUE_DISK_FULL: 'EDGE_ERR_QUEUE_DISK_FULL',
  /** The queue file failed its integrity check and was moved aside. */
  QUEUE_CORRUPT: 'EDGE_ERR_QUEUE_CORRUPT',
  /** The queue is full and `on_full: block` holds new readings back. */
  QUEUE_FULL: 'EDGE_ERR_QUEUE_FULL',
  /** The queue was used before start() or after stop(). */
  QUEUE_CLOSED: 'EDGE_ERR_QUEUE_CLOSED',
  /** A record or raw message was refused (bad shape, bad timestamp, no rule). */
  RECORD_INVALID: 'EDGE_ERR_RECORD_INVALID',
  /** A command-line usage error. Exit code 64. */
  USAGE: 'EDGE_ERR_USAGE',
  /** The health and metrics endpoint cannot listen (port taken, address missing). */
  HEALTH_LISTEN: 'EDGE_ERR_HEALTH_LISTEN',
  /** Another process holds the queue file and the operation needs it alone. */
  QUEUE_BUSY: 'EDGE_ERR_QUEUE_BUSY',
  /** A component was stopped before an operation finished. */
  STOPPED: 'EDGE_ERR_STOPPED',
  /** The sender failed for a reason outside the client (e.g. the queue could not record an ack); shown as `lastError` in status. */
  SEND: 'EDGE_ERR_SEND',
  /** The metadata sync failed for a reason that carries no code of its own; shown as `lastError` in status. */
  METADATA: 'EDGE_ERR_METADATA',
} as const;

export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

export class AgentError extends Error {
  readonly code: ErrorCode;
  /** Extra machine-readable facts (for config errors: the list of problems). */
  readonly details: unknown;

  constructor(code: ErrorCode, message: string, options: { cause?: unknown; details?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'AgentError';
    this.code = code;
    this.details = options.details;
  }
}

export function isAgentError(err: unknown, code?: ErrorCode): err is AgentError {
  return err instanceof AgentError && (code === undefined || err.code === code);
}
