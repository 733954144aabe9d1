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
  /** Values by register name (records and metadata registers). */
  values: Record<string, DecodedValue>;
  /** When the first answer arrived, ms since the epoch. */
  at: number | null;
  /** Registers found unreadable during this poll (for a log line). */
  newlyUnreadable: string[];
  /** Read Device Identification objects, when asked for this poll. */
  identification?: Array<{ id: number; value: string }>;
}

export class DevicePoller {
  readonly counters: ModbusCounters = emptyCounters();
  private readonly cuts = new Set<string>();
  private readonly unreadable = new Set<number>();
  private blocks: ReadBlock[];
  /** Identification was asked and answered (or refused) on this device. */
  identified = false;
  /** The last fault, for status. */
  lastError: string | null = null;

  constructor(readonly options: ModbusDeviceOptions) {
    this.blocks = this.plan();
  }

  get blockCount(): number {
    return this.blocks.length;
  }

  unreadableNames(): string[] {
    return [...this.unreadable].map((i) => this.options.registers[i]!.name);
  }

  /** Reads every block once. `retries` further attempts per request on a timeout or a corrupt answer. */
  async poll(transport: ModbusTransport, timeoutMs: number, retries: number): Promise<PollResult> {
    const o = this.options;
    const result: PollResult = { answered: false, values: {}, at: null, newlyUnreadable: [] };
    const queue = [...this.blocks];
    while (queue.length > 0) {
      const block = queue.shift()!;
      const outcome = await this.send(transport, { unitId: o.unitId, table: block.table, start: block.start, count: block.count }, timeoutMs, retries);
      if (!outcome.ok) return result;
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
    let outcome: RequestOutcome;
    for (let attempt = 0; ; attempt++) {
      c.requests++;
      outcome = await transport.request(req, timeoutMs);
      c.crcErrors += outcome.crcErrors;
      c.garbage += outcome.garbage;
      if (!outcome.ok && outcome.error === 'timeout') c.timeouts++;
      if (outcome.ok || outcome.error === 'disconnected' || attempt >= retries) break;
    }
    if (!outcome.ok || outcome.answer.kind === 'exception') {
      const what = 'identification' in req ? 'device identification' : `${req.table} ${req.start}+${req.count}`;
      this.lastError = `${DevicePoller.describe(outcome)} reading ${what}`;
    }
    return outcome;
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
