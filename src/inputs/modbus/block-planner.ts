/**
 * Which requests read a device's registers: adjacent registers of one table are merged into
 * one read, across gaps of at most `maxGap` unconfigured registers, up to the per-request
 * limit (125 registers, 2,000 coils, or the device's own `max_registers_per_request`).
 *
 * A device that answers a merged block with "illegal data address" usually has a hole in its
 * map (inside a gap, or one register it lacks). The block is split in two and the cut is
 * remembered (`cuts`), so the next polls read the halves at once; a single register refused
 * alone is unreadable and left out. One bad address costs a few requests once, not the device.
 */
import { isBitTable, registerCount } from './decode.js';
import type { ModbusTable, RegisterSpec } from './types.js';

export interface BlockItem {
  /** Index of the register in the device's list. */
  index: number;
  /** Offset from the block's start, in registers (or bits). */
  offset: number;
}

export interface ReadBlock {
  table: ModbusTable;
  start: number;
  count: number;
  items: BlockItem[];
}

export interface PlanLimits {
  maxRegisters: number;
  maxCoils: number;
  maxGap: number;
}

/** The protocol's limits of one read (function codes 1-4). */
export const MAX_READ_REGISTERS = 125;
export const MAX_READ_BITS = 2000;

const TABLE_ORDER: Record<ModbusTable, number> = { coil: 0, discrete: 1, holding: 2, input: 3 };

/** The key of a remembered cut: never merge the register at `address` with what precedes it. */
export function cutKey(table: ModbusTable, address: number): string {
  return `${table}:${address}`;
}

/** Plans the reads of `registers`, leaving out `skip` (unreadable) and never merging across `cuts`. */
export function planBlocks(registers: readonly RegisterSpec[], limits: PlanLimits, cuts: ReadonlySet<string> = new Set(), skip: ReadonlySet<number> = new Set()): ReadBlock[] {
  const order = registers
    .map((r, index) => ({ r, index }))
    .filter((e) => !skip.has(e.index))
    .sort((a, b) => TABLE_ORDER[a.r.table] - TABLE_ORDER[b.r.table] || a.r.address - b.r.address);
  const blocks: ReadBlock[] = [];
  let cur: ReadBlock | null = null;
  let prevAddress = -1;
  for (const { r, index } of order) {
    const n = registerCount(r);
    const limit = isBitTable(r.table) ? Math.min(limits.maxCoils, MAX_READ_BITS) : Math.min(limits.maxRegisters, MAX_READ_REGISTERS);
    // A cut separates an address from lower ones; values sharing a register (bits) stay together.
    const cut = r.address !== prevAddress && cuts.has(cutKey(r.table, r.address));
    prevAddress = r.address;
    if (cur !== null && cur.table === r.table && !cut) {
      const end = cur.start + cur.count;
      const newEnd = Math.max(end, r.address + n);
      if (r.address - end <= limits.maxGap && newEnd - cur.start <= limit) {
        cur.count = newEnd - cur.start;
        cur.items.push({ index, offset: r.address - cur.start });
        continue;
      }
    }
    cur = { table: r.table, start: r.address, count: n, items: [{ index, offset: 0 }] };
    blocks.push(cur);
  }
  return blocks;
}

/**
 * Splits a block the device refused: the cut goes before the middle address, so repeated
 * refusals find a bad register in log2(addresses) steps. Returns the cut's key, or null for
 * a block of one register (it is unreadable).
 */
export function splitPoint(block: ReadBlock, registers: readonly RegisterSpec[]): string | null {
  // Distinct addresses above the first: bits of one register cannot be split apart.
  const addresses = [...new Set(block.items.map((i) => registers[i.index]!.address))].filter((a) => a > block.start).sort((a, b) => a - b);
  if (addresses.length === 0) return null;
  return cutKey(block.table, addresses[Math.floor((addresses.length - 1) / 2)]!);
}
