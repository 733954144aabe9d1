/**
 * Dotted paths into a parsed payload (`env.hum`, `values.0`), split once at compile time.
 * Only own properties are followed, so `constructor` or `__proto__` never reach into a
 * prototype.
 */

/** Returned by lookups when the path leads nowhere; `undefined` cannot appear in JSON. */
export const ABSENT: unique symbol = Symbol('absent');

export interface FieldPath {
  /** The path as written in the config, without any optional marker. */
  readonly source: string;
  readonly segments: readonly string[];
}

/** Splits a path; returns a problem message instead when it is malformed. */
export function compileFieldPath(source: string): FieldPath | string {
  if (source.length === 0) return 'empty field path';
  const segments = source.split('.');
  for (const s of segments) {
    if (s.length === 0) return `field path '${source}' has an empty segment`;
  }
  return { source, segments };
}

export function lookupPath(root: unknown, path: FieldPath): unknown {
  let cur: unknown = root;
  const segs = path.segments;
  for (let i = 0; i < segs.length; i++) {
    if (cur === null || typeof cur !== 'object') return ABSENT;
    const seg = segs[i]!;
    if (Array.isArray(cur)) {
      const idx = arrayIndex(seg);
      if (idx < 0 || idx >= cur.length) return ABSENT;
      cur = cur[idx];
    } else {
      if (!Object.hasOwn(cur, seg)) return ABSENT;
      cur = (cur as Record<string, unknown>)[seg];
    }
  }
  return cur;
}

function arrayIndex(seg: string): number {
  // Plain decimal only: `01`, `-1` and `1e2` are not indexes.
  if (seg === '0') return 0;
  const c = seg.charCodeAt(0);
  if (c < 49 || c > 57) return -1;
  for (let i = 1; i < seg.length; i++) {
    const d = seg.charCodeAt(i);
    if (d < 48 || d > 57) return -1;
  }
  return Number(seg);
}
