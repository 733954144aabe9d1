/** sd_notify through systemd-notify, received on a real unix datagram socket (helpers/notify-socket.ts). */
import { afterEach, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { SdNotifier } from '../../src/service/sd-notify.js';
import { notifyReceiver, type NotifyReceiver } from '../helpers/notify-socket.js';
import { tempDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';

describe('SdNotifier (systemd-notify to a real NOTIFY_SOCKET)', () => {
  const cleanups: Array<() => unknown> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  async function receiver(): Promise<NotifyReceiver> {
    const r = await notifyReceiver();
    cleanups.push(() => r.stop());
    return r;
  }

  it('sends READY=1 with a status, WATCHDOG=1 while healthy only, and STOPPING=1, in order', async () => {
    const r = await receiver();
    const notifier = new SdNotifier({ env: { NOTIFY_SOCKET: r.path, WATCHDOG_USEC: '200000', PATH: process.env.PATH }, pid: process.pid });
    cleanups.push(() => notifier.stop());
    expect(notifier.enabled).toBe(true);
    expect(notifier.watchdogMs).toBe(200);

    expect(await notifier.ready('running: 1 input')).toBe(true);
    expect(r.messages()).toEqual(['READY=1\nSTATUS=running: 1 input']);

    let healthy = false;
    notifier.startWatchdog(() => healthy);
    await new Promise((res) => setTimeout(res, 450)); // four half-intervals, all unhealthy
    expect(r.messages()).toEqual(['READY=1\nSTATUS=running: 1 input']);
    healthy = true;
    await waitFor(() => r.messages().filter((m) => m === 'WATCHDOG=1').length >= 2, { what: 'two watchdog pings' });

    expect(await notifier.stopping('draining\nin-flight batches')).toBe(true);
    const after = r.messages().length;
    await new Promise((res) => setTimeout(res, 300)); // no ping after STOPPING=1
    const all = r.messages();
    expect(all.length).toBe(after);
    expect(all[0]).toBe('READY=1\nSTATUS=running: 1 input');
    expect(all.slice(1, -1).every((m) => m === 'WATCHDOG=1')).toBe(true);
    expect(all.at(-1)).toBe('STOPPING=1\nSTATUS=draining in-flight batches');
  });

  it('does nothing without NOTIFY_SOCKET, and has no watchdog when WATCHDOG_PID names another process', async () => {
    const off = new SdNotifier({ env: { WATCHDOG_USEC: '200000' }, pid: process.pid });
    expect(off.enabled).toBe(false);
    expect(off.watchdogMs).toBe(null);
    expect(await off.ready()).toBe(false);
    off.startWatchdog(() => true);
    await off.stop();

    const r = await receiver();
    const other = new SdNotifier({ env: { NOTIFY_SOCKET: r.path, WATCHDOG_USEC: '200000', WATCHDOG_PID: String(process.pid + 1) }, pid: process.pid });
    expect(other.watchdogMs).toBe(null);
    expect(await other.reloading()).toBe(true);
    expect(await other.ready()).toBe(true);
    expect(r.messages()).toEqual(['RELOADING=1', 'READY=1']);
  });

  it('reports failure once, without throwing, when the socket is gone or systemd-notify is missing', async () => {
    const warnings: unknown[] = [];
    const logger = { warn: (obj: object, msg?: string) => void warnings.push({ obj, msg }) };
    const dir = tempDir();
    cleanups.push(() => dir.cleanup());
    const gone = new SdNotifier({ env: { NOTIFY_SOCKET: join(dir.path, 'none.sock') }, pid: process.pid }, logger);
    expect(await gone.ready()).toBe(false);
    expect(await gone.stopping()).toBe(false);
    expect(warnings).toHaveLength(1);

    const missing = new SdNotifier({ env: { NOTIFY_SOCKET: join(dir.path, 'none.sock') }, pid: process.pid, command: join(dir.path, 'no-such-program') }, logger);
    expect(await missing.ready()).toBe(false);
    expect(await missing.ready()).toBe(false);
    expect(warnings).toHaveLength(2);
    expect((warnings[1] as { obj: { reason: string } }).obj.reason).toBe(`${join(dir.path, 'no-such-program')} not found`);
  });
});
