/**
 * Appenders waiting for room (`onFull: block`): each waits until the unsent rows leave room
 * for its whole group, not for one row, so that a refused group is not retried in a loop.
 */
import { AgentError, ErrorCodes } from '../errors.js';

interface Waiter {
  rows: number;
  bytes: number;
  resolve: () => void;
  reject: (e: Error) => void;
}

export class RoomWaiters {
  private waiters: Waiter[] = [];

  constructor(private readonly hasRoom: (rows: number, bytes: number) => boolean) {}

  /** Resolves when hasRoom(rows, bytes); rejects with EDGE_ERR_STOPPED on abort or rejectAll(). */
  wait(rows: number, bytes: number, signal?: AbortSignal): Promise<void> {
    if (this.hasRoom(rows, bytes)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const w = { rows, bytes, resolve, reject };
      this.waiters.push(w);
      signal?.addEventListener(
        'abort',
        () => {
          this.waiters = this.waiters.filter((x) => x !== w);
          reject(new AgentError(ErrorCodes.STOPPED, 'waitForRoom aborted', { cause: signal.reason }));
        },
        { once: true },
      );
    });
  }

  /** Wakes the waiters that now fit. */
  check(): void {
    if (this.waiters.length === 0) return;
    this.waiters = this.waiters.filter((w) => {
      if (!this.hasRoom(w.rows, w.bytes)) return true;
      w.resolve();
      return false;
    });
  }

  rejectAll(reason: string): void {
    for (const w of this.waiters.splice(0)) w.reject(new AgentError(ErrorCodes.STOPPED, reason));
  }
}
