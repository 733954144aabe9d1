/** The dev server's public surface: a FluxionDB-compatible server in memory. */
export { DevServer, MAX_FRAME_BYTES } from './dev-server.js';
export type { DevServerFaults, DevServerOptions } from './dev-server.js';
export { MAX_BUFFERED_RESPONSE_BYTES } from './connection.js';
export type { Int64 } from './numbers.js';
