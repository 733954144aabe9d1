/** Upper bounds (seconds) of the batch round-trip buckets, Prometheus style. */
export const RTT_BUCKETS_S = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] as const;

/** A cumulative histogram of batch round-trip times: fixed buckets, no allocation per sample. */
export class RttHistogram {
  readonly counts = new Array<number>(RTT_BUCKETS_S.length).fill(0);
  count = 0;
  sumSeconds = 0;

  observe(ms: number): void {
    const s = ms / 1000;
    this.count++;
    this.sumSeconds += s;
    for (let i = 0; i < RTT_BUCKETS_S.length; i++) {
      if (s <= RTT_BUCKETS_S[i]!) this.counts[i]!++;
    }
  }
}
