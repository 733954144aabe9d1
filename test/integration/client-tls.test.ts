/**
 * wss:// through a real TLS terminator (as deployments put one in front of FluxionDB): a
 * self-signed certificate made with openssl, a TLS server piping to the dev server.
 */
import { connect as netConnect } from 'node:net';
import { createServer as createTlsServer, type Server as TlsServer } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DevServer } from '../../src/devserver/index.js';
import { FluxionClient, FluxionErrorCodes } from '../../src/client/index.js';
import { tempDir } from '../helpers/tmp.js';
import { rejection } from '../helpers/rejection.js';
import { selfSignedCert } from '../helpers/tls.js';

const MASTER = 'tls-master-key';
let server: DevServer;
let proxy: TlsServer;
let cert: string;
let url: string;
const dir = tempDir('fluxion-client-tls-');

beforeAll(async () => {
  const made = selfSignedCert(dir.path);
  cert = made.cert;
  const key = made.key;
  server = new DevServer({ port: 0, masterKey: MASTER });
  await server.start();
  proxy = createTlsServer({ key, cert }, (tlsSocket) => {
    const upstream = netConnect(server.port, '127.0.0.1');
    tlsSocket.on('error', () => upstream.destroy());
    upstream.on('error', () => tlsSocket.destroy());
    tlsSocket.pipe(upstream).pipe(tlsSocket);
  });
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
  const addr = proxy.address();
  url = `wss://127.0.0.1:${typeof addr === 'object' && addr !== null ? addr.port : 0}`;
});

afterAll(async () => {
  await new Promise((r) => proxy.close(r));
  await server.stop();
  dir.cleanup();
});


describe('wss://', () => {
  it('works when the certificate is trusted through tls.ca', async () => {
    const c = new FluxionClient({ url, apiKey: MASTER, tls: { ca: cert }, reconnect: false });
    try {
      await c.setValue({ col: 'tls', key: 'k', value: 'v' });
      expect(await c.getValue({ col: 'tls', key: 'k' })).toBe('v');
    } finally {
      await c.close();
    }
  });

  it('refuses an untrusted certificate with CONNECT', async () => {
    const c = new FluxionClient({ url, apiKey: MASTER, reconnect: false });
    try {
      const err = await rejection(c.fetchCollections());
      expect(err.code).toBe(FluxionErrorCodes.CONNECT);
      expect(err.message).toBe(`cannot connect to ${url}: self-signed certificate`);
      expect((err.cause as NodeJS.ErrnoException).code).toBe('DEPTH_ZERO_SELF_SIGNED_CERT');
    } finally {
      await c.close();
    }
  });

  it('accepts it with rejectUnauthorized: false', async () => {
    const c = new FluxionClient({ url, apiKey: MASTER, tls: { rejectUnauthorized: false }, reconnect: false });
    try {
      expect(await c.getValue({ col: 'tls', key: 'k' })).toBe('v');
    } finally {
      await c.close();
    }
  });
});
