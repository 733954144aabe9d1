import { z } from 'zod';
import { duration } from './units.js';

/** Host-side Sparkplug B settings (`mqtt.sparkplug`); rules opt in with `format: sparkplug_b`. */
export const sparkplugSection = z
  .strictObject({
    primary_host_id: z.string().min(1).regex(/^[^/+#]+$/, { error: 'must be one topic level (no /, + or #)' }).optional().meta({
      description:
        'Sparkplug 3.0 primary host id. The agent then publishes `spBv1.0/STATE/<id>` (retained, `{"online":true,"timestamp":...}` while its queue takes messages, last will `online:false`), so edge nodes configured for this host store and forward while the agent or its disk is down. Absent: no STATE.',
    }),
    rebirth_requests: z.boolean().optional().meta({
      description: 'Publish NCMD `Node Control/Rebirth` to an edge node whose aliases are unknown or whose seq skipped (rate limited per node). Default: true with primary_host_id, else false (the specification leaves rebirth requests to the primary host).',
    }),
    rebirth_interval: duration({ min: 1000 }).prefault('30s').meta({ description: 'Least time between two rebirth requests to one edge node.' }),
    on_unresolved: z.enum(['hold', 'dead_letter']).default('hold').meta({
      description: 'A data message with an unknown alias (or after a seq gap, when rebirths are requested) is filed as a dead letter with its raw payload. `hold`: the agent maps it again by itself once the node\'s next birth is committed. `dead_letter`: it stays for `fluxion-edge dead-letter retry`.',
    }),
    retained_births: z.boolean().default(true).meta({
      description: 'Also subscribe to `$sparkplug/certificates/<filter>`: the retained births that Sparkplug-aware brokers (HiveMQ\'s extension, Mosquitto 2.1) keep, read at start to learn aliases without a rebirth.',
    }),
  })
  .prefault({})
  .meta({ description: 'Sparkplug B host settings, used by `format: sparkplug_b` subscriptions.' });
