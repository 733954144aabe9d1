/**
 * systemd readiness and watchdog (sd_notify) without native modules.
 *
 * sd_notify is one datagram on the AF_UNIX socket named by NOTIFY_SOCKET, and Node's
 * `dgram` has no unix datagram sockets. So each notification runs `systemd-notify`, which
 * ships with systemd on every host that sets NOTIFY_SOCKET. Two consequences, both handled
 * in systemd/fluxion-edge.service:
 * - the datagram comes from a child process, so the unit needs `NotifyAccess=all`
 *   (`main`, the default, drops messages whose sender is not the main pid);
 * - a child that exits before the manager reads its message used to be unattributable
 *   (systemd#2739). Since systemd 246, systemd-notify waits for the manager with a
 *   barrier (it sends BARRIER=1 with a pipe and waits for it to be closed), so the
 *   message is processed while the sender still exists. Debian 11 has 247.
 * Where NOTIFY_SOCKET is unset (not under systemd, or Type=simple), nothing runs at all.
 *
 * The watchdog: systemd sets WATCHDOG_USEC (and WATCHDOG_PID) when the unit has
 * `WatchdogSec=`. We ping at half that interval, and only while the liveness predicate holds
 * (service/health.ts assessLiveness: not while connected with a backlog and no ack for
 * health.stale_after), so a wedged pipeline, not only a dead process, gets the service
 * restarted, while an outage of the server, which a restart cannot fix, does not.
 */
import { spawn } from 'node:child_process';

/** What the notifier logs: rare failures only. */
export interface SdNotifyLogger {
  warn(obj: object, msg?: string): void;
}
// The caller binds the component (`logger.child({ component: 'systemd' })`): a key bound
// there and written again here would appear twice in one JSON line.

export interface SdNotifyOptions {
  /** The process environment: NOTIFY_SOCKET, WATCHDOG_USEC, WATCHDOG_PID and PATH are read. */
  env: Readonly<Record<string, string | undefined>>;
  /** The agent's process id: the watchdog is ours only if WATCHDOG_PID is unset or equals it. Default `process.pid`. */
  pid?: number;
  /** The program that sends a notification. Default `systemd-notify` (looked up in PATH). */
  command?: string;
  /** How long one notification may take before its process is killed, in ms. Default 5000. */
  timeoutMs?: number;
}

export class SdNotifier {
  /** True when NOTIFY_SOCKET is set: notifications are sent. */
  readonly enabled: boolean;
  /** The watchdog interval systemd expects pings within, in ms; null when there is no watchdog for us. */
  readonly watchdogMs: number | null;
  private readonly command: string;
  private readonly timeoutMs: number;
  private readonly childEnv: NodeJS.ProcessEnv;
  private chain: Promise<unknown> = Promise.resolve();
  private timer: NodeJS.Timeout | null = null;
  private pinging = false;
  private broken = false;
  private warned = false;

  constructor(
    options: SdNotifyOptions,
    private readonly logger?: SdNotifyLogger,
  ) {
    const socket = options.env.NOTIFY_SOCKET;
    this.enabled = socket !== undefined && socket !== '';
    this.command = options.command ?? 'systemd-notify';
    this.timeoutMs = options.timeoutMs ?? 5000;
    this.childEnv = { NOTIFY_SOCKET: socket, PATH: options.env.PATH ?? '/usr/local/bin:/usr/bin:/bin' };
    this.watchdogMs = this.enabled ? watchdogInterval(options.env, options.pid ?? process.pid) : null;
  }

  /** READY=1, with an optional status line (`systemctl status` shows it). */
  ready(status?: string): Promise<boolean> {
    return this.notify(['READY=1', ...statusLine(status)]);
  }

  /** RELOADING=1 before a config reload; call ready() when it is done. */
  reloading(status?: string): Promise<boolean> {
    return this.notify(['RELOADING=1', ...statusLine(status)]);
  }

  /** STOPPING=1: the agent is draining and will exit. Stops the watchdog pings too. */
  stopping(status?: string): Promise<boolean> {
    this.stopWatchdog();
    return this.notify(['STOPPING=1', ...statusLine(status)]);
  }

  /** A free-form status line. */
  status(text: string): Promise<boolean> {
    return this.notify(statusLine(text));
  }

  /**
   * Sends `KEY=VALUE` assignments in one message, after every message sent before it.
   * Resolves true when systemd-notify succeeded, false when disabled or on failure (logged once).
   */
  notify(assignments: readonly string[]): Promise<boolean> {
    if (!this.enabled || this.broken || assignments.length === 0) return Promise.resolve(false);
    const sent = this.chain.then(() => this.send(assignments));
    this.chain = sent;
    return sent;
  }

  /**
   * Pings WATCHDOG=1 every half interval while `isHealthy()` returns true; an unhealthy
   * agent stays silent and systemd restarts it after WatchdogSec. No-op without a watchdog,
   * and when already started.
   */
  startWatchdog(isHealthy: () => boolean): void {
    if (this.watchdogMs === null || this.timer !== null) return;
    const every = Math.max(1, Math.floor(this.watchdogMs / 2));
    this.timer = setInterval(() => {
      // A ping still running (a slow fork on a busy gateway) is not stacked behind.
      if (this.pinging || !isHealthy()) return;
      this.pinging = true;
      void this.notify(['WATCHDOG=1']).finally(() => (this.pinging = false));
    }, every);
    this.timer.unref();
  }

  stopWatchdog(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  /** Stops the watchdog and waits for notifications in progress. Safe to call twice. */
  async stop(): Promise<void> {
    this.stopWatchdog();
    await this.chain.catch(() => undefined);
  }

  private send(assignments: readonly string[]): Promise<boolean> {
    return new Promise((resolve) => {
      let stderr = '';
      let settled = false;
      const done = (ok: boolean, why?: string): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (!ok) this.fail(assignments, why ?? 'failed');
        resolve(ok);
      };
      const child = spawn(this.command, [...assignments], { env: this.childEnv, stdio: ['ignore', 'ignore', 'pipe'] });
      child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        done(false, `timed out after ${this.timeoutMs} ms`);
      }, this.timeoutMs);
      child.once('error', (err: NodeJS.ErrnoException) => {
        // Without the program there is no way to notify: say so once and stop trying.
        if (err.code === 'ENOENT') this.broken = true;
        done(false, err.code === 'ENOENT' ? `${this.command} not found` : err.message);
      });
      child.once('close', (code) => done(code === 0, `exit code ${code}: ${stderr.trim()}`));
    });
  }

  private fail(assignments: readonly string[], why: string): void {
    if (this.warned) return;
    this.warned = true;
    this.logger?.warn(
      { message: assignments[0], reason: why },
      'cannot notify systemd (check that systemd-notify is installed and the unit has NotifyAccess=all); later failures are not logged',
    );
  }
}

function watchdogInterval(env: Readonly<Record<string, string | undefined>>, pid: number): number | null {
  const usec = Number(env.WATCHDOG_USEC);
  if (!Number.isSafeInteger(usec) || usec <= 0) return null;
  const forPid = env.WATCHDOG_PID;
  if (forPid !== undefined && forPid !== '' && Number(forPid) !== pid) return null;
  return Math.max(1, Math.floor(usec / 1000));
}

function statusLine(text: string | undefined): string[] {
  // One datagram, newline-separated assignments: a newline inside the text would start a new one.
  return text === undefined || text === '' ? [] : [`STATUS=${text.replace(/[\r\n]+/g, ' ')}`];
}
