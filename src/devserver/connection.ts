/**
 * One client socket of the dev server: who it is (for `conn` and scope checks) and the
 * ordered way responses leave it. Responses may be held back by the ack-delay fault but
 * always go out in request order, and a close requested after them waits its turn too.
 * Upstream's response-discard trap lives here: once more than 16 MiB of responses wait
 * unsent, further responses are dropped while the socket stays open.
 */
import { WebSocket } from 'ws';
import type { ConnectionView } from './handlers.js';

/** Responses beyond this many unsent bytes for one socket are silently discarded. */
export const MAX_BUFFERED_RESPONSE_BYTES = 16 * 1024 * 1024;

/** Upstream never compresses its frames, even with permessage-deflate negotiated. */
const UNCOMPRESSED = { compress: false } as const;

interface Pending {
  due: number;
  text: string | null;
  close?: { code: number; reason: string };
}

export interface ClientConnectionInit {
  id: number;
  ws: WebSocket;
  key: string;
  ip: string;
  name: string | null;
  /** The ack delay in force when a response is queued, in ms. */
  ackDelayMs: () => number;
}

export class ClientConnection implements ConnectionView {
  readonly id: number;
  readonly key: string;
  readonly ip: string;
  readonly name: string | null;
  readonly connectedAt = Date.now();
  /** Last time any byte arrived (frames, pongs); drives the idle timeout. */
  lastActive = Date.now();
  /** Whether a ping went out since the last activity. */
  pinged = false;
  framesReceived = 0;
  /** Responses dropped by the discard trap. */
  discarded = 0;
  /** False once a close is decided: later frames are lost unanswered, as upstream. */
  accepting = true;
  private readonly ws: WebSocket;
  private readonly ackDelayMs: () => number;
  private queue: Pending[] = [];
  private head = 0;
  private timer: NodeJS.Timeout | undefined;
  private closeQueued = false;

  constructor(init: ClientConnectionInit) {
    this.id = init.id;
    this.ws = init.ws;
    this.key = init.key;
    this.ip = init.ip;
    this.name = init.name;
    this.ackDelayMs = init.ackDelayMs;
  }

  /** Sends at once, bypassing the delay queue (the `ready` frame). */
  sendNow(text: string): void {
    this.write(text);
  }

  /** Queues a response behind every earlier one; dropped once the socket is closing. */
  respond(text: string): void {
    if (!this.accepting) return;
    const delay = this.ackDelayMs();
    if (delay <= 0 && this.head === this.queue.length) this.write(text);
    else this.enqueue({ due: Date.now() + Math.max(0, delay), text });
  }

  /** Closes with a close frame after every response queued so far; later frames are ignored. */
  closeInOrder(code: number, reason: string): void {
    if (this.closeQueued) return;
    this.accepting = false;
    this.closeQueued = true;
    const delay = this.ackDelayMs();
    if (delay <= 0 && this.head === this.queue.length) this.ws.close(code, reason);
    else this.enqueue({ due: Date.now() + Math.max(0, delay), text: null, close: { code, reason } });
  }

  /** Cuts the TCP connection without a close frame (the client sees 1006). */
  terminate(): void {
    this.accepting = false;
    this.dispose();
    this.ws.terminate();
  }

  ping(): void {
    this.pinged = true;
    if (this.ws.readyState === WebSocket.OPEN) this.ws.ping();
  }

  /** Drops whatever is still queued; called when the socket is gone. */
  dispose(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.queue = [];
    this.head = 0;
  }

  private write(text: string): void {
    if (this.ws.readyState !== WebSocket.OPEN) return;
    if (this.ws.bufferedAmount > MAX_BUFFERED_RESPONSE_BYTES) {
      this.discarded++;
      return;
    }
    this.ws.send(text, UNCOMPRESSED);
  }

  private enqueue(p: Pending): void {
    this.queue.push(p);
    this.schedule();
  }

  private schedule(): void {
    if (this.timer !== undefined || this.head >= this.queue.length) return;
    const wait = Math.max(0, this.queue[this.head]!.due - Date.now());
    this.timer = setTimeout(this.flush, wait);
  }

  private readonly flush = (): void => {
    this.timer = undefined;
    const now = Date.now();
    while (this.head < this.queue.length && this.queue[this.head]!.due <= now) {
      const p = this.queue[this.head++]!;
      if (p.close !== undefined) {
        this.ws.close(p.close.code, p.close.reason);
        this.dispose();
        return;
      }
      this.write(p.text!);
    }
    if (this.head === this.queue.length) {
      this.queue = [];
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
    this.schedule();
  };
}
