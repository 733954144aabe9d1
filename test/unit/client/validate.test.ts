import { describe, expect, it } from 'vitest';
import { assertRecord, assertRecords, FluxionErrorCodes, isFluxionError, validateRecord } from '../../../src/client/index.js';

const good = { ts: 1_700_000_000_000, doc: 'd1', col: 'c', data: '{"v":1}' };

function thrown(fn: () => unknown): { code: string; field: string | undefined; message: string } {
  try {
    fn();
  } catch (err) {
    if (isFluxionError(err)) return { code: err.code, field: err.field, message: err.message };
    throw err;
  }
  throw new Error('expected a FluxionError');
}

describe('validateRecord', () => {
  it('accepts a good record (an empty data string included)', () => {
    expect(validateRecord(good)).toBeNull();
    expect(validateRecord({ ...good, data: '' })).toBeNull();
    expect(validateRecord({ ...good, ts: Number.MAX_SAFE_INTEGER })).toBeNull();
  });

  it.each([
    [null, 'record must be an object {ts, doc, data, col} (got null)'],
    [[good], 'record must be an object {ts, doc, data, col} (got an array)'],
    ['x', 'record must be an object {ts, doc, data, col} (got a string)'],
    [{ ...good, ts: 0 }, 'record.ts must be an integer > 0 (got 0)'],
    [{ ...good, ts: -5 }, 'record.ts must be an integer > 0 (got -5)'],
    [{ ...good, ts: 1.5 }, 'record.ts must be an integer > 0 (got 1.5)'],
    [{ ...good, ts: 2 ** 53 }, 'record.ts must be an integer > 0 (got 9007199254740992)'],
    [{ ...good, ts: '17' }, 'record.ts must be an integer > 0 (got a string)'],
    [{ ...good, ts: Number.NaN }, 'record.ts must be an integer > 0 (got NaN)'],
    [{ ...good, doc: '' }, 'record.doc must be a non-empty string (got an empty string)'],
    [{ ...good, doc: 7 }, 'record.doc must be a non-empty string (got 7)'],
    [{ ...good, col: '' }, 'record.col must be a non-empty string (got an empty string)'],
    [{ ...good, col: undefined }, 'record.col must be a non-empty string (got nothing)'],
    [{ ...good, data: { v: 1 } }, 'record.data must be a string (got an object)'],
    [{ ts: good.ts, doc: 'd', col: 'c' }, 'record.data must be a string (got nothing)'],
  ])('refuses %j', (record, message) => {
    expect(validateRecord(record)).toBe(message);
  });

  it('names the path it is given', () => {
    expect(validateRecord({ ...good, ts: 0 }, 'batch[7]')).toBe('batch[7].ts must be an integer > 0 (got 0)');
  });
});

describe('assertRecord / assertRecords', () => {
  it('throws VALIDATION with the field', () => {
    expect(thrown(() => assertRecord({ ...good, doc: '' }))).toEqual({
      code: FluxionErrorCodes.VALIDATION,
      field: 'record.doc',
      message: 'record.doc must be a non-empty string (got an empty string)',
    });
  });

  it('names the first bad record of a batch by its index', () => {
    const batch = [good, good, good, { ...good, ts: 0 }, { ...good, col: '' }];
    expect(thrown(() => assertRecords(batch))).toEqual({
      code: FluxionErrorCodes.VALIDATION,
      field: 'records[3].ts',
      message: 'records[3].ts must be an integer > 0 (got 0)',
    });
  });

  it('refuses a non-array batch and accepts good ones', () => {
    expect(thrown(() => assertRecords({ 0: good })).field).toBe('records');
    expect(() => assertRecords([good, { ...good, ts: good.ts + 1 }])).not.toThrow();
    expect(() => assertRecords([])).not.toThrow();
  });
});
