/**
 * API keys and their scopes, as upstream manages them through the `keys` message: the
 * master key holds every scope and cannot be removed or changed; other keys are added,
 * re-scoped and removed at run time. Sockets look their scope up on every request, so a
 * change reaches open sockets at once; a removed key's open sockets fall back to readonly.
 */

export type Scope = 'readonly' | 'read_write' | 'read_write_delete';

/** What each message type needs, in upstream's three nested levels. */
export type Need = 'read' | 'write' | 'delete';

const RANK: Record<Scope, number> = { readonly: 0, read_write: 1, read_write_delete: 2 };
const NEED_RANK: Record<Need, number> = { read: 0, write: 1, delete: 2 };

/** Upstream ignores case and the characters space, comma, `-` and `_` in `action` and `scope`. */
export function normalizeWord(value: unknown): string {
  return typeof value === 'string' ? value.toLowerCase().replace(/[\s,_-]/g, '') : '';
}

const SCOPES: Record<string, Scope> = { readonly: 'readonly', readwrite: 'read_write', readwritedelete: 'read_write_delete' };

/** The scope a word names once normalized, or undefined when it names none. */
export function parseScope(value: unknown): Scope | undefined {
  return SCOPES[normalizeWord(value)];
}

/** A failed key operation; `message` is upstream's exact error text. */
export class KeyError extends Error {}

export class ApiKeyRegistry {
  private readonly scopes = new Map<string, Scope>();

  constructor(private readonly masterKey: string) {
    this.scopes.set(masterKey, 'read_write_delete');
  }

  isMaster(key: string): boolean {
    return key === this.masterKey;
  }

  /** Whether a new connection with this key is let in. */
  has(key: string): boolean {
    return this.scopes.has(key);
  }

  /** The scope of a key right now; a removed key's sockets are readonly. */
  scopeOf(key: string): Scope {
    return this.scopes.get(key) ?? 'readonly';
  }

  allows(key: string, need: Need): boolean {
    return RANK[this.scopeOf(key)] >= NEED_RANK[need];
  }

  /** Adds a key or changes its scope; returns the normalized scope. */
  add(key: unknown, scope: unknown): Scope {
    if (typeof key !== 'string' || key === '') throw new KeyError('api key cannot be empty');
    const parsed = parseScope(scope);
    if (parsed === undefined) throw new KeyError('invalid scope');
    // Upstream answers ok with the scope asked, and the master key keeps every scope.
    if (key === this.masterKey) return parsed;
    this.scopes.set(key, parsed);
    return parsed;
  }

  remove(key: unknown): void {
    // Upstream looks a missing or empty key up like any other: not found.
    if (typeof key !== 'string' || key === '') throw new KeyError('api key not found');
    if (key === this.masterKey) throw new KeyError('api key cannot be removed');
    if (!this.scopes.delete(key)) throw new KeyError('api key not found');
  }

  list(): Array<{ deletable: boolean; key: string; scope: Scope }> {
    return [...this.scopes].map(([key, scope]) => ({ deletable: key !== this.masterKey, key, scope }));
  }
}
