import { describe, expect, it } from 'vitest';
import { buildConnectUrl, redactUrl } from '../../../src/client/url.js';
import { FluxionErrorCodes, isFluxionError } from '../../../src/client/index.js';

function validationError(fn: () => unknown): { field: string | undefined; message: string } {
  try {
    fn();
  } catch (err) {
    if (isFluxionError(err, FluxionErrorCodes.VALIDATION)) return { field: err.field, message: err.message };
    throw err;
  }
  throw new Error('expected a validation error');
}

describe('buildConnectUrl', () => {
  it('appends api-key to a URL without a query', () => {
    expect(buildConnectUrl('ws://127.0.0.1:8080', 'k1')).toBe('ws://127.0.0.1:8080/?api-key=k1');
  });

  it('appends api-key and name after an existing query, which is kept byte for byte', () => {
    expect(buildConnectUrl('wss://db.example/path?region=eu%20west&x=1', 'k', 'gw 3')).toBe(
      'wss://db.example/path?region=eu%20west&x=1&api-key=k&name=gw%203',
    );
  });

  it('handles a URL ending with a bare ?', () => {
    expect(buildConnectUrl('ws://h:1/?', 'k')).toBe('ws://h:1/?api-key=k');
  });

  it('percent-encodes the key and the name', () => {
    expect(buildConnectUrl('ws://h:1', 'a&b=c/d', 'é')).toBe('ws://h:1/?api-key=a%26b%3Dc%2Fd&name=%C3%A9');
  });

  it('leaves an empty key out (the server answers 401 Missing API key parameter)', () => {
    expect(buildConnectUrl('ws://h:1', '')).toBe('ws://h:1/');
    expect(buildConnectUrl('ws://h:1', '', 'n')).toBe('ws://h:1/?name=n');
  });

  it('refuses other schemes, fragments and junk, naming the field url', () => {
    expect(validationError(() => buildConnectUrl('http://h:1', 'k'))).toEqual({
      field: 'url',
      message: 'url http://h:1 must start with ws:// or wss://',
    });
    expect(validationError(() => buildConnectUrl('ws://h:1/#x', 'k')).message).toBe(
      'url ws://h:1/#x must not carry a #fragment',
    );
    expect(validationError(() => buildConnectUrl('not a url', 'k')).field).toBe('url');
  });

  it('refuses an api-key in the URL without echoing it', () => {
    const e = validationError(() => buildConnectUrl('ws://h:1/?api-key=SECRET123', 'k'));
    expect(e.message).toBe('url ws://h:1/?api-key=*** must not carry api-key; pass it as the apiKey option');
    expect(e.message).not.toContain('SECRET123');
  });

  it('refuses name in the URL when connectionName is set too, and keeps it otherwise', () => {
    expect(validationError(() => buildConnectUrl('ws://h:1/?name=a', 'k', 'b')).field).toBe('url');
    expect(buildConnectUrl('ws://h:1/?name=a', 'k')).toBe('ws://h:1/?name=a&api-key=k');
  });
});

describe('redactUrl', () => {
  it('masks every api-key value and nothing else', () => {
    expect(redactUrl('ws://h:1/?a=1&api-key=s3cr3t&name=x')).toBe('ws://h:1/?a=1&api-key=***&name=x');
    expect(redactUrl('ws://h:1/?api-key=s3cr3t')).toBe('ws://h:1/?api-key=***');
    expect(redactUrl('ws://h:1/?name=x')).toBe('ws://h:1/?name=x');
  });
});
