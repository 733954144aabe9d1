/**
 * Polls the devices of one bus on their intervals, fairly. At most `transport.concurrency`
 * polls run at once (one on RS-485); when several are due, the one due longest goes first,
 * so a device that keeps timing out delays each neighbour by at most one of its polls and
 * never takes their turns.
 *
 * A poll that ends after its next slot has passed does not queue the missed slots: they are
 * skipped and counted, and the device is next polled on its own grid. A device that fails
 * `offlineAfter` polls in a row is offline: it is polled without retries, at a delay that
 * doubles from its interval up to `offlineRetryCapMs`, until it answers again. Polls that
 * found the bus itself down (adapter unplugged, TCP link lost) count against no device.
 */
import type { DevicePoller, PollResult } from './device-poller.js';
import type { ModbusTransport } from './transport.js';

export interface SchedulerOptions {
  timeoutMs: number;
  retries: number;
  offlineAfter: number;
  offlineRetryCapMs: number;
}

export interface ScheduledDevice {
  poller: DevicePoller;
  nextDue: number;
  /** Consecutive polls without any answer. */
  failures: number;
  state: 'unknown' | 'online' | 'offline';
  running: boolean;
  lastPollAt: number | null;
}

export interface SchedulerEvents {
  /** A poll finished (answered or not). */
  polled(device: ScheduledDevice, result: PollResult): void;
  /** The device went online or offline. */
  stateChanged(device: ScheduledDevice): void;
}

export class BusScheduler {
  readonly devices: ScheduledDevice[];
  private timer: NodeJS.Timeout | null = null;
  private running = 0;
  private active = false;
  private idle: (() => void) | null = null;

  constructor(
    pollers: DevicePoller[],
    private readonly transport: ModbusTransport,
    private readonly options: SchedulerOptions,
    private readonly events: SchedulerEvents,
    private readonly now: () => number = Date.now,
  ) {
    this.devices = pollers.map((poller) => ({ poller, nextDue: 0, failures: 0, state: 'unknown', running: false, lastPollAt: null }));
  }

  start(): void {
    if (this.active) return;
    this.active = true;
    const t = this.now();
    for (const d of this.devices) d.nextDue = t;
    this.pump();
  }

  /** Stops scheduling; resolves when the polls under way are over (the transport's stop ends them). */
  async stop(): Promise<void> {
    this.active = false;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    if (this.running > 0) await new Promise<void>((resolve) => (this.idle = resolve));
  }

  private pump(): void {
    if (!this.active) return;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    const t = this.now();
    while (this.running < this.transport.concurrency) {
      let pick: ScheduledDevice | null = null;
      for (const d of this.devices) {
        if (d.running || d.nextDue > t) continue;
        if (pick === null || d.nextDue < pick.nextDue) pick = d;
      }
      if (pick === null) break;
      void this.run(pick);
    }
    let soonest = Infinity;
    for (const d of this.devices) if (!d.running) soonest = Math.min(soonest, d.nextDue);
    if (soonest !== Infinity && this.running < this.transport.concurrency) {
      this.timer = setTimeout(() => this.pump(), Math.max(0, soonest - this.now()));
    }
  }

  private async run(d: ScheduledDevice): Promise<void> {
    d.running = true;
    this.running++;
    const offline = d.state === 'offline';
    const c = d.poller.counters;
    let result: PollResult;
    try {
      result = await d.poller.poll(this.transport, this.options.timeoutMs, offline ? 0 : this.options.retries);
    } catch (err) {
      // Decoding runs on checked frames, so this is a bug; it must not stop the bus.
      d.poller.lastError = (err as Error).message;
      result = { answered: false, linkDown: false, values: {}, at: null, newlyUnreadable: [], faults: [d.poller.lastError] };
    }
    const t = this.now();
    c.polls++;
    d.lastPollAt = t;
    d.running = false;
    this.running--;
    const interval = d.poller.options.intervalMs;
    if (result.answered) {
      d.failures = 0;
      if (d.state !== 'online') {
        d.state = 'online';
        if (this.active) this.events.stateChanged(d);
      }
    } else if (!result.linkDown) {
      c.failedPolls++;
      d.failures++;
      if (d.state !== 'offline' && d.failures >= this.options.offlineAfter) {
        d.state = 'offline';
        if (this.active) this.events.stateChanged(d);
      }
    }
    if (d.state === 'offline') {
      d.nextDue = t + Math.min(this.options.offlineRetryCapMs, interval * 2 ** Math.min(20, d.failures - this.options.offlineAfter));
    } else {
      d.nextDue += interval;
      // Slots that passed while this poll ran (or waited for the bus) are skipped, never queued up.
      if (d.nextDue <= t) {
        const missed = Math.floor((t - d.nextDue) / interval) + 1;
        c.skipped += missed;
        d.nextDue += missed * interval;
      }
    }
    if (this.active) this.events.polled(d, result);
    if (this.running === 0 && this.idle !== null) {
      this.idle();
      this.idle = null;
    }
    this.pump();
  }
}
