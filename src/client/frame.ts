/**
 * The envelope: `{"id","type","data"}` with `data` the payload serialized to a string
 * (encoded twice). For an `ins` batch that is one JSON.stringify of the records array and
 * one of the envelope; nothing walks the records again.
 */
import { FluxionError, FluxionErrorCodes } from './errors.js';

/** The server cuts the TCP connection (1006) on a text frame of more than this many bytes. */
export const SERVER_MAX_FRAME_BYTES = 16 * 1024 * 1024;

/** A payload already serialized to JSON by the caller: it goes into `data` as it is. */
export class EncodedPayload {
  constructor(readonly json: string) {}
}

/**
 * A payload already serialized to JSON and escaped as the inside of the `data` string, in
 * UTF-8 parts: the frame is built from the bytes as they are (no decoding, no escaping).
 */
export class EscapedPayload {
  constructor(readonly parts: readonly Buffer[]) {}
}

/**
 * Encodes one request frame: text, or bytes around an escaped payload. Refuses it
 * (VALIDATION, field `frame`) above `maxFrameBytes`.
 */
export function encodeRequest(id: string, type: string, payload: unknown, maxFrameBytes: number): string | Buffer {
  return payload instanceof EscapedPayload ? encodeEscapedFrame(id, type, payload, maxFrameBytes) : encodeFrame(id, type, payload, maxFrameBytes);
}

function encodeEscapedFrame(id: string, type: string, payload: EscapedPayload, maxFrameBytes: number): Buffer {
  const head = Buffer.from(`{"id":${JSON.stringify(id)},"type":${JSON.stringify(type)},"data":"`);
  let bytes = head.length + TAIL.length;
  for (const p of payload.parts) bytes += p.length;
  // Counted before the copy: a refused frame allocates nothing.
  if (bytes > maxFrameBytes) throw frameTooLarge(type, bytes, maxFrameBytes);
  return Buffer.concat([head, ...payload.parts, TAIL], bytes);
}

const TAIL = Buffer.from('"}');

function frameTooLarge(type: string, bytes: number, maxFrameBytes: number): FluxionError {
  return new FluxionError(
    FluxionErrorCodes.VALIDATION,
    `${type} frame of ${bytes} bytes exceeds maxFrameBytes (${maxFrameBytes}); send smaller batches`,
    { field: 'frame', requestType: type },
  );
}

/** Encodes one request frame; refuses it (VALIDATION, field `frame`) above `maxFrameBytes`. */
export function encodeFrame(id: string, type: string, payload: unknown, maxFrameBytes: number): string {
  // `cols` and `conn` ignore their payload, but `data` must still be a non-empty string.
  let data: string | undefined;
  try {
    data = payload === undefined ? '{}' : payload instanceof EncodedPayload ? payload.json : JSON.stringify(payload);
  } catch (err) {
    throw new FluxionError(FluxionErrorCodes.VALIDATION, `${type} payload cannot be serialized to JSON`, {
      field: 'payload',
      requestType: type,
      cause: err,
    });
  }
  // JSON.stringify of a function or a symbol is undefined: the envelope would lose `data`
  // and the server would close the socket (1008).
  if (data === undefined) {
    throw new FluxionError(FluxionErrorCodes.VALIDATION, `${type} payload is not JSON data`, {
      field: 'payload',
      requestType: type,
    });
  }
  const frame = JSON.stringify({ id, type, data });
  // A UTF-16 code unit takes at most 3 UTF-8 bytes: most frames skip the exact count.
  if (frame.length * 3 > maxFrameBytes) {
    const bytes = Buffer.byteLength(frame, 'utf8');
    if (bytes > maxFrameBytes) throw frameTooLarge(type, bytes, maxFrameBytes);
  }
  return frame;
}

/** A decoded server frame: an object, or null when the text is not a JSON object. */
export function decodeFrame(text: string): Record<string, unknown> | null {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : null;
}
