/**
 * The web console over HTTP, mounted by the health server under `/console/` (pages and
 * static assets) and `/api/console/` (the JSON API the pages use, open to scripts too).
 * Live updates go out as Server-Sent Events: one overview every `PUSH_MS` to each open page,
 * and nothing at all while no page is open, so a closed console costs the agent only its
 * chart sampler.
 */
import { readdirSync, readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConsoleAuth, crossSite } from './console-auth.js';
import type { AgentStatus } from '../agent.js';
import type { DeadLetterSummary } from '../queue/types.js';
import type { ConfigView, ConsoleSource } from './console-source.js';
import { deadLetterView, mappingView, overview, playgroundMessage } from './console-views.js';
import { RateHistory } from './rate-history.js';

export interface ConsoleOptions {
  /** Access token; null: open (loopback only, enforced by the config). */
  token: string | null;
  /** Chart sampling interval, in ms. Default 5000. */
  sampleIntervalMs: number;
  /** Idle lifetime of a login session, in ms. */
  sessionTtlMs: number;
}

export interface ConsoleDeps {
  source: ConsoleSource;
  config: ConfigView;
  /** Health of the agent in `status` (the same answer as /healthz). */
  health: (status: AgentStatus) => unknown;
  /** Removes secrets from a response body. */
  scrub: (text: string) => string;
  gatewayId?: string;
  version?: string;
  startedAt: number;
}

/** Live overview pushes to open pages, in ms. */
const PUSH_MS = 2000;
/** Largest request body (a playground payload), in bytes. */
const MAX_BODY = 1 << 20;
/** Dead letters per page of the list at most. */
const MAX_PAGE = 500;

const TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

/** No inline script or style, nothing from elsewhere, no framing. */
const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'Content-Security-Policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  // same-origin, not no-referrer: with no-referrer Chromium sends `Origin: null` on form posts,
  // which the cross-site check must refuse.
  'Referrer-Policy': 'same-origin',
  'Cache-Control': 'no-store',
};

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

type Api = (req: IncomingMessage, url: URL) => Promise<unknown> | unknown;

export class ConsoleRoutes {
  readonly auth: ConsoleAuth;
  private readonly history: RateHistory;
  private readonly assets = new Map<string, { type: string; body: Buffer }>();
  private readonly clients = new Set<ServerResponse>();
  private sampler: NodeJS.Timeout | null = null;
  private pusher: NodeJS.Timeout | null = null;
  private readonly gets: Record<string, Api>;
  private readonly posts: Record<string, Api>;
  private summaryCache: { key: string; rows: DeadLetterSummary[] } | null = null;

  constructor(
    private readonly options: ConsoleOptions,
    private readonly deps: ConsoleDeps,
  ) {
    this.auth = new ConsoleAuth(options.token, options.sessionTtlMs);
    this.history = new RateHistory(options.sampleIntervalMs, () => {
      const s = deps.source.status();
      return { received: s.ingest.received, committed: s.ingest.committed, sent: s.sender.sentRecords };
    });
    const dir = fileURLToPath(new URL('./assets/', import.meta.url));
    for (const name of readdirSync(dir)) {
      const type = TYPES[extname(name)];
      if (type !== undefined) this.assets.set(name, { type, body: readFileSync(`${dir}${name}`) });
    }
    const src = deps.source;
    this.gets = {
      session: (req) => this.session(req),
      overview: () => this.overview(),
      history: () => ({ intervalMs: this.history.intervalMs, points: this.history.series() }),
      'dead-letters': (_req, url) => this.deadLetters(url),
      'mapping/targets': () => src.mappingTargets(),
      metadata: () => src.metadata() ?? { status: null, entries: [] },
      config: () => ({ running: deps.config.running(), file: deps.config.onDisk() }),
    };
    this.posts = {
      'dead-letters/retry': async (req) => src.retryDeadLetters(await idsOf(req)),
      'dead-letters/purge': async (req) => ({ purged: src.purgeDeadLetters(await idsOf(req)) }),
      map: async (req) => {
        let message;
        try {
          message = playgroundMessage(await readJson(req), Date.now());
        } catch (err) {
          throw err instanceof HttpError ? err : new HttpError(400, (err as Error).message);
        }
        return mappingView(src.previewMapping(message));
      },
      'metadata/resync': () => {
        if (!src.resyncMetadata()) throw new HttpError(409, 'this agent runs without metadata sync');
        return { resync: 'started' };
      },
    };
  }

