/**
 * `match:` of a rule: which lines of a serial port are the rule's own. Several devices (or
 * one device printing several kinds of lines) often share a port; without a selector every
 * rule would try every line. A rule whose selector holds owns the line: its records, or
 * its rejection as the line's dead letter. Every condition given must hold.
 */
import type { MatchSpec } from './types.js';

export interface LineSelector {
  /** null when the line is selected, else why not (for the dead letter of a line no rule took). */
  test(text: string): string | null;
}

type Problems = Array<[string, string]>;

/** Compiles `match` (its shape checked by the rule schema); problems are pushed with their field path (`match.regex`). */
export function compileSelector(m: MatchSpec | undefined, csvDelimiter: string, problems: Problems): LineSelector | null {
  if (m === undefined) return null;
  const checks: Array<(text: string) => string | null> = [];
  const before = problems.length;

  if (m.prefix !== undefined) {
    const prefix = m.prefix;
    checks.push((t) => (t.startsWith(prefix) ? null : `does not start with ${JSON.stringify(prefix)}`));
  }
  if (m.regex !== undefined) {
    try {
      const re = new RegExp(m.regex);
      const source = m.regex;
      checks.push((t) => (re.test(t) ? null : `does not match /${source}/`));
    } catch (err) {
      problems.push(['match.regex', `is not a valid regex: ${(err as Error).message}`]);
    }
  }
  if (m.nmea_type !== undefined) {
    const types = typeof m.nmea_type === 'string' ? [m.nmea_type] : m.nmea_type;
    checks.push((t) => {
      const address = nmeaAddress(t);
      if (address === null) return 'is not an NMEA sentence';
      // `GGA` selects $GPGGA and $GNGGA (any talker); a proprietary type (`PUBX`) the whole address.
      return types.some((type) => address === type || (address.length === type.length + 2 && address.endsWith(type)))
        ? null
        : `is an NMEA ${address} sentence, not ${types.join(' or ')}`;
    });
  }
  if (m.cells !== undefined) {
    const want = m.cells;
    checks.push((t) => {
      const n = countCells(t, csvDelimiter);
      return n === want ? null : `has ${n} cells, not ${want}`;
    });
  }
  if (problems.length > before || checks.length === 0) return null;
  return {
    test(text: string): string | null {
      for (const check of checks) {
        const why = check(text);
        if (why !== null) return why;
      }
      return null;
    },
  };
}

/** `GPGGA` of `$GPGGA,...*47`, or null when the line is not shaped like an NMEA sentence. */
function nmeaAddress(text: string): string | null {
  const c = text.charCodeAt(0);
  if (c !== 0x24 /* $ */ && c !== 0x21 /* ! */) return null;
  const end = text.indexOf(',');
  const address = end < 0 ? text.slice(1, text.indexOf('*') >= 0 ? text.indexOf('*') : undefined) : text.slice(1, end);
  return /^[A-Z0-9]{2,8}$/.test(address) ? address : null;
}

/** Cells of a CSV line: delimiters outside double quotes, plus one. */
function countCells(text: string, delimiter: string): number {
  let n = 1;
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (ch === '"') quoted = !quoted;
    else if (ch === delimiter && !quoted) n++;
  }
  return n;
}
