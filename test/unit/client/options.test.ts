import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { FluxionClient, FluxionErrorCodes, isFluxionError, type FluxionClientOptions } from '../../../src/client/index.js';

function optionError(options: unknown): { code: string; field: string | undefined; message: string } {
  try {
    new FluxionClient(options as FluxionClientOptions);
  } catch (err) {
    if (isFluxionError(err)) return { code: err.code, field: err.field, message: err.message };
    throw err;
  }
  throw new Error('expected the constructor to throw');
}

describe('FluxionClient options', () => {
  it.each([
    [{ apiKey: 'k' }, 'url', 'option url must be a ws:// or wss:// URL string'],
    [{ url: 'ws://h:1' }, 'apiKey', 'option apiKey must be a string'],
    [{ url: 'ws://h:1', apiKey: 'k', connectionName: 5 }, 'connectionName', 'option connectionName must be a string'],
    [{ url: 'ws://h:1', apiKey: 'k', requestTimeoutMs: 0 }, 'requestTimeoutMs', 'requestTimeoutMs must be a finite number > 0 (got 0)'],
    [{ url: 'ws://h:1', apiKey: 'k', connectTimeoutMs: -1 }, 'connectTimeoutMs', 'connectTimeoutMs must be a finite number > 0 (got -1)'],
    [{ url: 'ws://h:1', apiKey: 'k', reconnect: { maxAttempts: 0 } }, 'reconnect.maxAttempts', 'option reconnect.maxAttempts must be an integer >= 1 or Infinity'],
    [{ url: 'ws://h:1', apiKey: 'k', reconnect: { baseMs: -5 } }, 'reconnect', 'option reconnect must be baseMs and capMs >= 0'],
    [{ url: 'ws://h:1', apiKey: 'k', maxFrameBytes: 1.5 }, 'maxFrameBytes', 'option maxFrameBytes must be an integer > 0 (bytes; the server cuts frames over 16 MiB)'],
    [{ url: 'http://h:1', apiKey: 'k' }, 'url', 'url http://h:1 must start with ws:// or wss://'],
  ])('refuses %j with VALIDATION naming the field', (options, field, message) => {
    expect(optionError(options)).toEqual({ code: FluxionErrorCodes.VALIDATION, field, message });
  });

  it('starts disconnected, and shows neither the key nor the URL carrying it', () => {
    const c = new FluxionClient({ url: 'ws://db.example:8080/?region=eu', apiKey: 'KEY-XYZ-123', connectionName: 'gw' });
    expect(c.connected).toBe(false);
    expect(c.inFlight).toBe(0);
    expect(String(c)).toBe('FluxionClient(ws://db.example:8080/?region=eu)');
    expect(inspect(c, { depth: 10, showHidden: true })).not.toContain('KEY-XYZ-123');
    expect(JSON.stringify(c)).not.toContain('KEY-XYZ-123');
  });

  it('accepts reconnect: false and an Infinity maxAttempts', () => {
    expect(() => new FluxionClient({ url: 'wss://h', apiKey: 'k', reconnect: false })).not.toThrow();
    expect(() => new FluxionClient({ url: 'wss://h', apiKey: 'k', reconnect: { maxAttempts: Infinity } })).not.toThrow();
  });
});
