import { z } from 'zod';
import { duration, int, size } from './units.js';

export const senderSection = z
  .strictObject({
    batch_max_records: int(1).default(1000).meta({ description: 'Most readings in one insert request.' }),
    batch_max_bytes: size({ min: 1 }).prefault('1MiB').meta({
      description: 'Most bytes of readings in one insert request, uncompressed (approximate; must stay below fluxiondb.max_frame_bytes). With compression the server\'s 16 MiB limit applies to the inflated frame, which this bounds.',
    }),
    linger: duration().prefault('20ms').meta({
      description: 'How long a partial batch waits for more readings when traffic is light.',
    }),
    window: int(1).default(8).meta({
      description:
        'Batches in flight at once on the connection. 8 keeps the server busy through the agent\'s own pauses in a replay (with live readings arriving, 4 left it waiting: see docs/queue-blocks.md).',
    }),
    request_timeout: duration({ min: 1 }).prefault('15s').meta({
      description: 'Time allowed for the server\'s ack of one batch; after it the batch is sent again.',
    }),
    backoff: z
      .strictObject({
        base: duration({ min: 1 }).prefault('500ms').meta({ description: 'First reconnect delay ceiling (full jitter).' }),
        cap: duration({ min: 1 }).prefault('30s').meta({ description: 'Largest reconnect delay ceiling.' }),
        reset_after: duration().prefault('60s').meta({ description: 'A connection that stayed up this long resets the backoff.' }),
      })
      .prefault({})
      .meta({ description: 'Reconnection to FluxionDB: exponential backoff with full jitter.' }),
    auth_retry: duration({ min: 1 }).prefault('60s').meta({
      description: 'Delay between retries after the server refused the API key or its scope.',
    }),
    max_records_per_second: int(0).default(0).meta({
      description: 'Cap on readings sent per second, to pace a replay after a long outage (0: no cap).',
    }),
    max_bytes_per_second: size().prefault(0).meta({
      description: 'Cap on the uplink: bytes per second on the wire to FluxionDB (after compression, as the socket counts them, WebSocket framing included; 0: no cap). Live readings go before a backlog within it (order: live_first). `status` and `/metrics` show the bytes sent in the last hour and day and per reading. A size such as "2KiB" (per second).',
    }),
    order: z.enum(['live_first', 'oldest_first']).default('live_first').meta({
      description: '`live_first` sends fresh readings ahead of a backlog (dashboards stay live during a replay); `oldest_first` drains strictly in order.',
    }),
    resend_after_reconnect: duration().prefault('30s').meta({
      description: 'After a reconnect where the server no longer holds the newest ack (it may have crashed before writing it to disk; it writes every 15 s), send again what was acked this long before the last ack preceding the lost link, however long the outage lasted (0: never).',
    }),
    stop_deadline: duration().prefault('10s').meta({
      description: 'How long a stop waits for batches in flight before giving up (they stay queued and are sent after the restart).',
    }),
    housekeeping_interval: duration({ min: 100 }).prefault('10s').meta({
      description: 'How often the queue prunes retained sent readings and aged readings.',
    }),
  })
  .prefault({})
  .meta({ description: 'How queued readings are sent to FluxionDB.' });
