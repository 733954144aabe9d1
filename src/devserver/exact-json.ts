/**
 * JSON.parse, except that an integer token too large for a double's exact range comes back as
 * a `bigint` with its exact value. Upstream keeps `ts` as an int64, so
 * `9223372036854775807` must come back as that text, not as ...808 (JSON.parse rounds it).
 * Node 20 has no access to a number's source text in JSON.parse, hence this reader.
 *
 * Only payloads that hold such a token take the slow path: JSON.parse reads the text first,
 * and only when its result holds a number of magnitude 2^53 or more (where a rounded integer
 * would show) is the text read again here. Every other payload costs one JSON.parse and a
 * walk of its result.
 */

/**
 * Whether JSON.parse's result holds a number at or beyond 2^53 in magnitude: the only way an
 * integer token JSON.parse rounded can show. A walk of the parsed value is cheaper than a
 * scan of the text (a 1,000-record `ins` has about 4,000 leaves).
 */
function holdsHugeNumber(v: unknown): boolean {
  if (typeof v === 'number') return Math.abs(v) >= 2 ** 53;
  if (typeof v !== 'object' || v === null) return false;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) if (holdsHugeNumber(v[i])) return true;
    return false;
  }
  for (const k in v) if (holdsHugeNumber((v as Record<string, unknown>)[k])) return true;
  return false;
}

/** Parses `text` like JSON.parse; throws SyntaxError on anything JSON.parse would refuse. */
export function parseExactJson(text: string): unknown {
  const quick = JSON.parse(text) as unknown;
  if (!holdsHugeNumber(quick)) return quick;
  const reader = new Reader(text);
  reader.space();
  const value = reader.value();
  reader.space();
  if (reader.i !== text.length) reader.fail();
  return value;
}

const NUMBER = /-?(?:0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/y;

class Reader {
  i = 0;
  constructor(private readonly s: string) {}

  fail(): never {
    throw new SyntaxError(`Unexpected token at position ${this.i} in JSON`);
  }

  space(): void {
    const s = this.s;
    while (this.i < s.length) {
      const c = s.charCodeAt(this.i);
      if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) return;
      this.i++;
    }
  }

  value(): unknown {
    const c = this.s[this.i];
    if (c === '{') return this.object();
    if (c === '[') return this.array();
    if (c === '"') return this.string();
    if (c === '-' || (c !== undefined && c >= '0' && c <= '9')) return this.number();
    for (const [word, v] of LITERALS) {
      if (this.s.startsWith(word, this.i)) {
        this.i += word.length;
        return v;
      }
    }
    return this.fail();
  }

  private object(): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    this.i++;
    this.space();
    if (this.s[this.i] === '}') {
      this.i++;
      return out;
    }
    for (;;) {
      this.space();
      if (this.s[this.i] !== '"') this.fail();
      const key = this.string();
      this.space();
      if (this.s[this.i++] !== ':') this.fail();
      this.space();
      // Defined like JSON.parse does it, so a "__proto__" key is a plain property.
      Object.defineProperty(out, key, { value: this.value(), enumerable: true, writable: true, configurable: true });
      this.space();
      const next = this.s[this.i++];
      if (next === '}') return out;
      if (next !== ',') this.fail();
    }
  }

  private array(): unknown[] {
    const out: unknown[] = [];
    this.i++;
    this.space();
    if (this.s[this.i] === ']') {
      this.i++;
      return out;
    }
    for (;;) {
      this.space();
      out.push(this.value());
      this.space();
      const next = this.s[this.i++];
      if (next === ']') return out;
      if (next !== ',') this.fail();
    }
  }

  /** A string token, decoded by JSON.parse itself (escapes, surrogates, control characters). */
  private string(): string {
    const s = this.s;
    let j = this.i + 1;
    for (;;) {
      const q = s.indexOf('"', j);
      if (q < 0) this.fail();
      let backslashes = 0;
      for (let k = q - 1; k > this.i && s[k] === '\\'; k--) backslashes++;
      if (backslashes % 2 === 0) {
        const token = s.slice(this.i, q + 1);
        this.i = q + 1;
        return JSON.parse(token) as string;
      }
      j = q + 1;
    }
  }

  private number(): number | bigint {
    NUMBER.lastIndex = this.i;
    const m = NUMBER.exec(this.s);
    if (m === null) this.fail();
    this.i += m[0].length;
    const n = Number(m[0]);
    const isInteger = m[1] === undefined && m[2] === undefined;
    return isInteger && !Number.isSafeInteger(n) ? BigInt(m[0]) : n;
  }
}

const LITERALS: ReadonlyArray<[string, unknown]> = [['true', true], ['false', false], ['null', null]];
