/// <reference lib="dom" />
/**
 * The console's overview lists each Modbus bus with its devices (state, polls, timeouts), in a
 * real headless Chromium against the built agent polling a pymodbus TCP slave; a device that
 * stops answering shows offline there.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { DevServer } from '../../src/devserver/index.js';
import { TEST_KEY } from '../helpers/agent.js';
import { startCli } from '../helpers/cli.js';
import { startModbusSlave, type ModbusSlave } from '../helpers/modbus-slave.js';
import { freePort } from '../helpers/ports.js';
import { tempDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';

describe('the console with a Modbus bus', () => {
  const dir = tempDir();
  let server: DevServer;
  let slave: ModbusSlave;
  let agent: ReturnType<typeof startCli>;
  let browser: Browser;
  let base = '';

  beforeAll(async () => {
    slave = await startModbusSlave('tcp', { units: { 1: [{ table: 'holding', address: 0, type: 'uint16', value: 7 }], 2: [{ table: 'holding', address: 0, type: 'uint16', value: 8 }] } });
    server = new DevServer({ port: 0, masterKey: TEST_KEY });
    await server.start();
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    const config = join(dir.path, 'config.yaml');
    writeFileSync(config, `
fluxiondb: { url: ${server.url}, api_key: "\${FLUXION_API_KEY}" }
queue: { path: ${join(dir.path, 'queue.db')} }
health: { enabled: true, port: ${port} }
console: { enabled: true, sample_interval: 1s }
modbus:
  - name: plc
    transport: tcp
    host: 127.0.0.1
    port: ${slave.port}
    timeout: 150ms
    offline_after: 2
    devices:
      - { unit_id: 1, name: pump, document: pump-1, collection: plant, interval: 200ms, registers: [{ name: speed, table: holding, address: 0 }] }
      - { unit_id: 2, name: fan, document: fan-2, collection: plant, interval: 200ms, registers: [{ name: speed, table: holding, address: 0 }] }
`);
    agent = startCli(['run', '--config', config], { env: { FLUXION_API_KEY: TEST_KEY } });
    await waitFor(() => agent.output().includes('web console served'), { timeoutMs: 30_000, what: 'console served' }).catch((e: unknown) => { throw new Error(`${String(e)} exit=${agent.child.exitCode} out=${agent.output().slice(-3000)}`); });
    browser = await chromium.launch({
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
  }, 90_000);

  afterAll(async () => {
    await browser?.close();
    if (agent !== undefined && agent.child.exitCode === null) {
      agent.child.kill('SIGTERM');
      await agent.exited;
    }
    await slave?.stop();
    await server?.stop();
    dir.cleanup();
  });

  it('shows the bus and each device with its state, and a device that stops answering as offline', async () => {
    const page = await browser.newPage();
    await page.goto(`${base}/console/`);
    const deviceRow = (name: string) => page.locator('#inputs tbody tr.device', { hasText: name });
    await waitFor(async () => (await deviceRow('pump (unit 1)').textContent())?.includes('online'), { what: 'pump online' });
    expect(await page.textContent('#inputs')).toContain('modbus:plc');
    expect(await deviceRow('fan (unit 2)').textContent()).toContain('online');
    await waitFor(() => server.records('plant', 'pump-1').length > 0, { what: 'a pump reading stored' });

    await slave.command({ mute: [2] });
    await waitFor(async () => (await deviceRow('fan (unit 2)').textContent())?.includes('offline'), { what: 'fan offline on the page' });
    expect(await deviceRow('fan (unit 2)').textContent()).toMatch(/[1-9]\d* timeouts/);
    expect(await deviceRow('pump (unit 1)').textContent()).toContain('online');
    expect(await page.isHidden('#sparkplug')).toBe(true);
    await page.close();
  });
});
