import { FluxionError, FluxionErrorCodes } from './errors.js';

/** Masks every `api-key` query value in a URL-like string, for messages and logs. */
export function redactUrl(url: string): string {
  return url.replace(/([?&]api-key=)[^&#\s]*/gi, '$1***');
}

function invalid(message: string): FluxionError {
  return new FluxionError(FluxionErrorCodes.VALIDATION, message, { field: 'url' });
}

/**
 * The URL to open: the caller's `ws://` or `wss://` URL with `api-key` (and `name`) appended
 * to whatever query string it already carries, which is kept byte for byte (re-serializing
 * it through URLSearchParams would turn `%20` into `+` and reorder nothing but still
 * change what the caller wrote). An empty key is left out: the server then answers 401
 * `Missing API key parameter`, which is the truth.
 */
export function buildConnectUrl(url: string, apiKey: string, connectionName?: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw invalid(`url ${redactUrl(url)} is not a valid URL (expected ws://host:port or wss://host:port)`);
  }
  if (parsed.protocol !== 'ws:' && parsed.protocol !== 'wss:') {
    throw invalid(`url ${redactUrl(url)} must start with ws:// or wss://`);
  }
  if (parsed.hash !== '') throw invalid(`url ${redactUrl(url)} must not carry a #fragment`);
  if (parsed.searchParams.has('api-key')) {
    throw invalid(`url ${redactUrl(url)} must not carry api-key; pass it as the apiKey option`);
  }
  if (connectionName !== undefined && parsed.searchParams.has('name')) {
    throw invalid(`url ${redactUrl(url)} carries name and connectionName is set too; keep one`);
  }
  const extra: string[] = [];
  if (apiKey !== '') extra.push(`api-key=${encodeURIComponent(apiKey)}`);
  if (connectionName !== undefined) extra.push(`name=${encodeURIComponent(connectionName)}`);
  let href = parsed.href;
  if (extra.length === 0) return href;
  if (parsed.search !== '') href += '&';
  else if (!href.endsWith('?')) href += '?';
  return href + extra.join('&');
}
