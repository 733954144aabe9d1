/**
 * A dead letter's payload as a person can read it, safely: UTF-8 text as text, anything
 * else as hex, both cut to a bounded length. The page renders it with textContent, never
 * as HTML, so a payload of `<script>` is shown, not run.
 */
import { isUtf8 } from 'node:buffer';

export interface PayloadPreview {
  /** `text` (valid UTF-8) or `hex`. */
  encoding: 'text' | 'hex';
  /** The preview, at most `maxChars` characters of text or `maxChars / 2` bytes of hex. */
  preview: string;
  /** The payload's size in bytes. */
  bytes: number;
  truncated: boolean;
}

/** Characters shown at most; the whole payload stays in the queue file. */
export const PREVIEW_MAX_CHARS = 2000;

export function previewPayload(payload: Buffer | string | null, maxChars = PREVIEW_MAX_CHARS): PayloadPreview | null {
  if (payload === null) return null;
  const buf = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload;
  if (isUtf8(buf)) {
    const text = buf.toString('utf8');
    return { encoding: 'text', preview: text.slice(0, maxChars), bytes: buf.length, truncated: text.length > maxChars };
  }
  const take = Math.floor(maxChars / 2);
  return { encoding: 'hex', preview: buf.subarray(0, take).toString('hex'), bytes: buf.length, truncated: buf.length > take };
}
