/**
 * Bytes on the wire, as the client's socket counted them (after compression), summed per
 * minute over the last 24 hours, so that `status` and `/metrics` can say what the uplink
 * carried in the last hour and day and what a reading costs. 1,440 numbers of memory.
 */
const MINUTE_MS = 60_000;
const MINUTES_PER_DAY = 1440;

export interface WireStats {
  /** Bytes written by the sender's connections since start. */
  bytesSent: number;
  /** Of which in the last 60 minutes and the last 24 hours. */
  bytesLastHour: number;
  bytesLastDay: number;
  /** Bytes sent per reading acknowledged since start (0 before the first). */
  bytesPerReading: number;
  /** The cap in force (`sender.max_bytes_per_second`), 0 for none. */
  maxBytesPerSecond: number;
}

export class WireMeter {
  private readonly perMinute = new Float64Array(MINUTES_PER_DAY);
  /** The minute (ms / 60,000) each slot holds; a slot from an older day is stale. */
  private readonly slotMinute = new Float64Array(MINUTES_PER_DAY).fill(-1);
  private total = 0;

  constructor(private readonly now: () => number) {}

  add(bytes: number): void {
    if (bytes <= 0) return;
    const minute = Math.floor(this.now() / MINUTE_MS);
    const i = minute % MINUTES_PER_DAY;
    if (this.slotMinute[i] !== minute) {
      this.slotMinute[i] = minute;
      this.perMinute[i] = 0;
    }
    this.perMinute[i]! += bytes;
    this.total += bytes;
  }

  stats(readingsSent: number, maxBytesPerSecond: number): WireStats {
    const minute = Math.floor(this.now() / MINUTE_MS);
    return {
      bytesSent: this.total,
      bytesLastHour: this.sinceMinutes(minute, 60),
      bytesLastDay: this.sinceMinutes(minute, MINUTES_PER_DAY),
      bytesPerReading: readingsSent > 0 ? this.total / readingsSent : 0,
      maxBytesPerSecond,
    };
  }

  private sinceMinutes(minute: number, span: number): number {
    let sum = 0;
    for (let i = 0; i < MINUTES_PER_DAY; i++) {
      const m = this.slotMinute[i]!;
      if (m > minute - span && m <= minute) sum += this.perMinute[i]!;
    }
    return sum;
  }
}
