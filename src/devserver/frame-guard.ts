/**
 * Watches the raw bytes a client sends and spots a message longer than the frame limit
 * from its header alone. Upstream cuts the TCP connection without a close frame when a
 * message is one byte over 16 MiB; `ws` on its own would answer with a 1009 close frame
 * instead, so the dev server reads frame headers ahead of `ws` and destroys the socket
 * itself. Only headers are parsed; payload bytes are skipped, so the cost per chunk is a
 * few comparisons.
 *
 * With permessage-deflate the headers carry compressed lengths; an inflated message over
 * the limit is then caught by `ws`'s own `maxPayload`, whose 1009 close the dev server turns
 * into the same cut (UpstreamSocket in dev-server.ts).
 */
export class FrameSizeGuard {
  private readonly header = Buffer.alloc(14);
  private headerLength = 0;
  private payloadToSkip = 0;
  private messageBytes = 0;

  /** @param limit largest message payload allowed, in bytes */
  constructor(private readonly limit: number) {}

  /** Feeds the next chunk from the socket; false once a message exceeds the limit. */
  feed(chunk: Buffer): boolean {
    const n = chunk.length;
    let i = 0;
    while (i < n) {
      if (this.payloadToSkip > 0) {
        const take = Math.min(this.payloadToSkip, n - i);
        this.payloadToSkip -= take;
        i += take;
        continue;
      }
      this.header[this.headerLength++] = chunk[i++]!;
      if (this.headerLength < 2 || this.headerLength < headerSize(this.header)) continue;
      const length = payloadLength(this.header);
      const opcode = this.header[0]! & 0x0f;
      this.headerLength = 0;
      // Control frames (opcode >= 8) do not count; continuation frames (0) add to the message.
      if (opcode < 8) {
        if (opcode !== 0) this.messageBytes = 0;
        this.messageBytes += length;
        if (this.messageBytes > this.limit) return false;
      }
      this.payloadToSkip = length;
    }
    return true;
  }
}

function headerSize(h: Buffer): number {
  const len7 = h[1]! & 0x7f;
  const extended = len7 === 126 ? 2 : len7 === 127 ? 8 : 0;
  const mask = h[1]! & 0x80 ? 4 : 0;
  return 2 + extended + mask;
}

function payloadLength(h: Buffer): number {
  const len7 = h[1]! & 0x7f;
  if (len7 === 126) return h.readUInt16BE(2);
  if (len7 === 127) return h.readUInt32BE(2) * 2 ** 32 + h.readUInt32BE(6);
  return len7;
}
