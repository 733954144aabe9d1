/**
 * One Modbus bus as an input: its transport (RTU or TCP), one poller per device, and the
 * scheduler that takes turns on the bus. Each answered poll becomes one raw message whose
 * payload is the decoded values as JSON, on the `port` `modbus:<bus>:<device>`, so the
 * mapping rules built from the config (collection, document, tags, metadata registers) turn
 * it into a record like any other input's. `ts` is when the first answer of the poll arrived.
 *
 * Device state (online/offline), engineering units and identification go to the metadata
 * sync directly, as pairs of the device named by its (static) document; the sync writes
 * only what changed. The agent never writes to a Modbus device.
 */
import type { Logger } from 'pino';
import { isAgentError, ErrorCodes } from '../../errors.js';
import type { MetadataPair } from '../../mapping/types.js';
import { RateLimitedLog } from '../../shared/rate-limited-log.js';
import type { Input, MessageSink, RawMessage } from '../types.js';
import type { DecodedValue } from './decode.js';
import { DevicePoller, type PollResult } from './device-poller.js';
import { RtuBus } from './rtu-bus.js';
import { BusScheduler, type ScheduledDevice } from './scheduler.js';
import { TcpBus } from './tcp-bus.js';
import type { ModbusTransport } from './transport.js';
import type { ModbusBusOptions, ModbusDeviceStatus, ModbusInputStatus } from './types.js';

export interface ModbusInputDeps {
  sink: MessageSink;
  logger: Logger;
  /** Device metadata (state, units, identification); absent: not kept. */
  metadata?: (pairs: MetadataPair[]) => void;
}

/** Read Device Identification basic objects, as metadata keys. */
const IDENTIFICATION_KEYS: Record<number, string> = { 0: 'vendor', 1: 'product_code', 2: 'revision' };

export function createTransport(options: ModbusBusOptions, logger: Logger): ModbusTransport {
  return options.transport === 'rtu' ? new RtuBus(options, logger) : new TcpBus(options, logger);
}

/** The JSON payload of one poll: 64-bit integers beyond 2^53 are already decimal strings. */
export function pollPayload(values: Record<string, DecodedValue>): string {
  return JSON.stringify(values);
}

export class ModbusInput implements Input {
  private readonly transport: ModbusTransport;
  private readonly scheduler: BusScheduler;
  private readonly warnings: RateLimitedLog;
  private lifecycle: 'new' | 'started' | 'stopped' = 'new';
  private stopping: Promise<void> | null = null;
  private received = 0;
  private committed = 0;
  private lastMessageAt: number | null = null;
  private lastError: { message: string; at: number } | null = null;

  constructor(
    private readonly options: ModbusBusOptions,
    private readonly deps: ModbusInputDeps,
  ) {
    this.warnings = new RateLimitedLog(deps.logger);
    this.transport = createTransport(options, deps.logger);
    const pollers = options.devices.map((d) => new DevicePoller(d));
    this.scheduler = new BusScheduler(
      pollers,
      this.transport,
      { timeoutMs: options.timeoutMs, retries: options.retries, offlineAfter: options.offlineAfter, offlineRetryCapMs: options.offlineRetryCapMs },
      { polled: (d, r) => this.onPolled(d, r), stateChanged: (d) => this.onStateChanged(d) },
    );
  }

  async start(): Promise<void> {
    if (this.lifecycle !== 'new') return;
    this.lifecycle = 'started';
    await this.transport.start();
    this.metadata(this.options.devices.flatMap((d) => (d.document === null ? [] : d.registers.filter((r) => r.unit !== undefined).map((r) => ({ device: d.document!, key: `unit.${r.name}`, value: r.unit! })))));
    this.scheduler.start();
  }

  /** Stops polling; a poll under way is cut short (its request fails), nothing half-read is committed. */
  stop(): Promise<void> {
    if (this.stopping !== null) return this.stopping;
    this.stopping = (async () => {
      const wasStarted = this.lifecycle === 'started';
      this.lifecycle = 'stopped';
      const idle = this.scheduler.stop();
      await this.transport.stop();
      await idle;
      if (wasStarted) this.deps.logger.info({ polls: this.received, committed: this.committed }, 'Modbus input stopped');
    })();
    return this.stopping;
  }

