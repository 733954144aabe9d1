import { z } from 'zod';
import { duration, int } from './units.js';

export const healthSection = z
  .strictObject({
    enabled: z.boolean().default(false).meta({
      description:
        'Serve `/healthz`, `/metrics` (Prometheus) and `/status` over HTTP. Off by default: a port nobody asked for is a port that can collide. `fluxion-edge status` shows live state (inputs, send rate, last error) only when it is on.',
    }),
    host: z.string().min(1).default('127.0.0.1').meta({
      description: 'Address to bind. Keep 127.0.0.1 unless a scraper on another host needs it: the endpoint has no authentication.',
    }),
    port: int(1, 65535).default(9464).meta({ description: 'TCP port of the endpoint.' }),
    stale_after: duration({ min: 1000 }).prefault('60s').meta({
      description:
        'With readings queued, the agent is unhealthy (`/healthz` 503) when no batch was acknowledged for this long. The systemd watchdog is not pinged only when the sender is connected all that time (a wedged pipeline, which a restart cures); while FluxionDB, the broker or the key is down it goes on being pinged, since a restart cannot bring them back (the agent queues and retries).',
    }),
  })
  .prefault({})
  .meta({ description: 'Health check, metrics and live status over HTTP. `stale_after` also decides when the systemd watchdog stops being pinged (a wedged pipeline only).' });