  /** Starts the chart sampler. Safe to call twice. */
  start(): void {
    if (this.sampler !== null) return;
    this.history.sample();
    this.sampler = setInterval(() => {
      const point = this.history.sample();
      if (point !== null) this.broadcast('point', point);
    }, this.options.sampleIntervalMs);
    this.sampler.unref();
  }

  /** Stops the timers and ends the open event streams. Safe to call twice. */
  stop(): void {
    if (this.sampler !== null) clearInterval(this.sampler);
    if (this.pusher !== null) clearInterval(this.pusher);
    this.sampler = null;
    this.pusher = null;
    for (const c of this.clients) c.end();
    this.clients.clear();
  }

  /** Handles a request under /console or /api/console; false when the path is not the console's. */
  handle(req: IncomingMessage, res: ServerResponse, path: string): boolean {
    if (path === '/console') {
      this.send(res, 302, 'text/plain; charset=utf-8', 'see /console/\n', { Location: '/console/' });
      return true;
    }
    if (path.startsWith('/console/')) {
      this.page(req, res, path.slice('/console/'.length)).catch((err: unknown) => this.fail(res, err));
      return true;
    }
    if (path.startsWith('/api/console/')) {
      this.api(req, res, path.slice('/api/console/'.length)).catch((err: unknown) => this.fail(res, err));
      return true;
    }
    return false;
  }