  status(): ModbusInputStatus {
    const link = this.transport.linkState;
    const state: ModbusInputStatus['state'] = this.lifecycle !== 'started' ? 'stopped' : link === 'open' ? 'connected' : this.transport.lastError === null ? 'starting' : 'disconnected';
    const errors = [this.lastError, this.transport.lastError].filter((e) => e !== null).sort((a, b) => b.at - a.at);
    return {
      name: `modbus:${this.options.name}`,
      state,
      received: this.received,
      committed: this.committed,
      lastMessageAt: this.lastMessageAt,
      lastError: errors[0] === undefined ? null : { ...errors[0] },
      bus: this.options.name,
      transport: this.options.transport,
      link,
      reopens: this.transport.reopens,
      strayBytes: this.transport.strayBytes,
      devices: this.scheduler.devices.map((d) => deviceStatus(d)),
    };
  }

  private onPolled(d: ScheduledDevice, r: PollResult): void {
    const o = d.poller.options;
    for (const name of r.newlyUnreadable) {
      this.deps.logger.warn({ device: o.name, unit: o.unitId, register: name }, 'Modbus device refuses this register (illegal data address); it is left out of the readings');
    }
    if (!r.answered) {
      if (r.linkDown) return;
      this.warnings.warn(`fail:${o.name}`, { device: o.name, unit: o.unitId, err: d.poller.lastError }, 'Modbus device did not answer the poll');
      return;
    }
    if (r.faults.length > 0) {
      this.warnings.warn(`fault:${o.name}`, { device: o.name, unit: o.unitId, faults: r.faults }, 'Modbus device answered with faults; values of those blocks are missing from this reading');
    }
    if (r.identification !== undefined && o.document !== null) {
      this.metadata(r.identification.filter((x) => IDENTIFICATION_KEYS[x.id] !== undefined && x.value !== '').map((x) => ({ device: o.document!, key: IDENTIFICATION_KEYS[x.id]!, value: x.value })));
    }
    if (Object.keys(r.values).length === 0) return;
    const at = r.at ?? Date.now();
    const msg: RawMessage = { source: 'modbus', port: o.ruleKey, payload: pollPayload(r.values), receivedAt: at };
    this.received++;
    this.lastMessageAt = at;
    try {
      this.deps.sink.commit([msg]);
      this.committed++;
    } catch (err) {
      // A poll is a sample: when the queue refuses it, the next one comes; queuing polls in memory would only grow.
      if (isAgentError(err, ErrorCodes.QUEUE_FULL) || isAgentError(err, ErrorCodes.QUEUE_DISK_FULL)) {
        d.poller.counters.queueRefused++;
        this.lastError = { message: (err as Error).message, at: Date.now() };
        this.warnings.warn(`queue:${this.options.name}`, { code: (err as { code?: string }).code }, 'queue refused a Modbus reading; it is dropped, polling goes on');
        return;
      }
      this.lastError = { message: (err as Error).message, at: Date.now() };
      this.warnings.warn(`commit:${this.options.name}`, { err: (err as Error).message }, 'Modbus reading could not be committed');
    }
  }

  private onStateChanged(d: ScheduledDevice): void {
    const o = d.poller.options;
    // Rate-limited: a device that flaps must not fill the log (the state is in status and metrics).
    if (d.state === 'offline') this.warnings.warn(`offline:${o.name}`, { device: o.name, unit: o.unitId, err: d.poller.lastError }, 'Modbus device offline; polling it less often until it answers');
    else if (d.poller.counters.polls <= 1) this.deps.logger.info({ device: o.name, unit: o.unitId }, 'Modbus device online');
    else this.warnings.warn(`online:${o.name}`, { device: o.name, unit: o.unitId }, 'Modbus device answers again');
    if (o.document !== null) this.metadata([{ device: o.document, key: 'modbus_state', value: d.state }]);
  }

  private metadata(pairs: MetadataPair[]): void {
    if (pairs.length > 0) this.deps.metadata?.(pairs);
  }
}

function deviceStatus(d: ScheduledDevice): ModbusDeviceStatus {
  const p = d.poller;
  return {
    name: p.options.name,
    unitId: p.options.unitId,
    state: d.state,
    lastPollAt: d.lastPollAt,
    lastError: p.lastError,
    unreadable: p.unreadableNames(),
    blocks: p.blockCount,
    counters: { ...p.counters, exceptions: { ...p.counters.exceptions } },
    blockFaults: p.faultsByBlock(),
  };
}
