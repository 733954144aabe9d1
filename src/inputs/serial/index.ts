/**
 * The serial input: one SerialInput per configured port, lines framed and handed to a
 * MessageSink in small groups; ports that vanish are reopened until they are back.
 */
export { SerialInput, type SerialInputDeps } from './serial-input.js';
export { LineFramer, type FrameSink, type LineFramerOptions } from './line-framer.js';
export {
  STANDARD_BAUD_RATES,
  type SerialFlowControl,
  type SerialInputStatus,
  type SerialParity,
  type SerialPollOptions,
  type SerialPortOptions,
} from './types.js';
