/**
 * The console's JSON API and event stream over a real socket, with a real agent (queue,
 * sender, dev server): the loopback mode without a token (reads open, actions still
 * protected against cross-site requests), the token mode for scripts (Bearer), login
 * throttling, and the live event stream.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { request } from 'node:http';
import { Agent } from '../../src/agent.js';
import { agentConsoleSource } from '../../src/console/agent-console-source.js';
import type { ConfigView } from '../../src/console/console-source.js';
import { ConsoleRoutes } from '../../src/console/console-routes.js';
import { DevServer } from '../../src/devserver/index.js';
import { HealthServer } from '../../src/service/http-server.js';
import { Secrets } from '../../src/shared/secrets.js';
import { agentSettings, memoryLogger, TEST_KEY } from '../helpers/agent.js';
import { freePort } from '../helpers/ports.js';
import { tempDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';

const noConfig: ConfigView = { running: () => ({}), onDisk: () => ({ path: '/nonexistent', changed: false, problems: [] }) };

describe('the console API', () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  async function setup(token: string | null) {
    const dir = tempDir();
    const port = await freePort();
    const server = new DevServer({ port, masterKey: TEST_KEY });
    const { logger } = memoryLogger('silent');
    const settings = agentSettings(dir.path, `ws://127.0.0.1:${port}`);
    const agent = new Agent(settings, logger);
    let http: HealthServer;
    const routes = new ConsoleRoutes(
      { token, sampleIntervalMs: 1000, sessionTtlMs: 60_000 },
      { source: agentConsoleSource(agent, settings.queue.path), config: noConfig, health: (status) => http.health(status), scrub: (t) => http.scrub(t), startedAt: Date.now() },
    );
    http = new HealthServer({ port: 0, health: { staleAfterMs: 1000 } }, { source: agent, secrets: new Secrets([TEST_KEY, token ?? undefined]), console: routes });
    cleanups.push(() => dir.cleanup(), () => server.stop(), () => agent.stop(), () => http.stop());
    await server.start();
    await agent.start();
    await http.start();
    return { agent, base: http.url };
  }

  it('on loopback without a token: reads are open; actions need JSON from this site', async () => {
    const { agent, base } = await setup(null);
    agent.queue.deadLetter({ reason: 'parse_error: bad', source: 'mqtt', origin: 'a/b', payload: Buffer.from([0xff, 0x00]) });
    agent.queue.deadLetter({ reason: 'no_rule: nothing', source: 'serial', origin: 'line1', payload: 'x=1' });
    const list = (await (await fetch(`${base}/api/console/dead-letters?source=mqtt`)).json()) as { items: Array<{ id: number; payload: unknown }>; summary: unknown[] };
    expect(list.items).toHaveLength(1);
    expect(list.items[0]!.payload).toEqual({ encoding: 'hex', preview: 'ff00', bytes: 2, truncated: false });
    expect(list.summary).toEqual([
      { reason: 'no_rule', source: 'serial', count: 1 },
      { reason: 'parse_error', source: 'mqtt', count: 1 },
    ]);
    const byReason = (await (await fetch(`${base}/api/console/dead-letters?reason=no_rule`)).json()) as { items: Array<{ origin: string }> };
    expect(byReason.items.map((d) => d.origin)).toEqual(['line1']);

    const post = (headers: Record<string, string>, body = JSON.stringify({ ids: [list.items[0]!.id] })) =>
      fetch(`${base}/api/console/dead-letters/purge`, { method: 'POST', headers, body });
    expect((await post({ 'Content-Type': 'text/plain' })).status).toBe(415); // what a cross-site form can send
    expect((await post({ 'Content-Type': 'application/json', Origin: 'http://plant-intranet.example' })).status).toBe(403);
    expect((await post({ 'Content-Type': 'application/json' }, '{"ids":"all"}')).status).toBe(400);
    const ok = await post({ 'Content-Type': 'application/json' });
    expect(await ok.json()).toEqual({ purged: 1 });
    expect(agent.queue.countDeadLetters()).toBe(1);
    // The per-reason summary (kept between pushes) follows the purge.
    const after = (await (await fetch(`${base}/api/console/dead-letters`)).json()) as { summary: unknown[] };
    expect(after.summary).toEqual([{ reason: 'no_rule', source: 'serial', count: 1 }]);

    // A session from the page carries a CSRF token; with the cookie, the token is then required.
    const session = await fetch(`${base}/api/console/session`);
    const body = (await session.json()) as { authenticated: boolean; csrf: string };
    expect(body.authenticated).toBe(true);
    const cookie = session.headers.get('set-cookie')!.split(';')[0]!;
    expect(session.headers.get('set-cookie')).toMatch(/HttpOnly; SameSite=Strict/);
    expect((await post({ 'Content-Type': 'application/json', Cookie: cookie })).status).toBe(403);
  });

  it('with a token: scripts use Bearer; the login form is throttled after repeated failures; secrets never appear', async () => {
    const token = 'script-token-0123456789abcdef';
    const { base } = await setup(token);
    const bearer = { Authorization: `Bearer ${token}` };
    expect((await fetch(`${base}/api/console/overview`)).status).toBe(401);
    const o = await fetch(`${base}/api/console/overview`, { headers: bearer });
    expect(o.status).toBe(200);
    const text = await o.text();
    expect(text).not.toContain(TEST_KEY);
    expect(text).not.toContain(token);
    expect(JSON.parse(text)).toMatchObject({ queue: { depth: 0 }, sender: { state: expect.any(String) } });
    expect((await fetch(`${base}/status`, { headers: bearer })).status).toBe(200);
    const cfg = await fetch(`${base}/api/console/config`, { headers: bearer });
    expect(cfg.status).toBe(200);

    for (let i = 0; i < 10; i++) {
      const r = await fetch(`${base}/console/login`, { method: 'POST', redirect: 'manual', body: new URLSearchParams({ token: `wrong-${i}` }) });
      expect(r.headers.get('location')).toBe('/console/login.html?failed=1');
    }
    const throttled = await fetch(`${base}/console/login`, { method: 'POST', redirect: 'manual', body: new URLSearchParams({ token }) });
    expect(throttled.status).toBe(429);
  });

  it('streams the overview and chart points as server-sent events while a page is open', async () => {
    const { agent, base } = await setup(null);
    const events: string[] = [];
    const req = request(`${base}/api/console/events`);
    const done = new Promise<void>((resolve) => {
      req.on('response', (res) => {
        expect(res.headers['content-type']).toMatch(/^text\/event-stream/);
        res.setEncoding('utf8');
        res.on('data', (d: string) => events.push(...d.split('\n').filter((l) => l.startsWith('event: '))));
        res.on('close', () => resolve());
      });
    });
    req.on('error', () => undefined);
    req.end();
    agent.queue.append([{ col: 'c', doc: 'd', ts: 1_770_000_000_000, data: '{}' }]);
    await waitFor(() => events.filter((e) => e === 'event: overview').length >= 2, { what: 'two overview pushes' });
    await waitFor(() => events.includes('event: point'), { what: 'a chart point' });
    req.destroy();
    await done;
  });
});
