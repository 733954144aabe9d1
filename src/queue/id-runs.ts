/**
 * Id runs [lo, hi], the shape both the lease book and the sent runs keep in memory sorted by
 * `lo` and disjoint. Its own file so that neither of the two has to import the other.
 */

/** Index of the first run ending at or after `pos` in runs sorted by lo (disjoint), by bisection. */
export function indexFrom(runs: readonly { readonly hi: number }[], pos: number): number {
  let lo = 0;
  let hi = runs.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (runs[mid]!.hi < pos) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
