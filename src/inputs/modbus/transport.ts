/** What a Modbus bus (RTU over a serial port, or TCP) offers the scheduler. */
import type { ModbusAnswer, ModbusRequest } from './frames.js';

export type RequestOutcome =
  | { ok: true; answer: ModbusAnswer; at: number; crcErrors: number; garbage: number }
  | { ok: false; error: 'timeout' | 'crc' | 'disconnected'; crcErrors: number; garbage: number };

export interface ModbusTransport {
  /** Opens (or starts connecting); resolves after the first attempt, whether or not the link is there. */
  start(): Promise<void>;
  /** Closes; requests in flight resolve as `disconnected`. Safe to call twice. */
  stop(): Promise<void>;
  /** Sends one request and waits for its answer; never rejects. */
  request(req: ModbusRequest, timeoutMs: number): Promise<RequestOutcome>;
  /** Requests the scheduler may have in flight at once (1 on an RS-485 bus). */
  readonly concurrency: number;
  readonly linkState: 'open' | 'waiting' | 'closed';
  /** Times the link came back after it was lost. */
  readonly reopens: number;
  /** Bytes that arrived while no request waited (RTU), or answers nobody asked for (TCP). */
  readonly strayBytes: number;
  readonly lastError: { message: string; at: number } | null;
}
