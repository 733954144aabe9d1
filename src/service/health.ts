/**
 * The health rule, as one pure function of the agent's status: `/healthz` answers from it,
 * and the systemd watchdog is pinged only while it holds. Healthy means the data flow
 * works: every input is connected, FluxionDB accepts the API key, a backlog is being
 * acknowledged, and the queue has room. An idle agent with nothing queued is healthy.
 */
import type { AgentStatus } from '../agent.js';

export interface HealthOptions {
  /**
   * With unsent readings queued, the last acknowledged batch may be at most this old, in
   * ms (before the first ack: the time since `startedAt`). Default 60000.
   */
  staleAfterMs: number;
  /** When the agent started, ms since the epoch: the grace period before the first ack. */
  startedAt: number;
  /** The queue's byte cap (`queue.max_bytes`); unsent bytes at or above it count as full. Default: the cap the queue reports (`status.disk.maxBytes`, e.g. from `auto`), else not checked. */
  queueMaxBytes?: number;
  /** The queue's row cap (`queue.max_rows`); unsent rows at or above it count as full. Default: not checked. */
  queueMaxRows?: number;
}

export const DEFAULT_STALE_AFTER_MS = 60_000;

/** The reason `/healthz` gives for a full disk (a stable word at the start of its sentence). */
export const DISK_FULL_REASON = 'disk_full';

export interface HealthAssessment {
  healthy: boolean;
  /** One sentence per failed check, in a fixed order (inputs, auth, backlog, queue); empty when healthy. */
  reasons: string[];
}

export function assessHealth(status: AgentStatus, now: number, options: HealthOptions): HealthAssessment {
  const reasons: string[] = [];
  for (const input of status.inputs) {
    if (input.state !== 'connected') reasons.push(`input ${input.name} is ${input.state}`);
  }
  const sender = status.sender;
  if (sender.state === 'auth_failed') reasons.push('FluxionDB refused the API key or its scope');
  else if (sender.state === 'stopped') reasons.push('the sender is stopped');
  const q = status.queue;
  if (q.depth > 0) {
    const since = sender.lastAckAt ?? options.startedAt;
    const age = now - since;
    if (age > options.staleAfterMs) {
      const what = sender.lastAckAt === null ? `none acknowledged in the ${seconds(age)} since start` : `last batch acknowledged ${seconds(age)} ago`;
      reasons.push(`${q.depth} readings queued, ${what} (limit ${seconds(options.staleAfterMs)})`);
    }
  }
  const disk = status.disk;
  const maxBytes = options.queueMaxBytes ?? (disk !== undefined && !disk.confined ? disk.maxBytes : undefined);
  if (disk?.full === true) {
    const free = disk.freeBytes === null ? '' : ` (${disk.freeBytes} bytes free)`;
    reasons.push(`${DISK_FULL_REASON}: the queue's filesystem is full${free}; new readings are held back or dropped as on_full says until space is freed`);
  } else if (maxBytes !== undefined && q.storedBytes >= maxBytes) {
    // max_bytes counts bytes on disk (compressed), as the queue does.
    reasons.push(`the queue is full: ${q.storedBytes} bytes unsent (max_bytes ${maxBytes})`);
  } else if (options.queueMaxRows !== undefined && q.depth >= options.queueMaxRows) {
    reasons.push(`the queue is full: ${q.depth} readings unsent (max_rows ${options.queueMaxRows})`);
  }
  return { healthy: reasons.length === 0, reasons };
}

function seconds(ms: number): string {
  return `${Math.round(ms / 1000)}s`;
}

/**
 * What the systemd watchdog pings on (never stopped by a full disk, see below): is the agent itself working, not is the world around
 * it fine. A restart cannot bring back a FluxionDB server, a broker or a revoked key; during
 * such an outage the agent is doing its job (queueing, retrying with backoff), and restarting
 * it every few minutes would only re-run the queue's start-up check and wear the SD card.
 * So the watchdog stops only when the sender says it is connected, readings are queued, and
 * nothing has been acknowledged for `staleAfterMs`: the pipeline is wedged, and a restart
 * is the cure. `/healthz` (assessHealth) reports the outages.
 */
export function assessLiveness(status: AgentStatus, now: number, options: HealthOptions): HealthAssessment {
  const { sender, queue } = status;
  // A full disk is not cured by a restart (it only re-runs the start-up check on the same
  // full disk): the agent keeps sending and frees room itself, and /healthz reports it.
  if (status.disk?.full === true) return { healthy: true, reasons: [] };
  if (sender.state === 'connected' && queue.depth > 0) {
    const age = now - (sender.lastAckAt ?? options.startedAt);
    if (age > options.staleAfterMs) {
      return { healthy: false, reasons: [`connected with ${queue.depth} readings queued, but nothing acknowledged for ${seconds(age)}`] };
    }
  }
  return { healthy: true, reasons: [] };
}
