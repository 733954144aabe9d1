/** Copies of the config (or settings) safe to print: secrets and private keys replaced by "***". */
import { redactUrl } from '../client/url.js';

const SECRET_KEYS: ReadonlySet<string> = new Set(['api_key', 'apiKey', 'password']);
const MASK = '***';

/** A deep copy with api_key, password and PEM private keys masked, and `api-key` query parameters of URLs masked. */
export function maskSecrets<T>(value: T): T {
  return mask(value, undefined) as T;
}

function mask(v: unknown, key: string | undefined): unknown {
  if (key !== undefined && SECRET_KEYS.has(key) && v !== undefined && v !== null) return MASK;
  if (typeof v === 'string') {
    if (v.includes('PRIVATE KEY-----')) return MASK;
    if (key === 'url') return redactUrl(v);
    return v;
  }
  if (Array.isArray(v)) return v.map((x) => mask(x, undefined));
  if (v !== null && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k] = mask(x, k);
    return out;
  }
  return v;
}
