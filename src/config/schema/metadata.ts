import cron from 'node-cron';
import { z } from 'zod';
import { LIVE_ON_RELOAD } from './reload.js';

const cronExpression = (example: string) =>
  z.string().refine((v) => cron.validate(v), {
    error: `must be a node-cron expression, e.g. "${example}" (five fields, or six with seconds first)`,
  });

const fieldValue = z.unknown().meta({
  description: 'A value: strings as written, numbers and booleans stringified ("42", "true"), lists and maps as JSON. Empty and null values are left out (FluxionDB refuses empty values).',
});

const metadataObject = z
  .strictObject({
    collection: z.string().min(1).default('metadata').meta({
      description:
        'Collection of the key/value pairs. It must not be a collection that holds readings: deleting its last document would delete every key/value with it.',
    }),
    key_template: z
      .string()
      .min(1)
      .refine((v) => v.includes('<device>') && v.includes('<field>'), { error: 'must contain <device> and <field>, e.g. "<device>:<field>"' })
      .default('<device>:<field>')
      .meta({ description: 'Key of a device\'s field: `<device>` and `<field>` are replaced (`device-1:location`). The gateway heartbeat uses it with the gateway id as device.' }),
    devices: z
      .record(z.string().min(1), z.record(z.string().min(1), fieldValue))
      .default({})
      .meta({
        description:
          'Static metadata: `<device>: { <field>: value }`, e.g. `device-1: { location: warehouse-1, model: TH-200 }`. Each field becomes one key/value pair; only changed values are written. Applied live on reload. A key set here and also reported by a device (a `kind: metadata` rule) keeps the value set here: the report of it is ignored and counted as skipped (`check` warns).',
      }),
    prune: z.boolean().default(false).meta({
      description: 'Delete from FluxionDB the keys of fields removed from `devices` (and the heartbeat keys when it is turned off). Off: they stay on the server, untouched.',
    }),
    resync: cronExpression('0 * * * *').default('0 * * * *').meta({
      description:
        'When to compare the collection on the server with what the agent wants and write what differs (e.g. a key edited by hand): a node-cron expression. A resync also runs after every reconnect.',
    }),
    heartbeat: z
      .strictObject({
        enabled: z.boolean().default(true).meta({
          description: 'Write `<gateway>:last_seen`, `:version`, `:queue_depth` and `:oldest_unsent_age_s` to the metadata collection.',
        }),
        schedule: cronExpression('* * * * *').default('* * * * *').meta({ description: 'When to write the heartbeat: a node-cron expression. Default every minute.' }),
      })
      .prefault({})
      .meta({ description: 'Gateway heartbeat keys in the metadata collection.' }),
  });

// Optional rather than defaulted, so that a config without it resolves to the same tree as
// before; the settings then take METADATA_DEFAULTS (metadata sync runs either way).
export const metadataSection = metadataObject.optional().meta({
  ...LIVE_ON_RELOAD,
  description:
    'Device metadata in FluxionDB\'s key/value store: static fields from here, dynamic ones from `kind: metadata` rules, and the gateway heartbeat. Writes go through a durable outbox in the queue file and only changes are sent. Absent: every default below.',
});

/** The section with every default, for a config that has none. */
export const METADATA_DEFAULTS: z.output<typeof metadataObject> = metadataObject.parse({});
