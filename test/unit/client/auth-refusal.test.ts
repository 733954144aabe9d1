import { describe, expect, it } from 'vitest';
import { FluxionError, FluxionErrorCodes, isAuthRefusal } from '../../../src/client/index.js';

describe('isAuthRefusal', () => {
  it('is true only for a refused key or scope', () => {
    expect(isAuthRefusal(new FluxionError(FluxionErrorCodes.AUTH, 'x'))).toBe(true);
    expect(isAuthRefusal(new FluxionError(FluxionErrorCodes.PERMISSION_DENIED, 'x'))).toBe(true);
    for (const code of [FluxionErrorCodes.TIMEOUT, FluxionErrorCodes.CONNECTION_CLOSED, FluxionErrorCodes.SERVER]) {
      expect(isAuthRefusal(new FluxionError(code, 'x'))).toBe(false);
    }
    expect(isAuthRefusal(new Error('permission denied'))).toBe(false);
  });
});
