/**
 * One poll of one device: its planned blocks read in turn, each refused block split (and the
 * split remembered), values decoded, faults counted on the device. The first block that gets
 * no answer at all (timeouts after the retries, a lost link) ends the poll: a dead device then
 * costs the bus one request's timeouts, not one per block.
 */
import { planBlocks, splitPoint, type ReadBlock } from './block-planner.js';
import { decodeRegister, type DecodedValue } from './decode.js';
import { EXCEPTION_NAMES, type ModbusRequest } from './frames.js';
import type { ModbusTransport, RequestOutcome } from './transport.js';
import { emptyCounters, type ModbusCounters, type ModbusDeviceOptions } from './types.js';

export interface PollResult {
  /** The device answered at least one request (data or exception). */
  answered: boolean;
  /** The bus itself was down (adapter unplugged, TCP link lost): the device is not to blame. */
  linkDown: boolean;
  /** Values by register name (records and metadata registers). */
  values: Record<string, DecodedValue>;
  /** When the first answer arrived, ms since the epoch. */
  at: number | null;
  /** Registers found unreadable during this poll (for a log line). */
  newlyUnreadable: string[];
  /** Read Device Identification objects, when asked for this poll. */
  identification?: Array<{ id: number; value: string }>;
  /** What went wrong in this poll (timeouts, corrupt answers, exceptions), one line per request. */
  faults: string[];
}

/** Faults of one request range (`holding 0+10`), for status: counted per device and per block. */
export interface BlockFaults {
  block: string;
  timeouts: number;
  crcErrors: number;
  exceptions: Record<string, number>;
}

/** Blocks with faults kept per device: a device with a changing map cannot grow status without bound. */
const MAX_BLOCK_FAULTS = 64;

export class DevicePoller {
  readonly counters: ModbusCounters = emptyCounters();
  private readonly cuts = new Set<string>();
  private readonly unreadable = new Set<number>();
  private blocks: ReadBlock[];
  /** Identification was asked and answered (or refused) on this device. */
  identified = false;
  /** The last fault, for status. */
  lastError: string | null = null;
  private readonly blockFaults = new Map<string, BlockFaults>();
  private faults: string[] = [];

  constructor(readonly options: ModbusDeviceOptions) {
    this.blocks = this.plan();
  }

  get blockCount(): number {
    return this.blocks.length;
  }

  faultsByBlock(): BlockFaults[] {
    return [...this.blockFaults.values()].map((b) => ({ ...b, exceptions: { ...b.exceptions } }));
  }

  unreadableNames(): string[] {
    return [...this.unreadable].map((i) => this.options.registers[i]!.name);
  }

  /** Reads every block once. `retries` further attempts per request on a timeout or a corrupt answer. */
  async poll(transport: ModbusTransport, timeoutMs: number, retries: number): Promise<PollResult> {
    const o = this.options;
    this.faults = [];
    const result: PollResult = { answered: false, linkDown: false, values: {}, at: null, newlyUnreadable: [], faults: this.faults };
    const queue = [...this.blocks];
    while (queue.length > 0) {
      const block = queue.shift()!;
      const outcome = await this.send(transport, { unitId: o.unitId, table: block.table, start: block.start, count: block.count }, timeoutMs, retries);
      if (!outcome.ok) {
        result.linkDown = outcome.error === 'disconnected';
        return result;
      }
      result.answered = true;
      result.at ??= outcome.at;
      const answer = outcome.answer;
      if (answer.kind === 'exception') {
        this.counters.exceptions[answer.code] = (this.counters.exceptions[answer.code] ?? 0) + 1;
        // Illegal data address: a hole in the device's map inside this block.
        if (answer.code === 2) queue.unshift(...this.split(block, result));
        continue;
      }
      if (answer.kind !== 'data') continue;
      for (const item of block.items) {
        const spec = o.registers[item.index]!;
        result.values[spec.name] = decodeRegister(spec, answer.data, item.offset);
      }
    }
    if (o.identification && !this.identified && result.answered) {
      const outcome = await this.send(transport, { unitId: o.unitId, identification: true }, timeoutMs, retries);
      if (outcome.ok) {
        this.identified = true;
        if (outcome.answer.kind === 'identification') result.identification = outcome.answer.objects;
      }
    }
    return result;
  }

  /** Describes the last failure for status and logs. */
  static describe(outcome: RequestOutcome): string {
    if (!outcome.ok) return outcome.error === 'crc' ? 'answers with a bad CRC' : outcome.error === 'timeout' ? 'no answer (timeout)' : 'bus not available';
    const a = outcome.answer;
    return a.kind === 'exception' ? `exception ${a.code} (${EXCEPTION_NAMES[a.code] ?? 'unknown'})` : 'ok';
  }


  private async send(transport: ModbusTransport, req: ModbusRequest, timeoutMs: number, retries: number): Promise<RequestOutcome> {
    const c = this.counters;
    const what = 'identification' in req ? 'device identification' : `${req.table} ${req.start}+${req.count}`;
    let outcome: RequestOutcome;
    for (let attempt = 0; ; attempt++) {
      c.requests++;
      outcome = await transport.request(req, timeoutMs);
      c.crcErrors += outcome.crcErrors;
      c.garbage += outcome.garbage;
      const timeout = !outcome.ok && outcome.error === 'timeout';
      if (timeout) c.timeouts++;
      const exception = outcome.ok && outcome.answer.kind === 'exception' ? outcome.answer.code : null;
      if (timeout || outcome.crcErrors > 0 || exception !== null) this.countBlockFault(what, timeout, outcome.crcErrors, exception);
      if (!outcome.ok || exception !== null) {
        this.lastError = `${DevicePoller.describe(outcome)} reading ${what}`;
        this.faults.push(this.lastError);
      }
      if (outcome.ok || outcome.error === 'disconnected' || attempt >= retries) break;
    }
    return outcome;
  }

  private countBlockFault(block: string, timeout: boolean, crcErrors: number, exception: number | null): void {
    let f = this.blockFaults.get(block);
    if (f === undefined) {
      if (this.blockFaults.size >= MAX_BLOCK_FAULTS) this.blockFaults.delete(this.blockFaults.keys().next().value!);
      f = { block, timeouts: 0, crcErrors: 0, exceptions: {} };
      this.blockFaults.set(block, f);
    }
    if (timeout) f.timeouts++;
    f.crcErrors += crcErrors;
    if (exception !== null) f.exceptions[exception] = (f.exceptions[exception] ?? 0) + 1;
  }

  private split(block: ReadBlock, result: PollResult): ReadBlock[] {
    const cut = splitPoint(block, this.options.registers);
    if (cut === null) {
      for (const item of block.items) {
        this.unreadable.add(item.index);
        result.newlyUnreadable.push(this.options.registers[item.index]!.name);
      }
    } else this.cuts.add(cut);
    this.blocks = this.plan();
    if (cut === null) return [];
    // Re-read only this block's registers now, in the new pieces.
    const mine = new Set(block.items.map((i) => i.index));
    const skip = new Set(this.options.registers.map((_, i) => i).filter((i) => !mine.has(i) || this.unreadable.has(i)));
    return planBlocks(this.options.registers, this.limits(), this.cuts, skip);
  }

  private plan(): ReadBlock[] {
    return planBlocks(this.options.registers, this.limits(), this.cuts, this.unreadable);
  }

  private limits() {
    const o = this.options;
    return { maxRegisters: o.maxRegistersPerRequest, maxCoils: o.maxCoilsPerRequest, maxGap: o.maxGap };
  }
}
