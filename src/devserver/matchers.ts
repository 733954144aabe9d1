/**
 * The `/pattern/flags` convention shared by `qry.doc`, `where`, `filter` and `gvalues.key`.
 * Upstream compiles the pattern as an ECMAScript regex and searches it (not anchored); only
 * the flags i, m and s are accepted, and only i changes anything. Any other flag, or a
 * pattern that does not compile, makes the whole string a literal.
 */

/** A compiled `/pattern/flags`, or null when the text is to be taken literally. */
export function parseSlashRegex(text: string): RegExp | null {
  if (text.length < 2 || text.charCodeAt(0) !== 0x2f /* / */) return null;
  const close = text.lastIndexOf('/');
  if (close <= 0) return null;
  const flags = text.slice(close + 1);
  for (const f of flags) if (f !== 'i' && f !== 'm' && f !== 's') return null;
  try {
    return new RegExp(text.slice(1, close), flags.includes('i') ? 'i' : '');
  } catch {
    return null;
  }
}

/** Tests a name or a value: regex search when the text is a regex, else `literal(text)`. */
export type TextTest = (candidate: string) => boolean;

/** A document-name or key test: regex search, else exact equality. */
export function nameTest(text: string): TextTest {
  const re = parseSlashRegex(text);
  return re === null ? (c) => c === text : (c) => re.test(c);
}

/** A `where`/`filter` test on `data`: regex search, else substring. */
export function dataTest(text: string): TextTest {
  const re = parseSlashRegex(text);
  return re === null ? (c) => c.includes(text) : (c) => re.test(c);
}

/**
 * Combines `where` (keep matching records) and `filter` (drop matching records); absent or
 * empty strings impose nothing. Returns null when nothing is to be tested, so the hot path
 * skips the call.
 */
export function recordFilter(where: unknown, filter: unknown): TextTest | null {
  const keep = typeof where === 'string' && where !== '' ? dataTest(where) : null;
  const drop = typeof filter === 'string' && filter !== '' ? dataTest(filter) : null;
  if (keep === null && drop === null) return null;
  if (drop === null) return keep;
  if (keep === null) return (c) => !drop(c);
  return (c) => keep(c) && !drop(c);
}
