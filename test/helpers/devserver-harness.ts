/**
 * Raw clients for the dev server tests: a `ws` client that records every frame and how the
 * socket closed, a probe for refused upgrades, and a bare TCP client that speaks just enough
 * WebSocket to send frames and to stop reading (which `ws` cannot do).
 */
import { randomBytes } from 'node:crypto';
import { connect as tcpConnect, type Socket } from 'node:net';
import { WebSocket } from 'ws';
import { DevServer, type DevServerOptions } from '../../src/devserver/index.js';

export const MASTER = 'master-key-for-tests';

export async function startServer(options: Partial<DevServerOptions> = {}): Promise<DevServer> {
  const server = new DevServer({ port: 0, masterKey: MASTER, ...options });
  await server.start();
  return server;
}

export interface Closed {
  code: number;
  reason: string;
}

export class TestClient {
  readonly frames: string[] = [];
  readonly closed: Promise<Closed>;
  private waiters: Array<() => void> = [];
  private isClosed = false;

  constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => {
      this.frames.push(String(data));
      this.wake();
    });
    this.closed = new Promise((resolve) =>
      ws.on('close', (code, reason) => {
        this.isClosed = true;
        this.wake();
        resolve({ code, reason: reason.toString() });
      }),
    );
    ws.on('error', () => undefined);
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /** Waits until `count` frames have arrived (after the ready frame) and returns them. */
  async responses(count: number, timeoutMs = 5000): Promise<string[]> {
    const deadline = Date.now() + timeoutMs;
    while (this.frames.length < count + 1) {
      if (this.isClosed) throw new Error(`closed after ${this.frames.length - 1} responses: ${this.frames.join(' | ')}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out with ${this.frames.length - 1} of ${count} responses`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, left);
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
    return this.frames.slice(1, count + 1);
  }

  /** Sends one envelope; `payload` is JSON-encoded into `data` unless it already is a string. */
  send(id: string, type: string, payload: unknown): void {
    const data = typeof payload === 'string' ? payload : JSON.stringify(payload);
    this.ws.send(JSON.stringify({ id, type, data }));
  }

  /** Sends a request and returns the next response text. */
  async call(type: string, payload: unknown, id = 'r'): Promise<string> {
    const before = this.frames.length;
    this.send(id, type, payload);
    return (await this.responses(before))[before - 1]!;
  }

  close(): void {
    this.ws.terminate();
  }
}

/** Opens a socket and waits for the ready frame. */
export async function connect(server: { url: string }, key = MASTER, name?: string): Promise<TestClient> {
  const q = new URLSearchParams({ 'api-key': key });
  if (name !== undefined) q.set('name', name);
  const ws = new WebSocket(`${server.url}/?${q.toString()}`, { perMessageDeflate: false });
  const client = new TestClient(ws);
  await new Promise<void>((resolve, reject) => {
    ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  await client.responses(0);
  return client;
}

/** The HTTP status and body of an upgrade the server refuses. */
export function refusal(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.on('error', () => undefined);
    ws.once('open', () => {
      ws.terminate();
      reject(new Error('upgrade was accepted'));
    });
    ws.once('unexpected-response', (_req, res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
  });
}

/** A masked client frame. */
export function frame(opcode: number, payload: Buffer, fin = true): Buffer {
  const mask = randomBytes(4);
  const n = payload.length;
  const head = n < 126 ? Buffer.from([0, 0x80 | n]) : n < 65536 ? Buffer.alloc(4) : Buffer.alloc(10);
  head[0] = (fin ? 0x80 : 0) | opcode;
  if (n >= 126 && n < 65536) {
    head[1] = 0x80 | 126;
    head.writeUInt16BE(n, 2);
  } else if (n >= 65536) {
    head[1] = 0x80 | 127;
    head.writeUInt32BE(Math.floor(n / 2 ** 32), 2);
    head.writeUInt32BE(n % 2 ** 32, 6);
  }
  const body = Buffer.from(payload);
  for (let i = 0; i < n; i++) body[i]! ^= mask[i & 3]!;
  return Buffer.concat([head, mask, body]);
}

/** A bare TCP WebSocket client: handshake done, then bytes in and out as the test decides. */
export async function rawConnect(
  server: DevServer,
  key = MASTER,
  extraHeaders = '',
): Promise<{ socket: Socket; handshake: string; received: () => Buffer; ended: Promise<void> }> {
  const socket = tcpConnect(server.port, '127.0.0.1');
  // Chunks are joined only when asked for: the discard-trap test reads tens of MiB.
  let chunks: Buffer[] = [];
  let joined = Buffer.alloc(0);
  const all = (): Buffer => {
    if (chunks.length > 0) {
      joined = Buffer.concat([joined, ...chunks]);
      chunks = [];
    }
    return joined;
  };
  socket.on('data', (d: Buffer) => chunks.push(d));
  socket.on('error', () => undefined);
  const ended = new Promise<void>((r) => socket.once('close', () => r()));
  await new Promise<void>((r) => socket.once('connect', () => r()));
  socket.write(
    `GET /?api-key=${encodeURIComponent(key)} HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n${extraHeaders}\r\n`,
  );
  const deadline = Date.now() + 5000;
  while (!all().includes('"type":"ready"')) {
    if (Date.now() > deadline) throw new Error('no ready frame');
    await new Promise((r) => setTimeout(r, 5));
  }
  const headerEnd = all().indexOf('\r\n\r\n') + 4;
  return { socket, handshake: all().subarray(0, headerEnd).toString(), received: () => all().subarray(headerEnd), ended };
}

/** Decodes the unmasked server frames in `bytes` (opcode, compression bit, payload). */
export function serverFrames(bytes: Buffer): Array<{ opcode: number; rsv1: boolean; payload: Buffer }> {
  const out: Array<{ opcode: number; rsv1: boolean; payload: Buffer }> = [];
  let i = 0;
  while (i + 2 <= bytes.length) {
    const opcode = bytes[i]! & 0x0f;
    const rsv1 = (bytes[i]! & 0x40) !== 0;
    let len = bytes[i + 1]! & 0x7f;
    let off = i + 2;
    if (len === 126) {
      len = bytes.readUInt16BE(off);
      off += 2;
    } else if (len === 127) {
      len = bytes.readUInt32BE(off) * 2 ** 32 + bytes.readUInt32BE(off + 4);
      off += 8;
    }
    if (off + len > bytes.length) break;
    out.push({ opcode, rsv1, payload: bytes.subarray(off, off + len) });
    i = off + len;
  }
  return out;
}

export function envelope(id: string, type: string, payload: unknown): string {
  return JSON.stringify({ id, type, data: typeof payload === 'string' ? payload : JSON.stringify(payload) });
}
