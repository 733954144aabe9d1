import { FluxionError } from '../../src/client/index.js';

/** The FluxionError a promise rejects with; fails the test if it resolves or rejects with anything else. */
export async function rejection(p: Promise<unknown>): Promise<FluxionError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof FluxionError) return err;
    throw err;
  }
  throw new Error('expected the promise to reject');
}
