import { describe, expect, it } from 'vitest';
import { cutKey, planBlocks, splitPoint } from '../../../../src/inputs/modbus/block-planner.js';
import type { RegisterSpec } from '../../../../src/inputs/modbus/types.js';

function reg(name: string, table: RegisterSpec['table'], address: number, extra: Partial<RegisterSpec> = {}): RegisterSpec {
  return { name, table, address, type: table === 'coil' || table === 'discrete' ? 'bool' : 'uint16', byteOrder: 'big', wordOrder: 'big', scale: 1, offset: 0, kind: 'records', ...extra };
}
const LIMITS = { maxRegisters: 125, maxCoils: 2000, maxGap: 8 };

describe('planBlocks', () => {
  it('merges neighbours of one table across small gaps, never across tables', () => {
    const regs = [reg('a', 'holding', 0, { type: 'float32' }), reg('b', 'holding', 5), reg('c', 'holding', 20), reg('d', 'input', 0), reg('e', 'coil', 3), reg('f', 'coil', 1000)];
    const blocks = planBlocks(regs, LIMITS);
    expect(blocks.map((b) => [b.table, b.start, b.count])).toEqual([
      ['coil', 3, 1],
      ['coil', 1000, 1],
      ['holding', 0, 6],
      ['holding', 20, 1],
      ['input', 0, 1],
    ]);
    expect(blocks[2]!.items).toEqual([{ index: 0, offset: 0 }, { index: 1, offset: 5 }]);
  });

  it('keeps each read within the per-request limit', () => {
    const regs = Array.from({ length: 300 }, (_, i) => reg(`r${i}`, 'holding', i));
    expect(planBlocks(regs, LIMITS).map((b) => b.count)).toEqual([125, 125, 50]);
    expect(planBlocks(regs, { ...LIMITS, maxRegisters: 100 }).map((b) => b.count)).toEqual([100, 100, 100]);
    const coils = Array.from({ length: 2500 }, (_, i) => reg(`c${i}`, 'coil', i));
    expect(planBlocks(coils, LIMITS).map((b) => b.count)).toEqual([2000, 500]);
  });

  it('splits a refused block in halves and never merges across a remembered cut', () => {
    const regs = [reg('a', 'holding', 0), reg('b', 'holding', 1), reg('c', 'holding', 3), reg('d', 'holding', 4)];
    const [block] = planBlocks(regs, LIMITS);
    const cut = splitPoint(block!, regs);
    expect(cut).toBe(cutKey('holding', 3));
    expect(planBlocks(regs, LIMITS, new Set([cut!])).map((b) => [b.start, b.count])).toEqual([[0, 2], [3, 2]]);
    expect(planBlocks(regs, LIMITS, new Set(), new Set([0, 1])).map((b) => [b.start, b.count])).toEqual([[3, 2]]);
    expect(splitPoint(planBlocks([regs[0]!], LIMITS)[0]!, regs)).toBeNull();
  });

  it('reads bits of one register once', () => {
    const regs = [reg('x', 'holding', 7, { type: 'bool', bit: 0 }), reg('y', 'holding', 7, { type: 'bool', bit: 15 })];
    expect(planBlocks(regs, LIMITS).map((b) => [b.start, b.count, b.items.length])).toEqual([[7, 1, 2]]);
  });
});
