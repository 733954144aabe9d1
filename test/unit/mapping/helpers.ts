import type { RawMessage } from '../../../src/mapping/index.js';

/** 2024-01-01T00:00:00Z: the receive time of every test message unless stated. */
export const RECEIVED = Date.UTC(2024, 0, 1);

export function mqtt(topic: string, payload: string | Uint8Array, receivedAt = RECEIVED): RawMessage {
  return { source: 'mqtt', topic, payload: typeof payload === 'string' ? Buffer.from(payload) : payload, receivedAt };
}

export function serial(port: string, payload: string, receivedAt = RECEIVED): RawMessage {
  return { source: 'serial', port, payload, receivedAt };
}
