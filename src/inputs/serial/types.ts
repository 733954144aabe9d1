/** Options of one serial port input (camelCase; the config layer maps each `serial:` entry onto them). */
import type { InputStatus } from '../types.js';

export type SerialParity = 'none' | 'even' | 'odd' | 'mark' | 'space';
export type SerialFlowControl = 'none' | 'rts_cts' | 'xon_xoff';

/** Baud rates the port accepts: the standard POSIX and common higher ones. */
export const STANDARD_BAUD_RATES = [
  50, 75, 110, 134, 150, 200, 300, 600, 1200, 1800, 2400, 4800, 9600, 19200, 38400, 57600, 115200, 230400, 460800, 500000,
  576000, 921600, 1000000, 1152000, 1500000, 2000000, 2500000, 3000000, 3500000, 4000000,
] as const;

export interface SerialPortOptions {
  /** Port name: what rules match with `port`, and the dead letters' origin. */
  name: string;
  /**
   * Device path. Prefer `/dev/serial/by-id/...`: `/dev/ttyUSB0` may name another adapter
   * after a re-plug or a reboot (USB re-enumeration).
   */
  path: string;
  /** Baud rate, one of STANDARD_BAUD_RATES. Default 9600. */
  baudRate: number;
  /** Data bits, 5-8. Default 8. */
  dataBits: 5 | 6 | 7 | 8;
  /** Default `none`. */
  parity: SerialParity;
  /** Stop bits. Default 1. */
  stopBits: 1 | 1.5 | 2;
  /** `rts_cts` (hardware) or `xon_xoff` (software) flow control. Default `none`. */
  flowControl: SerialFlowControl;
  /**
   * Text that ends a line. Default `"\n"`. `"\n"`, `"\r"` and `"\r\n"` are CR/LF tolerant:
   * any CR or LF ends a line, empty lines are skipped. Ignored when `frameRegex` is set.
   */
  delimiter: string;
  /**
   * Frames are the matches of this JavaScript regex in the byte stream (read as latin1), e.g.
   * `\$[^\r\n$]*\*[0-9A-F]{2}`. It must match a whole frame, end marker included: a match is
   * taken as soon as it is seen. Non-blank bytes between matches are dead-lettered.
   */
  frameRegex?: string;
  /** Longest line, in bytes: a longer one is dead-lettered (its first bytes kept), never buffered further. Default 4096. */
  maxLineBytes: number;
  /** How line bytes become text: `utf8` (invalid sequences rejected by the mapping) or `latin1`. Default `utf8`. */
  encoding: 'utf8' | 'latin1';
  /** Ceiling of the first (jittered) delay before reopening a vanished or absent port, in ms; doubled per failed attempt. Default 200. */
  reopenBaseMs: number;
  /** Largest ceiling of the reopen delay, in ms. Default 5000. */
  reopenCapMs: number;
  /**
   * Lines read within this time of the first one are committed together (one fsync), in ms.
   * A group also closes at 1000 lines. Default 250 (the loss window of a crash).
   */
  commitDelayMs: number;
  /** Request/response devices: a command written on a schedule. */
  poll?: SerialPollOptions;
}

export interface SerialPollOptions {
  /** Bytes written to the port (as text in `encoding`), e.g. `"READ\r\n"`. */
  command: string;
  /** node-cron expression; six fields for seconds, e.g. `*\/10 * * * * *` for every 10 s. */
  schedule: string;
  /** A poll not followed by a line within this time is counted as missed, in ms. Default 2000. */
  responseTimeoutMs: number;
}

/** A serial input's status: the common fields plus its port's. */
export interface SerialInputStatus extends InputStatus {
  port: string;
  path: string;
  /** `open`, `waiting` (for the device to appear or come back) or `closed` (stopped). */
  portState: 'open' | 'waiting' | 'closed';
  /** Lines read (framed, or rejected by the framer) since start. */
  linesRead: number;
  /** Lines dead-lettered: by the framer (too long, outside any frame, cut by a disconnect) or by the mapping. */
  linesRejected: number;
  lastLineAt: number | null;
  /** Times the port was opened again after vanishing. */
  reopens: number;
  /** Present when the port is polled. */
  polls?: { sent: number; answered: number; timeouts: number; skipped: number };
}
