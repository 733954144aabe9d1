/**
 * The values that must never leave the process (the API key, the MQTT password), built once
 * from the config (config/settings.ts) and passed to whatever prints or stores text: the
 * HTTP endpoint, `status`, the MQTT input's errors, the metadata sync. The FluxionDB client
 * keeps its own small copy of the scrubbing (client/connection.ts) so that it can be
 * published alone.
 */

/** What a secret is replaced with. */
export const MASK = '***';

export class Secrets {
  /** No secrets (tests, tools without a config). */
  static readonly none = new Secrets([]);

  // Private fields: a copy, a mask or a JSON dump of the settings never walks into them.
  readonly #values: readonly string[];
  /** Every form a secret may take in text (as is, URL-encoded, JSON-escaped), longest first. */
  readonly #forms: readonly string[];

  constructor(values: Iterable<string | undefined>) {
    this.#values = Object.freeze([...new Set([...values].filter((v): v is string => v !== undefined && v !== ''))]);
    const forms = new Set<string>();
    for (const s of this.#values) for (const f of [s, encodeURIComponent(s), JSON.stringify(s).slice(1, -1)]) forms.add(f);
    // Longest first: a secret that contains another is replaced whole, not in part.
    this.#forms = Object.freeze([...forms].sort((a, b) => b.length - a.length));
  }

  /** The secrets themselves, non-empty, without duplicates. */
  get values(): readonly string[] {
    return this.#values;
  }

  /** `text` with every form of every secret replaced by ***. */
  scrub(text: string): string {
    let out = text;
    for (const f of this.#forms) if (out.includes(f)) out = out.split(f).join(MASK);
    return out;
  }

  /** True when `value` holds one of the secrets: such a value is never written anywhere. */
  heldBy(value: string): boolean {
    return this.#values.some((s) => value.includes(s));
  }

  /** Printed settings show that secrets exist, never what they are. */
  toJSON(): string {
    return MASK;
  }
}

/** The password in a URL's user info (decoded), or undefined. */
export function passwordInUrl(url: string): string | undefined {
  try {
    const u = new URL(url);
    return u.password === '' ? undefined : decodeURIComponent(u.password);
  } catch {
    return undefined;
  }
}

/** A URL as logs may show it: scheme, host and path, without user info, query or fragment. */
export function displayUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname === '/' ? '' : u.pathname}`;
  } catch {
    return '(invalid url)';
  }
}
