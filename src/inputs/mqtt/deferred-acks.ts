/**
 * Deferred acknowledgements: mqtt.js parses the next packet at once while the PUBACK of the
 * message before waits for the group commit.
 *
 * Why: mqtt.js handles incoming packets one at a time. For QoS 1 it calls
 * `handleMessage(packet, callback)`, and in that callback writes the PUBACK with
 * `_sendPacket({cmd: 'puback'}, done)`; only `done` lets it parse the next packet. Calling
 * back after a 50 ms group commit collapsed a local Mosquitto stream from 25,000 to 20
 * msgs/s (measured, 40-byte JSON payloads). MQTT lets a client acknowledge QoS 1 messages
 * late, as long as the PUBACKs go out in the order the messages arrived.
 *
 * How: `handleMessage` (mqtt.js's documented hook) adds the message to the open group and
 * calls back at once. mqtt.js then calls `_sendPacket` synchronously with the PUBACK (or, for
 * QoS 2, the PUBCOMP sent after the PUBREL): the wrapper below recognises it by its
 * messageId, keeps the packet in the message's group instead of writing it, and calls `done`
 * so parsing goes on. After the group's commit the held packets go out through the original
 * `_sendPacket`, in order. mqtt.js keeps no per-message state for incoming QoS 1 (the
 * incoming store is used for QoS 2 only, and emptied before the PUBCOMP is asked for), so
 * holding the packet leaves its state consistent.
 *
 * An acknowledgement belongs to the connection its message came on: one held across a
 * reconnect is dropped, never written on the new connection (the broker re-sends the message
 * with the same packet id and may already have reused that id), and the message is committed
 * a second time when it comes again. Records are idempotent on (col, doc, ts) downstream.
 *
 * While MAX_UNCOMMITTED messages are held (a full queue under a QoS 0 flood; QoS 1 is held
 * back by the broker's in-flight window long before), the callback itself is held: mqtt.js
 * stops parsing, and TCP pushes back on the broker.
 */
import type { IPublishPacket, MqttClient, Packet } from 'mqtt';
import type { RawMessage } from '../types.js';
import type { Group, GroupCommit } from './group-commit.js';

/** Messages held uncommitted beyond which mqtt.js is made to stop parsing. */
export const MAX_UNCOMMITTED = 10_000;

export interface HeldAck {
  packet: Packet;
  /** The connection the message came on. */
  stream: unknown;
}

type SendPacket = (packet: Packet, cb?: (err?: Error) => void, cbStorePut?: unknown, noStore?: boolean) => void;
interface ClientInternals {
  _sendPacket: SendPacket;
}

interface Capture {
  group: Group<HeldAck>;
  messageId: number;
  stream: unknown;
}

export class DeferredAcks {
  /** Acknowledgements dropped because their connection closed before the commit. */
  dropped = 0;
  private send: SendPacket | null = null;
  private capture: Capture | null = null;
  private parked: { callback: () => void; group: Group<HeldAck>; messageId: number | undefined } | null = null;
  private closed = false;
  private commit: GroupCommit<HeldAck> | null = null;

  constructor(
    private readonly client: MqttClient,
    /** Turns a packet into the raw message to commit. */
    private readonly toMessage: (packet: IPublishPacket) => RawMessage,
  ) {}

  /** Takes over mqtt.js's message hook and acknowledgement writes; call before connecting. */
  install(commit: GroupCommit<HeldAck>): void {
    this.commit = commit;
    const internals = this.client as unknown as ClientInternals;
    const send = internals._sendPacket.bind(this.client) as SendPacket;
    this.send = send;
    internals._sendPacket = (packet, cb, cbStorePut, noStore) => {
      const c = this.capture;
      if (c !== null && (packet.cmd === 'puback' || packet.cmd === 'pubcomp') && packet.messageId === c.messageId) {
        this.capture = null;
        commit.attachAck(c.group, { packet, stream: c.stream });
        cb?.();
        return;
      }
      send(packet, cb, cbStorePut, noStore);
    };
    this.client.handleMessage = (packet, callback) => this.onMessage(packet, callback);
  }

  /** Writes acknowledgements of committed messages that came on the current connection. */
  release(acks: readonly HeldAck[]): void {
    const send = this.send;
    if (send === null) return;
    for (const ack of acks) {
      if (ack.stream !== this.client.stream || !this.client.connected) {
        this.dropped++;
        continue;
      }
      // mqtt-packet corks the socket until the next tick: the acks of a group leave together.
      send(ack.packet);
    }
  }

  /** After a commit: lets mqtt.js parse again if it was held. */
  resume(): void {
    const p = this.parked;
    if (p === null || this.closed || this.commit!.uncommitted() >= MAX_UNCOMMITTED) return;
    this.parked = null;
    this.proceed(p.callback, p.group, p.messageId);
  }

  /** Stops taking messages: new ones are never called back, so never acknowledged. */
  close(): void {
    this.closed = true;
    this.parked = null;
  }

  private onMessage(packet: IPublishPacket, callback: (err?: Error) => void): void {
    // Closed: the message is neither committed nor acknowledged, and parsing stops here;
    // the broker delivers it again next session.
    if (this.closed) return;
    const commit = this.commit!;
    const awaitsAck = packet.qos > 0;
    const group = commit.add(this.toMessage(packet), awaitsAck);
    const messageId = awaitsAck ? packet.messageId : undefined;
    if (commit.uncommitted() >= MAX_UNCOMMITTED) {
      this.parked = { callback: () => callback(), group, messageId };
      return;
    }
    this.proceed(() => callback(), group, messageId);
  }

  private proceed(callback: () => void, group: Group<HeldAck>, messageId: number | undefined): void {
    this.capture = messageId === undefined ? null : { group, messageId, stream: this.client.stream };
    callback();
    // mqtt.js asks for the acknowledgement synchronously inside the callback; if a future
    // version did not, nothing would be captured for the next message by mistake.
    this.capture = null;
  }
}
