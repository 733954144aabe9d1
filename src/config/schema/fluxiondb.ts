import { z } from 'zod';
import { tlsSection } from './tls.js';
import { duration, size } from './units.js';

/** The server refuses frames above 16 MiB and closes the socket. */
const SERVER_FRAME_LIMIT = 16 * 1024 * 1024;

export const fluxiondbSection = z
  .strictObject({
    url: z
      .string()
      .regex(/^wss?:\/\/[^/?#\s]+/i, { error: 'must be a ws:// or wss:// URL, e.g. ws://db.example:8080' })
      .meta({ description: 'FluxionDB server, `ws://` or `wss://`; it may carry its own query string. Required.' }),
    api_key: z.string().min(1).optional().meta({
      description: 'API key (read_write scope or more). Prefer `api_key_file`, or `${FLUXION_API_KEY}` from the environment. Exactly one of api_key and api_key_file.',
      'x-secret': true,
    }),
    api_key_file: z.string().min(1).optional().meta({
      description: 'File holding the API key (trailing newlines ignored), readable by the service user only. Relative paths are relative to the config file.',
    }),
    connection_name: z.string().min(1).optional().meta({
      description: 'Label the server shows for this connection. Default: `fluxion-edge-<gateway.id>`.',
    }),
    request_timeout: duration({ min: 1 }).prefault('15s').meta({
      description: 'Time allowed for the answer to one request other than a batch insert (see sender.request_timeout).',
    }),
    connect_timeout: duration({ min: 1 }).prefault('10s').meta({
      description: 'Time allowed to open the socket and receive the server\'s `ready`.',
    }),
    max_frame_bytes: size({ min: 1024, max: SERVER_FRAME_LIMIT }).prefault('8MiB').meta({
      description: 'Largest request frame the agent sends (the server closes the socket above 16 MiB).',
    }),
    compression: z.boolean().default(true).meta({
      description: 'Compress request frames (WebSocket permessage-deflate, each frame alone, as the server negotiates it). Measured on realistic readings: a batch of 1,000 goes on the wire at about 0.07 of its size (15 bytes a reading instead of 235), one reading alone at about 0.65; it costs the agent about 0.4 us of CPU per reading and the drain rate nothing. The server never compresses its answers. On by default: most gateways pay for their uplink; `false` on a LAN saves that CPU.',
    }),
    tls: tlsSection('FluxionDB server', 'wss://'),
  })
  .meta({ description: 'How the agent reaches FluxionDB. Required.' });
