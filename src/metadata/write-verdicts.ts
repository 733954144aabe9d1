/**
 * What a failed key/value write means for the metadata sync: retry it, reconnect, stop for
 * a refused key, or set it aside as failed. A value whose write closes the connection each
 * time would block every write queued behind it, so after MAX_STRIKES closes in a row it is
 * set aside (retried at the next resync) like a value the server refused.
 */
import { FluxionErrorCodes, isAuthRefusal, isFluxionError } from '../client/index.js';
import type { KvEntry } from '../queue/index.js';

export type WriteOutcome = 'ok' | 'failed' | 'retry' | 'lost' | 'auth';

/** A write whose connection closed this many times in a row is set aside as failed (a poison value). */
export const MAX_STRIKES = 3;

export interface WriteVerdict {
  outcome: WriteOutcome;
  /** Set the entry aside as failed with this reason; null: leave it pending. */
  setAside: string | null;
  /** The entry was set aside for closing the connection again and again. */
  poison: boolean;
}

export class WriteVerdicts {
  private readonly strikes = new Map<string, number>();

  /** A write went through: its strikes are forgiven. */
  succeeded(e: KvEntry): void {
    this.strikes.delete(idOf(e));
  }

  judge(e: KvEntry, err: unknown, stopping: boolean): WriteVerdict {
    const outcome = classify(err);
    const message = err instanceof Error ? err.message : String(err);
    if (outcome === 'lost' && !stopping && !isFluxionError(err, FluxionErrorCodes.CLIENT_CLOSED)) {
      const id = idOf(e);
      const strikes = (this.strikes.get(id) ?? 0) + 1;
      this.strikes.set(id, strikes);
      if (strikes < MAX_STRIKES) return { outcome, setAside: null, poison: false };
      this.strikes.delete(id);
      return { outcome, setAside: `the connection closed each time this was sent (${message})`, poison: true };
    }
    return { outcome, setAside: outcome === 'auth' || outcome === 'failed' ? message : null, poison: false };
  }
}

export function classify(err: unknown): WriteOutcome {
  if (isAuthRefusal(err)) return 'auth';
  if (!isFluxionError(err)) return 'failed';
  switch (err.code) {
    case FluxionErrorCodes.SERVER:
    case FluxionErrorCodes.VALIDATION:
      return 'failed';
    case FluxionErrorCodes.TIMEOUT:
      // The server is slow or dropped the answer: the write may have landed; send again.
      return 'retry';
    default:
      return 'lost';
  }
}

function idOf(e: KvEntry): string {
  return `${e.col}\u0000${e.key}`;
}
