/**
 * Who may use the console. With a token configured (required off loopback) every page and
 * API call but the static assets needs it: a browser logs in once with a form and gets a
 * session cookie (HttpOnly, SameSite=Strict), a script sends `Authorization: Bearer`.
 * Without a token (loopback only) reads are open, like `/status`.
 *
 * Actions are POSTs, protected against cross-site requests three ways: a JSON body is
 * required (a cross-site form cannot send one, and a cross-site fetch of one needs a CORS
 * preflight this server never grants), an `Origin` header must name this host, and a
 * cookie session must echo its CSRF token in `X-CSRF-Token`.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

export const SESSION_COOKIE = 'fluxion_console';
/** Sessions kept at most; the least recently used goes first. */
const MAX_SESSIONS = 64;
/** Failed logins allowed per minute before the form answers 429. */
const MAX_FAILED_LOGINS_PER_MIN = 10;

interface Session {
  csrf: string;
  lastUsed: number;
}

export type AuthVerdict =
  | { ok: true; via: 'bearer' | 'session' | 'open'; csrf: string | null }
  | { ok: false; status: 401 | 403; error: string };

export class ConsoleAuth {
  private readonly tokenDigest: Buffer | null;
  private readonly sessions = new Map<string, Session>();
  private failed: number[] = [];

  constructor(
    token: string | null,
    private readonly sessionTtlMs: number,
    private readonly now: () => number = Date.now,
  ) {
    this.tokenDigest = token === null ? null : digest(token);
  }

  get tokenRequired(): boolean {
    return this.tokenDigest !== null;
  }

  /** Compares in constant time (over digests, so lengths leak nothing either). */
  tokenMatches(candidate: string): boolean {
    return this.tokenDigest !== null && timingSafeEqual(digest(candidate), this.tokenDigest);
  }

  /** True when too many logins failed in the last minute (the form then answers 429). */
  loginThrottled(): boolean {
    const since = this.now() - 60_000;
    this.failed = this.failed.filter((t) => t > since);
    return this.failed.length >= MAX_FAILED_LOGINS_PER_MIN;
  }

  noteFailedLogin(): void {
    this.failed.push(this.now());
  }

  /** A new session; returns its id (the cookie's value) and CSRF token. */
  openSession(): { id: string; csrf: string } {
    if (this.sessions.size >= MAX_SESSIONS) {
      const oldest = this.sessions.keys().next();
      if (oldest.done !== true) this.sessions.delete(oldest.value);
    }
    const id = randomBytes(32).toString('base64url');
    const csrf = randomBytes(24).toString('base64url');
    this.sessions.set(id, { csrf, lastUsed: this.now() });
    return { id, csrf };
  }

  closeSession(req: IncomingMessage): void {
    const id = cookie(req, SESSION_COOKIE);
    if (id !== undefined) this.sessions.delete(id);
  }

  /** The Set-Cookie value for a session (or for clearing it, with id ''). */
  cookieHeader(id: string): string {
    const maxAge = id === '' ? 0 : Math.floor(this.sessionTtlMs / 1000);
    return `${SESSION_COOKIE}=${id}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${maxAge}`;
  }

  /** Who is asking; for a POST also whether it may act (see the file comment). */
  check(req: IncomingMessage): AuthVerdict {
    const bearer = /^Bearer\s+(.+)$/i.exec(req.headers.authorization ?? '')?.[1]?.trim();
    if (bearer !== undefined) {
      return this.tokenMatches(bearer) ? { ok: true, via: 'bearer', csrf: null } : { ok: false, status: 401, error: 'wrong token' };
    }
    const session = this.session(req);
    const isPost = req.method === 'POST';
    if (isPost) {
      const cross = crossSite(req);
      if (cross !== null) return { ok: false, status: 403, error: cross };
    }
    if (session !== null) {
      if (isPost && req.headers['x-csrf-token'] !== session.csrf) return { ok: false, status: 403, error: 'missing or wrong X-CSRF-Token' };
      return { ok: true, via: 'session', csrf: session.csrf };
    }
    if (this.tokenRequired) return { ok: false, status: 401, error: 'log in first (or send Authorization: Bearer <token>)' };
    return { ok: true, via: 'open', csrf: null };
  }

  private session(req: IncomingMessage): Session | null {
    const id = cookie(req, SESSION_COOKIE);
    if (id === undefined) return null;
    const s = this.sessions.get(id);
    if (s === undefined) return null;
    const now = this.now();
    if (now - s.lastUsed > this.sessionTtlMs) {
      this.sessions.delete(id);
      return null;
    }
    s.lastUsed = now;
    // Most recently used last, so eviction takes the idlest.
    this.sessions.delete(id);
    this.sessions.set(id, s);
    return s;
  }
}

/** Why a POST looks cross-site, or null when it does not. */
export function crossSite(req: IncomingMessage): string | null {
  if (req.headers['sec-fetch-site'] === 'cross-site') return 'cross-site request refused';
  const origin = req.headers.origin;
  if (origin !== undefined) {
    let host: string;
    try {
      host = new URL(origin).host;
    } catch {
      return 'cross-site request refused (bad Origin)';
    }
    if (host !== req.headers.host) return 'cross-site request refused (Origin is another site)';
  }
  return null;
}

function digest(s: string): Buffer {
  return createHash('sha256').update(s, 'utf8').digest();
}

function cookie(req: IncomingMessage, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}
