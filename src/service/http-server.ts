/**
 * Health and metrics over HTTP, for a local supervisor, Prometheus, and `fluxion-edge
 * status`: `/healthz` (200 or 503 with the reasons), `/metrics` (Prometheus text) and
 * `/status` (the agent's status as JSON). It binds 127.0.0.1 by default: nothing here
 * needs to leave the gateway, and nothing here carries a secret (every string of /status
 * is scrubbed of the secrets it is given, in case an error message ever quoted one).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { AgentStatus } from '../agent.js';
import type { ConsoleRoutes } from '../console/console-routes.js';
import { AgentError, ErrorCodes } from '../errors.js';
import { Secrets } from '../shared/secrets.js';
import { assessHealth, type HealthAssessment, type HealthOptions } from './health.js';
import { METRICS_CONTENT_TYPE, renderMetrics, type RttSnapshot } from './metrics.js';
import { ProcessMetrics } from './process-metrics.js';

/** What the server reads: the Agent fits as it is. */
export interface StatusSource {
  status(): AgentStatus;
  readonly sender: { readonly rtt: RttSnapshot; status(): { sentRecords: number } };
}

export interface HealthServerOptions {
  /** TCP port; 0 lets the system pick one (tests). Required. */
  port: number;
  /** Address to bind. Default `127.0.0.1`. */
  host?: string;
  /** The health rule's options, except `startedAt` (the server's start time is used unless given). */
  health: Omit<HealthOptions, 'startedAt'> & { startedAt?: number };
}

export interface HealthServerDeps {
  source: StatusSource;
  /** What must never appear in a response (the API key, the MQTT password). Default none. */
  secrets?: Secrets;
  /** Shown in /status. */
  gatewayId?: string;
  version?: string;
  /** Clock in ms since the epoch. Default `Date.now`. */
  now?: () => number;
  /** The web console, served under /console/ and /api/console/ when given. */
  console?: ConsoleRoutes;
}

/** The body of `/status`. */
export interface LiveStatus {
  gateway: string | null;
  version: string | null;
  pid: number;
  startedAt: number;
  now: number;
  health: HealthAssessment;
  /** Records acknowledged per second over the last minute (or since start, if shorter). */
  sendRate: number;
  status: AgentStatus;
}

/** Samples of the sent counter for the send rate: one per 5 s, a minute's worth. */
const RATE_SAMPLE_MS = 5000;
const RATE_SAMPLES = 13;

export class HealthServer {
  private server: Server | null = null;
  private boundPort = 0;
  private startedAt = 0;
  private sampler: NodeJS.Timeout | null = null;
  private samples: Array<{ at: number; sent: number }> = [];
  private processMetrics: ProcessMetrics | null = null;
  private readonly now: () => number;

  constructor(
    private readonly options: HealthServerOptions,
    private readonly deps: HealthServerDeps,
  ) {
    this.now = deps.now ?? Date.now;
  }

  /** The bound port, after start(). */
  get port(): number {
    return this.boundPort;
  }

  /** `http://host:port`, after start(). */
  get url(): string {
    const host = this.options.host ?? '127.0.0.1';
    return `http://${host.includes(':') ? `[${host}]` : host}:${this.boundPort}`;
  }