  /** Static assets (open to all, they hold no data), the login form's POST and logout. */
  private async page(req: IncomingMessage, res: ServerResponse, name: string): Promise<void> {
    if (req.method === 'POST' && name === 'login') return this.login(req, res);
    if (req.method === 'POST' && name === 'logout') {
      this.auth.closeSession(req);
      this.send(res, 303, 'text/plain; charset=utf-8', '', { Location: '/console/login.html', 'Set-Cookie': this.auth.cookieHeader('') });
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') throw new HttpError(405, 'method not allowed');
    const asset = this.assets.get(name === '' ? 'index.html' : name);
    if (asset === undefined) throw new HttpError(404, 'not found');
    this.send(res, 200, asset.type, asset.body);
  }

  private async login(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const cross = crossSite(req);
    if (cross !== null) throw new HttpError(403, cross);
    if (this.auth.loginThrottled()) throw new HttpError(429, 'too many failed logins; wait a minute');
    const form = new URLSearchParams((await readBody(req)).toString('utf8'));
    const token = form.get('token') ?? '';
    if (this.auth.tokenRequired && !this.auth.tokenMatches(token)) {
      this.auth.noteFailedLogin();
      this.send(res, 303, 'text/plain; charset=utf-8', '', { Location: '/console/login.html?failed=1' });
      return;
    }
    const { id } = this.auth.openSession();
    this.send(res, 303, 'text/plain; charset=utf-8', '', { Location: '/console/', 'Set-Cookie': this.auth.cookieHeader(id) });
  }

  private async api(req: IncomingMessage, res: ServerResponse, name: string): Promise<void> {
    const verdict = this.auth.check(req);
    // The session call answers even when logged out: the page learns from it where to go.
    if (!verdict.ok && !(name === 'session' && verdict.status === 401 && req.method === 'GET')) throw new HttpError(verdict.status, verdict.error);
    const url = new URL(req.url ?? '/', 'http://console.invalid');
    if (name === 'events' && req.method === 'GET') return this.events(res);
    const table = req.method === 'POST' ? this.posts : req.method === 'GET' || req.method === 'HEAD' ? this.gets : null;
    const fn = table?.[name];
    if (fn === undefined) throw new HttpError(table === null ? 405 : 404, table === null ? 'method not allowed' : 'no such API call');
    if (req.method === 'POST' && !/^application\/json\b/i.test(req.headers['content-type'] ?? '')) {
      throw new HttpError(415, 'send Content-Type: application/json');
    }
    this.json(res, 200, await fn(req, url));
  }

  private session(req: IncomingMessage): unknown {
    const v = this.auth.check(req);
    if (v.ok) {
      if (v.via === 'open') {
        // Loopback without a token: a session only to carry the CSRF token of the page's POSTs.
        const s = this.auth.openSession();
        return { authenticated: true, tokenRequired: false, csrf: s.csrf, setCookie: this.auth.cookieHeader(s.id) };
      }
      return { authenticated: true, tokenRequired: this.auth.tokenRequired, csrf: v.csrf };
    }
    return { authenticated: false, tokenRequired: this.auth.tokenRequired, csrf: null, login: '/console/login.html' };
  }

  private overview(): unknown {
    const status = this.deps.source.status();
    return overview(this.deps.source, status, this.history, {
      gateway: this.deps.gatewayId ?? null,
      version: this.deps.version ?? null,
      startedAt: this.deps.startedAt,
      health: this.deps.health(status),
      deadLettersByReason: this.summary(status),
    });
  }

  /**
   * Dead letters per reason: a GROUP BY over up to `dead_letter_max_rows` rows, read again only
   * when dead letters were added or removed, not at every push to every open page.
   */
  private summary(status: AgentStatus): DeadLetterSummary[] {
    const key = `${status.queue.deadLettered}:${status.queue.deadLetterDepth}`;
    if (this.summaryCache === null || this.summaryCache.key !== key) this.summaryCache = { key, rows: this.deps.source.deadLetterSummary() };
    return this.summaryCache.rows;
  }


  private deadLetters(url: URL): unknown {
    const p = url.searchParams;
    const limit = Math.min(MAX_PAGE, Math.max(1, Number.parseInt(p.get('limit') ?? '100', 10) || 100));
    const afterId = Math.max(0, Number.parseInt(p.get('after') ?? '0', 10) || 0);
    const reason = p.get('reason') || undefined;
    const source = p.get('source') || undefined;
    const items = this.deps.source.listDeadLetters({ afterId, limit, reason, source }).map(deadLetterView);
    return { items, next: items.length === limit ? items[items.length - 1]!.id : null, summary: this.summary(this.deps.source.status()) };
  }

  private events(res: ServerResponse): void {
    res.writeHead(200, { ...SECURITY_HEADERS, 'Content-Type': 'text/event-stream; charset=utf-8', Connection: 'keep-alive' });
    res.write('retry: 3000\n\n');
    this.clients.add(res);
    res.on('close', () => {
      this.clients.delete(res);
      if (this.clients.size === 0 && this.pusher !== null) {
        clearInterval(this.pusher);
        this.pusher = null;
      }
    });
    this.sendEvent(res, 'overview', this.overview());
    if (this.pusher === null) {
      this.pusher = setInterval(() => this.broadcast('overview', this.overview()), PUSH_MS);
      this.pusher.unref();
    }
  }

  private broadcast(event: string, data: unknown): void {
    if (this.clients.size === 0) return;
    const text = this.frame(event, data);
    for (const c of this.clients) c.write(text);
  }

  private sendEvent(res: ServerResponse, event: string, data: unknown): void {
    res.write(this.frame(event, data));
  }

  private frame(event: string, data: unknown): string {
    return `event: ${event}\ndata: ${this.deps.scrub(JSON.stringify(data))}\n\n`;
  }

  private json(res: ServerResponse, status: number, body: unknown): void {
    let extra: Record<string, string> = {};
    if (body !== null && typeof body === 'object' && 'setCookie' in body) {
      const { setCookie, ...rest } = body as { setCookie: string };
      extra = { 'Set-Cookie': setCookie };
      body = rest;
    }
    this.send(res, status, 'application/json', `${this.deps.scrub(JSON.stringify(body))}\n`, extra);
  }

  private send(res: ServerResponse, status: number, type: string, body: string | Buffer, extra: Record<string, string> = {}): void {
    if (res.headersSent) return;
    res.writeHead(status, { ...SECURITY_HEADERS, 'Content-Type': type, 'Content-Length': Buffer.byteLength(body), ...extra });
    res.end(res.req.method === 'HEAD' ? undefined : body);
  }

  private fail(res: ServerResponse, err: unknown): void {
    const status = err instanceof HttpError ? err.status : 500;
    this.json(res, status, { error: (err as Error).message });
  }
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY) throw new HttpError(413, `request body over ${MAX_BODY} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  try {
    return JSON.parse((await readBody(req)).toString('utf8'));
  } catch (err) {
    if (err instanceof HttpError) throw err;
    throw new HttpError(400, 'the body is not JSON');
  }
}

async function idsOf(req: IncomingMessage): Promise<number[]> {
  const body = (await readJson(req)) as { ids?: unknown } | null;
  const ids = body?.ids;
  if (!Array.isArray(ids) || ids.length === 0 || ids.length > 10_000 || !ids.every((n) => Number.isSafeInteger(n) && n > 0)) {
    throw new HttpError(400, 'send {"ids": [1, 2, ...]} with the dead letters\' ids');
  }
  return ids as number[];
}
