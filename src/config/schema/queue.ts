import { z } from 'zod';
import { duration, int, size, sizeOrAuto } from './units.js';

export const queueSection = z
  .strictObject({
    path: z.string().min(1).default('/var/lib/fluxion-edge/queue.db').meta({
      description: 'SQLite file of the queue (its directory is created if missing). Relative paths are relative to the config file.',
    }),
    synchronous: z.enum(['full', 'normal', 'off']).default('full').meta({
      description:
        'How hard a commit waits for the disk. `full`: every commit is fsynced, so a committed reading survives a power loss (cost: one fsync per commit, 1-20 ms on SD cards, shared by a group of readings). `normal`: fsync at checkpoints only; the file never corrupts, but a power loss can lose the last commits (an agent crash loses nothing). `off`: no fsync; a power loss can corrupt the file (tests and tmpfs only).',
    }),
    max_bytes: sizeOrAuto({ min: 1 }).prefault('auto').meta({
      description:
        'Cap on the bytes the queued readings (unsent plus retained sent ones) take on disk. When reached, `on_full` applies. A recent reading counts its size (collection, document and data lengths + 16 bytes); once compaction has stored it in a compressed block with its neighbours (docs/queue-blocks.md), it counts its share of the block\'s size, about 10-13 bytes for a small reading such as `{"temperature":21.5,"humidity":40.2}` instead of about 70. `auto`: half of the space the queue\'s filesystem has at start (free space plus the queue\'s own files), at least 1 MiB and at most 4 GiB; the rest is left for SQLite\'s page overhead, the WAL, a small reserve file (`<path>.reserve`) and the system. A fixed cap above the free space draws a warning from `check` and at start.',
    }),
    max_rows: int(1).default(250_000_000).meta({
      description:
        'Cap on the number of queued readings (unsent plus retained sent ones). The default leaves room for about three days of a 1,000-device site reporting once a second (86.4 million readings a day), so that `max_bytes` is the cap that binds; nothing in the agent\'s memory grows with the readings queued.',
    }),
    // '0', not 0: zod's JSON Schema output drops a falsy prefault.
    max_age: duration().prefault('0').meta({
      description: 'Unsent readings older than this are dropped (0: never). Ages come from the wall clock, so a gateway that boots in 1970 and then syncs NTP would see old readings: the byte and row caps bound the disk anyway.',
    }),
    on_full: z.enum(['drop_oldest', 'drop_newest', 'block']).default('drop_oldest').meta({
      description: 'When a cap is reached, or the disk is full (after retained sent rows were pruned): `drop_oldest` evicts the oldest unsent readings, `drop_newest` refuses new ones, `block` holds inputs back (MQTT acknowledgements wait, so the broker keeps the messages; serial lines that cannot wait are counted as dropped, reason `disk_full` on a full disk; a commit group larger than a cap is taken once the queue is empty).',
    }),
    retain_sent: duration().prefault('24h').meta({
      description: 'How long sent readings are kept for replay and for the resend after a reconnect (an ack from FluxionDB is not yet durable).',
    }),
    retain_sent_bytes: size().optional().meta({
      description: 'Cap on the bytes retained sent readings take on disk (counted as for `max_bytes`). Default: 25% of max_bytes.',
    }),
    dead_letter_max_rows: int(1).default(100_000).meta({
      description: 'Cap on stored dead letters (readings that could not be mapped or sent); the oldest are purged first.',
    }),
    max_file_bytes: size({ min: 1 }).optional().meta({
      description: 'Hard ceiling on the SQLite file size; a write beyond it fails like a full disk. Default: none. Useful to keep a shared partition\'s last bytes free.',
    }),
    startup_check: z.enum(['quick', 'off']).default('quick').meta({
      description: '`quick`: check the file at start (PRAGMA quick_check, seconds per GiB on SD cards) and move a corrupt file aside. `off`: skip the check.',
    }),
    stage_flush: duration().prefault('5s').meta({
      description:
        'While no reading is being sent (FluxionDB unreachable), commit groups are written to a staging log beside the queue file (`<path>-stage`, one 4 KiB page per group of up to 20 readings, fsynced as `synchronous` says) and moved into the queue file at most this often, as one transaction: fewer bytes written to flash (docs/flash-wear.md). Also moved before any read of queued rows and at stop. `0`: every commit goes straight to the queue file. `status` beside a running agent sees staged readings once they are moved.',
    }),
  })
  .prefault({})
  .meta({ description: 'The local SQLite queue every reading is committed to before it is sent.' });
