/**
 * MQTT topic filters with named wildcards, compiled once into per-level arrays so that a
 * message costs one `split('/')` (shared by every rule) and string compares: no regex.
 *
 *   `+` any one level          `{name}` one level, captured as `name`
 *   `#` the rest (last only)   `{name#}` the rest, captured joined with `/` ('' when empty)
 *   `$share/<group>/<filter>`  subscribed as written, matched without the prefix
 */

const LITERAL = 0;
const ANY = 1;
const NAMED = 2;

const NAME_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;

export class TopicPattern {
  /** The filter to subscribe with: wildcards turned into `+`/`#`, `$share/` prefix kept. */
  readonly filter: string;
  /** Capture names, in the order of their slots. */
  readonly names: readonly string[];
  private readonly kinds: Uint8Array;
  private readonly literals: readonly string[];
  private readonly slots: Int16Array;
  /** Number of levels before the tail wildcard (or of all levels when there is none). */
  private readonly fixed: number;
  /** -2: no tail wildcard; -1: anonymous `#`; >= 0: slot of `{name#}`. */
  private readonly tailSlot: number;
  private readonly firstIsWildcard: boolean;

  constructor(filter: string, names: string[], kinds: Uint8Array, literals: string[], slots: Int16Array, tailSlot: number) {
    this.filter = filter;
    this.names = names;
    this.kinds = kinds;
    this.literals = literals;
    this.slots = slots;
    this.fixed = kinds.length;
    this.tailSlot = tailSlot;
    this.firstIsWildcard = kinds.length === 0 ? tailSlot !== -2 : kinds[0] !== LITERAL;
  }

  /**
   * Matches a topic already split on `/`. Fills `captures` (indexed by slot) and returns
   * true, or returns false (captures then hold garbage).
   */
  match(levels: readonly string[], captures: string[]): boolean {
    const n = levels.length;
    const fixed = this.fixed;
    if (this.tailSlot === -2 ? n !== fixed : n < fixed) return false;
    // MQTT: a filter starting with a wildcard never matches topics starting with `$` ($SYS...).
    if (this.firstIsWildcard && levels[0]!.charCodeAt(0) === 36) return false;
    const kinds = this.kinds;
    for (let i = 0; i < fixed; i++) {
      const k = kinds[i];
      if (k === LITERAL) {
        if (levels[i] !== this.literals[i]) return false;
      } else if (k === NAMED) {
        captures[this.slots[i]!] = levels[i]!;
      }
    }
    if (this.tailSlot >= 0) captures[this.tailSlot] = n > fixed ? levels.slice(fixed).join('/') : '';
    return true;
  }
}

export interface TopicPatternProblems {
  problems: string[];
  /** The wildcard names that were valid, so templates can still be checked. */
  names: string[];
}

/** Compiles a topic filter, or returns every problem found in it. */
export function compileTopicPattern(source: string): TopicPattern | TopicPatternProblems {
  const problems: string[] = [];
  if (source.length === 0) return { problems: ['topic must not be empty'], names: [] };
  if (source.includes('\u0000')) return { problems: ['topic must not contain NUL'], names: [] };
  let prefix = '';
  let body = source;
  if (source.startsWith('$share/')) {
    const rest = source.slice('$share/'.length);
    const slash = rest.indexOf('/');
    const group = slash < 0 ? rest : rest.slice(0, slash);
    if (group.length === 0 || /[+#{}]/.test(group)) {
      problems.push(`'${source}': a shared subscription needs a plain group name: $share/<group>/<filter>`);
    }
    if (slash < 0 || slash === rest.length - 1) {
      problems.push(`'${source}': a shared subscription needs a filter after $share/<group>/`);
      return { problems, names: [] };
    }
    prefix = `$share/${group}/`;
    body = rest.slice(slash + 1);
  }

  const levels = body.split('/');
  const kinds: number[] = [];
  const literals: string[] = [];
  const slots: number[] = [];
  const names: string[] = [];
  const out: string[] = [];
  let tailSlot = -2;
  for (let i = 0; i < levels.length; i++) {
    const lv = levels[i]!;
    const last = i === levels.length - 1;
    const named = /^\{(.*)\}$/.exec(lv);
    if (lv === '#' || (named && named[1]!.endsWith('#'))) {
      if (!last) {
        problems.push(`'${source}': '${lv}' must be the last level`);
        continue;
      }
      if (named) {
        const name = named[1]!.slice(0, -1);
        if (addName(name, names, source, problems)) tailSlot = names.length - 1;
        else tailSlot = -1;
      } else {
        tailSlot = -1;
      }
      out.push('#');
    } else if (lv === '+') {
      kinds.push(ANY);
      literals.push('');
      slots.push(-1);
      out.push('+');
    } else if (named) {
      const ok = addName(named[1]!, names, source, problems);
      kinds.push(NAMED);
      literals.push('');
      slots.push(ok ? names.length - 1 : -1);
      out.push('+');
    } else {
      if (/[+#{}]/.test(lv)) {
        problems.push(`'${source}': level '${lv}' mixes text with a wildcard; a wildcard must fill a whole level`);
      }
      kinds.push(LITERAL);
      literals.push(lv);
      slots.push(-1);
      out.push(lv);
    }
  }
  if (problems.length > 0) return { problems, names };
  return new TopicPattern(prefix + out.join('/'), names, Uint8Array.from(kinds), literals, Int16Array.from(slots), tailSlot);
}

function addName(name: string, names: string[], source: string, problems: string[]): boolean {
  if (!NAME_RE.test(name)) {
    problems.push(`'${source}': wildcard name '${name}' must be letters, digits and '_', not starting with a digit`);
    return false;
  }
  if (names.includes(name)) {
    problems.push(`'${source}': wildcard name '${name}' is used twice`);
    return false;
  }
  names.push(name);
  return true;
}

/**
 * True when every topic that plain filter `b` matches is also matched by filter `a`
 * (`+`/`#` only, no `$share/` prefix). Used to drop overlapping subscriptions: a broker may
 * deliver a message once per matching subscription (Mosquitto does), and every copy would
 * be mapped and stored again.
 */
export function filterCovers(a: string, b: string): boolean {
  const al = a.split('/');
  const bl = b.split('/');
  if (al[0] !== bl[0] && (al[0] === '+' || al[0] === '#') && bl[0]!.startsWith('$')) return false;
  for (let i = 0; i < al.length; i++) {
    const x = al[i]!;
    if (x === '#') return true;
    if (i >= bl.length) return false;
    const y = bl[i]!;
    if (y === '#') return false;
    if (x !== '+' && x !== y) return false;
  }
  return al.length === bl.length;
}
