import { z } from 'zod';
import { LIVE_ON_RELOAD } from './reload.js';

export const gatewaySection = z
  .strictObject({
    id: z.string().min(1).regex(/^[A-Za-z0-9._-]+$/, { error: 'must be letters, digits, ".", "_" or "-"' }).optional().meta({
      description:
        'Name of this gateway, used in the default FluxionDB connection name and MQTT client id. Default: the machine\'s hostname.',
    }),
  })
  .prefault({})
  .meta({ description: 'Identity of this gateway.' });

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

export const logSection = z
  .strictObject({
    level: z.enum(LOG_LEVELS).default('info').meta({
      description: 'Least severe level written (JSON lines on stdout). `debug` and `trace` are verbose: avoid them on SD cards for long.',
    }),
  })
  .prefault({})
  .meta({ ...LIVE_ON_RELOAD, description: 'Logging.' });
