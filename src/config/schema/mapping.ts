import { z } from 'zod';
import { MAPPING_DEFAULTS, type MappingOptions } from '../../mapping/types.js';
import { instant, int, size } from './units.js';
import { LIVE_ON_RELOAD } from './reload.js';

const TS_UNITS_OUT = ['s', 'ms', 'us'] as const;

export const mappingSection = z
  .strictObject({
    max_payload_bytes: size({ min: 1 }).prefault('256KiB').meta({
      description: 'Larger payloads are rejected (`too_large`, dead-lettered) before any parsing.',
    }),
    timestamp_floor: instant().prefault('2020-01-01T00:00:00Z').meta({
      description: 'Earliest believable reading time: an ISO 8601 date-time or ms since the epoch. Gateways without a clock battery boot in 1970.',
    }),
    on_bad_timestamp: z.enum(['receive_time', 'dead_letter']).default(MAPPING_DEFAULTS.on_bad_timestamp).meta({
      description: 'A payload timestamp before the floor: `receive_time` uses the receive time instead, `dead_letter` rejects the message. Counted either way.',
    }),
    on_collision: z.enum(['bump', 'keep']).default(MAPPING_DEFAULTS.on_collision).meta({
      description: 'Two readings of one document with the same timestamp and different data: `bump` gives the later one the next free timestamp (+1 in the output unit; a reading stamped with its receive time moves, never one with its own timestamp), `keep` lets the server overwrite the first. Counted either way. The same data again (a QoS 1 redelivery, a device republishing) is a duplicate: written again at the same timestamp, counted, never bumped.',
    }),
    collision_memory: int(1).default(MAPPING_DEFAULTS.collision_memory).meta({
      description: 'How many documents the collision guard remembers (least recently used out).',
    }),
    ts_unit_out: z.enum(TS_UNITS_OUT).default(MAPPING_DEFAULTS.ts_unit_out).meta({
      description: 'Unit of the timestamps written to FluxionDB: s, ms or us.',
    }),
    collections: z
      .record(
        z.string().min(1),
        z.strictObject({
          ts_unit_out: z.enum(TS_UNITS_OUT).optional().meta({ description: 'Unit of the timestamps written to this collection. Default: mapping.ts_unit_out.' }),
        }),
      )
      .optional()
      .meta({ description: 'Per-collection settings, keyed by collection name.' }),
  })
  .prefault({})
  .meta({ ...LIVE_ON_RELOAD, description: 'Options of the mapping engine, shared by every rule.' });

/** Compile-time proof that the validated section is a MappingOptions (the engine's own type). */
export type MappingOptionsConform = Conforms<z.output<typeof mappingSection>, MappingOptions>;
type Conforms<A extends B, B> = A;
