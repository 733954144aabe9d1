import { describe, expect, it } from 'vitest';
import { FluxionError, FluxionErrorCodes } from '../../../src/client/index.js';
import { classify, MAX_STRIKES, WriteVerdicts } from '../../../src/metadata/write-verdicts.js';
import type { KvEntry } from '../../../src/queue/index.js';

const entry = (key: string) => ({ col: 'metadata', key, op: 'set', value: 'v' }) as KvEntry;
const err = (code: (typeof FluxionErrorCodes)[keyof typeof FluxionErrorCodes]) => new FluxionError(code, code);

describe('metadata write verdicts', () => {
  it('classifies failures by code: refused key, refused write, slow answer, lost connection', () => {
    expect(classify(err(FluxionErrorCodes.AUTH))).toBe('auth');
    expect(classify(err(FluxionErrorCodes.PERMISSION_DENIED))).toBe('auth');
    expect(classify(err(FluxionErrorCodes.SERVER))).toBe('failed');
    expect(classify(err(FluxionErrorCodes.TIMEOUT))).toBe('retry');
    expect(classify(err(FluxionErrorCodes.CONNECTION_CLOSED))).toBe('lost');
    expect(classify(new Error('disk'))).toBe('failed');
  });

  it('sets a value aside only after it closed the connection MAX_STRIKES times in a row', () => {
    const v = new WriteVerdicts();
    const closed = err(FluxionErrorCodes.CONNECTION_CLOSED);
    for (let i = 1; i < MAX_STRIKES; i++) expect(v.judge(entry('a'), closed, false)).toEqual({ outcome: 'lost', setAside: null, poison: false });
    expect(v.judge(entry('a'), closed, false)).toMatchObject({ outcome: 'lost', poison: true, setAside: expect.stringContaining('closed each time') });
    // A success forgives; a stop or our own close is no strike.
    v.judge(entry('b'), closed, false);
    v.succeeded(entry('b'));
    for (let i = 1; i < MAX_STRIKES; i++) expect(v.judge(entry('b'), closed, false).poison).toBe(false);
    expect(v.judge(entry('c'), closed, true).poison).toBe(false);
    expect(v.judge(entry('c'), err(FluxionErrorCodes.CLIENT_CLOSED), false)).toEqual({ outcome: 'lost', setAside: null, poison: false });
    expect(v.judge(entry('d'), err(FluxionErrorCodes.SERVER), false)).toEqual({ outcome: 'failed', setAside: 'FLUXION_ERR_SERVER', poison: false });
  });
});
