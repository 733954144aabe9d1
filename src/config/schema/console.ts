import { z } from 'zod';
import { duration } from './units.js';

export const consoleSection = z
  .strictObject({
    enabled: z.boolean().default(false).meta({
      description:
        'Serve the web console (`/console/`) on the health endpoint\'s listener (needs `health.enabled: true`). Off by default. On a loopback `health.host` it needs no token; on any other address `token_file` is required and the agent refuses to start without it.',
    }),
    token_file: z.string().min(1).optional().meta({
      description:
        'File holding the console\'s access token (one line, at least 16 characters; chmod 600). When set, every console page and API call other than static assets needs it: a login form sets a session cookie, scripts send `Authorization: Bearer <token>`. `/status` then needs it too; `/healthz` and `/metrics` stay open. Required when `health.host` is not a loopback address. Default: none.',
    }),
    sample_interval: duration({ min: 1000, max: 60_000 }).prefault('5s').meta({
      description: 'How often the console samples the counters for its one-hour charts (kept in memory: 3,600 s / interval points). Default 5s.',
    }),
    session_ttl: duration({ min: 60_000 }).prefault('12h').meta({
      description: 'How long a console login lasts without use before the session cookie expires. Default 12h.',
    }),
  })
  .prefault({})
  .meta({ description: 'The local web console: pipeline overview, dead letters, mapping playground, metadata and configuration, in a browser.' });
