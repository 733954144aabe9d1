/// <reference lib="dom" />
/**
 * The web console in a real headless Chromium (Debian's, driven by playwright-core),
 * against the built agent with the dev server and a real Mosquitto: login, live overview,
 * dead letters (a hostile payload shown as text; a retry after the rule was fixed by a
 * reload), the mapping playground, metadata, configuration; and the refusals (no token,
 * wrong token, cross-site POST). Screenshots of each page go to test-artifacts/console/
 * for a person to look at (not committed).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import mqtt, { type MqttClient } from 'mqtt';
import { chromium, type Browser, type Page } from 'playwright-core';
import { DevServer } from '../../src/devserver/index.js';
import { TEST_KEY } from '../helpers/agent.js';
import { startCli } from '../helpers/cli.js';
import { startMosquitto, type MosquittoHandle } from '../helpers/mosquitto.js';
import { freePort } from '../helpers/ports.js';
import { tempDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const SHOTS = fileURLToPath(new URL('../../test-artifacts/console/', import.meta.url));
const TOKEN = 'console-token-for-tests-0123456789';
const HOSTILE = '<script>window.__pwned=1</script>"><img src=x onerror="window.__pwned=2;alert(1)">';
const BASE_TS = 1_770_000_000_000;

function config(dir: string, port: number, brokerUrl: string, serverUrl: string, labFormat: 'json' | 'kv'): string {
  return `
log: { level: info }
fluxiondb:
  url: ${serverUrl}
  api_key: \${FLUXION_API_KEY}
queue: { path: ${join(dir, 'queue.db')} }
sender: { linger: 5ms, backoff: { base: 50ms, cap: 500ms } }
health: { enabled: true, host: 127.0.0.1, port: ${port} }
console: { enabled: true, token_file: ${join(dir, 'console-token')}, sample_interval: 1s }
metadata:
  devices:
    th-01: { location: hall-a }
mqtt:
  url: ${brokerUrl}
  client_id: fluxion-edge-console
  subscriptions:
    - topic: sensors/{device}/t
      collection: telemetry
      document: "{device}"
      timestamp: { field: ts, unit: ms }
    - topic: lab/{device}/v
      collection: lab
      document: "{device}"
      format: ${labFormat}
`;
}

describe('the web console in a browser', () => {
  const dir = tempDir();
  let broker: MosquittoHandle;
  let server: DevServer;
  let publisher: MqttClient;
  let agent: ReturnType<typeof startCli>;
  let browser: Browser;
  let evil: Server;
  let evilUrl = '';
  let base = '';
  let configPath = '';
  let port = 0;

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    broker = await startMosquitto();
    server = new DevServer({ port: 0, masterKey: TEST_KEY });
    await server.start();
    port = await freePort();
    base = `http://127.0.0.1:${port}`;
    writeFileSync(join(dir.path, 'console-token'), `${TOKEN}\n`);
    chmodSync(join(dir.path, 'console-token'), 0o600);
    configPath = join(dir.path, 'config.yaml');
    writeFileSync(configPath, config(dir.path, port, broker.url, server.url, 'json'));
    agent = startCli(['run', '--config', configPath], { env: { FLUXION_API_KEY: TEST_KEY } });
    await waitFor(() => agent.output().includes('mqtt input subscribed'), { timeoutMs: 30_000, what: 'agent up' });
    await waitFor(() => agent.output().includes('web console served'), { what: 'console served' });
    publisher = await mqtt.connectAsync(broker.url, { clientId: 'console-pub' });
    // Another origin (another port of the same host), for the cross-site attempt.
    evil = createServer((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'text/html' });
      res.end(`<!doctype html><form id="f" method="post" action="${base}/api/console/dead-letters/purge" enctype="text/plain">
        <input name='{"ids":[1,2,3,4,5,6,7,8,9],"x":"' value='"}'></form>
        <script>fetch('${base}/api/console/dead-letters/purge',{method:'POST',credentials:'include',headers:{'Content-Type':'application/json'},body:'{"ids":[1,2,3]}'}).catch(()=>{}).finally(()=>document.getElementById('f').submit())</script>`);
    });
    await new Promise<void>((r) => evil.listen(0, '127.0.0.1', r));
    evilUrl = `http://127.0.0.1:${(evil.address() as { port: number }).port}/`;
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
  }, 90_000);

  afterAll(async () => {
    await browser?.close();
    await publisher?.endAsync();
    if (agent !== undefined && agent.child.exitCode === null) {
      agent.child.kill('SIGTERM');
      await agent.exited;
    }
    await new Promise((r) => evil?.close(r));
    await server?.stop();
    await broker?.stop();
    dir.cleanup();
  });

  async function publishReadings(n: number, offset = 0): Promise<void> {
    for (let i = offset; i < offset + n; i++) {
      await publisher.publishAsync(`sensors/th-0${i % 3}/t`, JSON.stringify({ ts: BASE_TS + i, temp: 20 + (i % 10) / 10 }), { qos: 1 });
    }
  }

  async function login(page: Page): Promise<void> {
    await page.goto(`${base}/console/`);
    await page.waitForURL(/login\.html/);
    await page.fill('input[name=token]', TOKEN);
    await Promise.all([page.waitForURL(`${base}/console/`), page.click('button[type=submit]')]);
  }

  it('refuses API calls without the token, with a wrong token, and cross-site POSTs', async () => {
    expect((await fetch(`${base}/api/console/overview`)).status).toBe(401);
    expect((await fetch(`${base}/status`)).status).toBe(401);
    expect((await fetch(`${base}/api/console/overview`, { headers: { Authorization: 'Bearer wrong-token-wrong-token' } })).status).toBe(401);
    const ok = await fetch(`${base}/api/console/overview`, { headers: { Authorization: `Bearer ${TOKEN}` } });
    expect(ok.status).toBe(200);
    expect(ok.headers.get('content-security-policy')).toContain("script-src 'self'");
    // Static assets need no token; /healthz and /metrics stay open for supervisors and scrapers.
    expect((await fetch(`${base}/console/console.js`)).status).toBe(200);
    expect((await fetch(`${base}/healthz`)).status).toBeLessThan(600);
    expect((await fetch(`${base}/metrics`)).status).toBe(200);

    // A logged-in browser session, then a POST from another site: refused.
    const form = await fetch(`${base}/console/login`, { method: 'POST', redirect: 'manual', body: new URLSearchParams({ token: TOKEN }) });
    expect(form.status).toBe(303);
    const cookie = form.headers.get('set-cookie')!.split(';')[0]!;
    const session = (await (await fetch(`${base}/api/console/session`, { headers: { Cookie: cookie } })).json()) as { csrf: string };
    const post = (headers: Record<string, string>) =>
      fetch(`${base}/api/console/dead-letters/purge`, { method: 'POST', headers: { Cookie: cookie, 'Content-Type': 'application/json', ...headers }, body: '{"ids":[1]}' });
    expect((await post({ Origin: 'http://evil.example', 'X-CSRF-Token': session.csrf })).status).toBe(403);
    expect((await post({ 'Sec-Fetch-Site': 'cross-site', 'X-CSRF-Token': session.csrf })).status).toBe(403);
    expect((await post({})).status).toBe(403); // no CSRF token
    expect((await post({ 'X-CSRF-Token': session.csrf })).status).toBe(200);
    const plain = await fetch(`${base}/api/console/dead-letters/purge`, { method: 'POST', headers: { Cookie: cookie, 'X-CSRF-Token': session.csrf, 'Content-Type': 'text/plain' }, body: '{"ids":[1]}' });
    expect(plain.status).toBe(415);
  });

  it('logs in, shows the live overview with moving counters and charts, and never exposes a secret', async () => {
    const page = await browser.newPage();
    const dialogs: string[] = [];
    page.on('dialog', (d) => {
      dialogs.push(d.message());
      void d.dismiss();
    });
    await page.goto(`${base}/console/`);
    await page.waitForURL(/login\.html/);
    await page.fill('input[name=token]', 'not-the-token-at-all');
    await page.click('button[type=submit]');
    await page.waitForURL(/failed=1/);
    expect(await page.isVisible('#failed')).toBe(true);
    await login(page);

    const received = async () => Number((await page.locator('#inputs tbody tr', { hasText: 'mqtt' }).locator('td').nth(2).textContent()) ?? -1);
    await waitFor(async () => (await received()) === 0, { what: 'the overview, before any reading' });
    await publishReadings(300);
    // Live: the counters on the page move without a reload.
    await waitFor(async () => (await received()) >= 300, { what: 'the received counter moves' });
    await waitFor(() => server.recordCount() >= 300, { what: 'readings stored' });
    await publishReadings(300, 300);
    await waitFor(async () => (await received()) >= 600, { what: 'the received counter moves again' });
    // The charts: some sample of the 'in' and 'sent' lines above zero (y < 200 is a rate > 0).
    const aboveZero = async (series: string) =>
      ((await page.locator(`#chart polyline.s-${series}`).getAttribute('points')) ?? '').split(' ').some((p) => Number(p.split(',')[1]) < 199);
    await waitFor(async () => (await aboveZero('in')) && (await aboveZero('sent')), { timeoutMs: 20_000, what: 'the charts move' });
    expect(Number(await page.textContent('#chart-max'))).toBeNaN(); // "top: N/s", text
    expect(await page.textContent('#chart-max')).toMatch(/top: [\d.]+\/s/);
    const inputs = await page.textContent('#inputs');
    expect(inputs).toContain('mqtt');
    expect(inputs).toContain('connected');
    expect(await page.textContent('#sender')).toContain('connected');
    await page.screenshot({ path: join(SHOTS, 'overview.png'), fullPage: true });

    const html = await page.content();
    expect(html).not.toContain(TOKEN);
    expect(html).not.toContain(TEST_KEY);
    expect(await page.evaluate(() => JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage }))).toBe('{}{}');
    expect(await page.evaluate(() => document.cookie)).toBe(''); // HttpOnly: not readable by script
    expect(dialogs).toEqual([]);
    await page.close();
  });

  it('lists dead letters as text (a hostile payload runs nothing), and retries one after its rule was fixed by a reload', async () => {
    const page = await browser.newPage();
    const dialogs: string[] = [];
    page.on('dialog', (d) => {
      dialogs.push(d.message());
      void d.dismiss();
    });
    await login(page);
    await publisher.publishAsync('lab/probe-1/v', HOSTILE, { qos: 1 });
    await publisher.publishAsync('lab/probe-2/v', 'temp=21.5 hum=40', { qos: 1 });
    await waitFor(async () => Number(await page.textContent('#dl-total')) >= 2, { what: 'dead letters counted on the overview' });
    expect(await page.textContent('#dl-reasons')).toMatch(/lab|mqtt/);

    await page.goto(`${base}/console/#dead-letters`);
    await waitFor(async () => (await page.locator('#dl-table tbody tr').count()) >= 2, { what: 'dead letters listed' });
    const table = await page.textContent('#dl-table');
    expect(table).toContain(HOSTILE); // shown literally, as text
    expect(await page.locator('#dl-table img').count()).toBe(0);
    expect(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned)).toBeUndefined();
    await page.screenshot({ path: join(SHOTS, 'dead-letters.png'), fullPage: true });

    // Filter by source.
    await page.selectOption('#dl-filter select[name=source]', 'serial');
    await page.click('#dl-filter button[type=submit]');
    await waitFor(async () => (await page.locator('#dl-table tbody tr').count()) === 0, { what: 'filtered to nothing' });
    await page.selectOption('#dl-filter select[name=source]', 'mqtt');
    await page.click('#dl-filter button[type=submit]');
    await waitFor(async () => (await page.locator('#dl-table tbody tr').count()) >= 2, { what: 'filtered to mqtt' });

    // Fix the rule (kv instead of json) and reload the agent.
    writeFileSync(configPath, config(dir.path, port, broker.url, server.url, 'kv'));
    agent.child.kill('SIGHUP');
    await waitFor(() => agent.output().includes('config reloaded'), { what: 'reloaded' });
    const row = page.locator('#dl-table tbody tr', { hasText: 'temp=21.5 hum=40' });
    await row.locator('input[type=checkbox]').check();
    await page.click('#dl-retry');
    await waitFor(async () => (await page.textContent('#dl-result'))?.includes('1 re-queued'), { what: 'retry result' });
    await waitFor(() => server.records('lab', 'probe-2').length === 1, { what: 'the retried reading stored' });
    expect(JSON.parse(server.records('lab', 'probe-2')[0]!.data)).toMatchObject({ temp: 21.5, hum: 40 });

    // Purge the hostile one (confirm() is accepted by a handler of its own).
    page.removeAllListeners('dialog');
    page.on('dialog', (d) => void d.accept());
    const hostileRow = page.locator('#dl-table tbody tr', { hasText: 'window.__pwned' });
    await hostileRow.locator('input[type=checkbox]').check();
    await page.click('#dl-purge');
    await waitFor(async () => (await page.textContent('#dl-result'))?.includes('1 purged'), { what: 'purge result' });
    expect(dialogs).toEqual([]);
    await page.close();
  });

  it('maps a payload in the playground without queueing it', async () => {
    const page = await browser.newPage();
    await login(page);
    await page.goto(`${base}/console/#playground`);
    const before = server.recordCount();
    await page.fill('#map-form input[name=topic]', 'sensors/th-09/t');
    await page.fill('#map-form textarea[name=payload]', JSON.stringify({ ts: BASE_TS + 99_999, temp: 30.5 }));
    await page.click('#map-form button[type=submit]');
    await waitFor(async () => (await page.textContent('#map-result'))?.includes('"records"'), { what: 'mapped' });
    const result = JSON.parse((await page.textContent('#map-result'))!) as { ok: boolean; records: Array<{ col: string; doc: string; ts: number }> };
    expect(result.ok).toBe(true);
    expect(result.records[0]).toMatchObject({ col: 'telemetry', doc: 'th-09', ts: BASE_TS + 99_999 });
    await page.fill('#map-form textarea[name=payload]', 'not json');
    await page.click('#map-form button[type=submit]');
    await waitFor(async () => (await page.textContent('#map-result'))?.includes('"rejected"'), { what: 'rejected' });
    await page.screenshot({ path: join(SHOTS, 'playground.png'), fullPage: true });
    await new Promise((r) => setTimeout(r, 500));
    expect(server.records('telemetry', 'th-09')).toEqual([]);
    expect(server.recordCount()).toBe(before);
    await page.close();
  });

  it('shows metadata per key and starts a resync; shows the config masked, and the problems of an edited file', async () => {
    const page = await browser.newPage();
    await login(page);
    await page.goto(`${base}/console/#metadata`);
    await waitFor(async () => (await page.textContent('#md-table'))?.includes('th-01:location'), { what: 'metadata keys' });
    await waitFor(async () => {
      await page.evaluate(() => window.dispatchEvent(new HashChangeEvent('hashchange')));
      return (await page.textContent('#md-table'))?.includes('synced');
    }, { what: 'a synced key' });
    await page.click('#md-resync');
    await waitFor(async () => /resync/.test((await page.textContent('#md-status')) ?? ''), { what: 'metadata status' });
    await page.screenshot({ path: join(SHOTS, 'metadata.png'), fullPage: true });

    await page.goto(`${base}/console/#config`);
    await waitFor(async () => (await page.textContent('#cfg-running'))?.includes('telemetry'), { what: 'running config' });
    const running = (await page.textContent('#cfg-running'))!;
    expect(running).not.toContain(TEST_KEY);
    expect(running).not.toContain(TOKEN);
    expect(await page.textContent('#cfg-file')).toContain('unchanged');
    writeFileSync(configPath, `${config(dir.path, port, broker.url, server.url, 'kv')}\nqueue_typo: 1\n`);
    await page.reload();
    await waitFor(async () => (await page.textContent('#cfg-file'))?.includes('does NOT validate'), { what: 'problems shown' });
    expect(await page.textContent('#cfg-file')).toMatch(/line \d+:\d+: queue_typo/);
    await page.screenshot({ path: join(SHOTS, 'configuration.png'), fullPage: true });
    await page.close();
  });

  it('a cross-site page cannot make the logged-in browser act', async () => {
    const ctx = await browser.newContext();
    const page = await ctx.newPage();
    await login(page);
    await publisher.publishAsync('lab/probe-3/v', Buffer.from([0xff, 0x00, 0x10]), { qos: 1 });
    await waitFor(async () => ((await (await page.request.get(`${base}/api/console/dead-letters`)).json()) as { items: unknown[] }).items.length >= 1, { what: 'a dead letter' });
    const before = ((await (await page.request.get(`${base}/api/console/dead-letters`)).json()) as { items: Array<{ payload: { encoding: string } }> }).items;
    expect(before.some((d) => d.payload.encoding === 'hex')).toBe(true);
    const other = await ctx.newPage();
    await other.goto(evilUrl);
    await new Promise((r) => setTimeout(r, 1500));
    const after = ((await (await page.request.get(`${base}/api/console/dead-letters`)).json()) as { items: unknown[] }).items;
    expect(after.length).toBe(before.length);
    await ctx.close();
  });
});