  /** Listens; throws EDGE_ERR_HEALTH_LISTEN when the port is taken. Safe to call twice. */
  async start(): Promise<void> {
    if (this.server !== null) return;
    const server = createServer((req, res) => this.handle(req, res));
    this.server = server;
    this.startedAt = this.options.health.startedAt ?? this.now();
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(this.options.port, this.options.host ?? '127.0.0.1', () => {
          server.off('error', reject);
          resolve();
        });
      });
    } catch (err) {
      this.server = null;
      const where = `${this.options.host ?? '127.0.0.1'}:${this.options.port}`;
      throw new AgentError(ErrorCodes.HEALTH_LISTEN, `cannot serve health and metrics on ${where}: ${(err as Error).message}`, { cause: err });
    }
    this.boundPort = (server.address() as AddressInfo).port;
    this.processMetrics = new ProcessMetrics();
    this.deps.console?.start();
    this.sample();
    this.sampler = setInterval(() => this.sample(), RATE_SAMPLE_MS);
    this.sampler.unref();
  }

  /** Stops listening and closes open connections. Safe to call twice. */
  async stop(): Promise<void> {
    const server = this.server;
    this.server = null;
    if (this.sampler !== null) clearInterval(this.sampler);
    this.sampler = null;
    this.processMetrics?.close();
    this.processMetrics = null;
    this.deps.console?.stop();
    if (server === null) return;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections();
    await closed;
  }

  /** The health assessment now (also what the watchdog predicate can use). */
  health(status: AgentStatus = this.deps.source.status()): HealthAssessment {
    return assessHealth(status, this.now(), { ...this.options.health, startedAt: this.startedAt });
  }

  /** What `/status` answers. */
  liveStatus(): LiveStatus {
    const status = this.deps.source.status();
    return {
      gateway: this.deps.gatewayId ?? null,
      version: this.deps.version ?? null,
      pid: process.pid,
      startedAt: this.startedAt,
      now: this.now(),
      health: this.health(status),
      sendRate: this.sendRate(status.sender.sentRecords),
      status,
    };
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const path = (req.url ?? '/').split('?')[0]!;
    if (this.deps.console?.handle(req, res, path) === true) return;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      this.reply(res, 405, 'text/plain; charset=utf-8', 'method not allowed\n', { Allow: 'GET, HEAD' });
      return;
    }
    try {
      switch (path) {
        case '/healthz': {
          const h = this.health();
          this.reply(res, h.healthy ? 200 : 503, 'application/json', `${this.scrub(JSON.stringify(h))}\n`);
          return;
        }
        case '/metrics':
          void this.metrics(res);
          return;
        case '/status': {
          // With a console token, live status (inputs, errors, topics) is the console's to show.
          const auth = this.deps.console?.auth;
          const verdict = auth?.tokenRequired === true ? auth.check(req) : null;
          if (verdict !== null && !verdict.ok) {
            this.reply(res, 401, 'text/plain; charset=utf-8', 'the console token is required: send Authorization: Bearer <token>\n');
            return;
          }
          this.reply(res, 200, 'application/json', `${this.scrub(JSON.stringify(this.liveStatus()))}\n`);
          return;
        }
        default:
          this.reply(res, 404, 'text/plain; charset=utf-8', 'not found: try /healthz, /metrics or /status\n');
      }
    } catch (err) {
      this.reply(res, 500, 'text/plain; charset=utf-8', `${this.scrub((err as Error).message)}\n`);
    }
  }

  /** The agent's metrics (from its status), then the process's (prom-client's default collectors). */
  private async metrics(res: ServerResponse): Promise<void> {
    try {
      const own = renderMetrics(this.deps.source.status(), this.deps.source.sender.rtt);
      const proc = (await this.processMetrics?.render()) ?? '';
      this.reply(res, 200, METRICS_CONTENT_TYPE, this.scrub(own + proc));
    } catch (err) {
      this.reply(res, 500, 'text/plain; charset=utf-8', `${this.scrub((err as Error).message)}\n`);
    }
  }

  private reply(res: ServerResponse, code: number, type: string, body: string, headers: Record<string, string> = {}): void {
    res.writeHead(code, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(body), 'Cache-Control': 'no-store', ...headers });
    res.end(res.req.method === 'HEAD' ? undefined : body);
  }

  /** Every secret (in every form it may take in text) replaced with ***. */
  scrub(text: string): string {
    return (this.deps.secrets ?? Secrets.none).scrub(text);
  }

  private sample(): void {
    this.samples.push({ at: this.now(), sent: this.deps.source.sender.status().sentRecords });
    if (this.samples.length > RATE_SAMPLES) this.samples.shift();
  }

  private sendRate(sentNow: number): number {
    const first = this.samples[0];
    if (first === undefined) return 0;
    const dt = (this.now() - first.at) / 1000;
    return dt <= 0 ? 0 : Math.round(((sentNow - first.sent) / dt) * 10) / 10;
  }
}
