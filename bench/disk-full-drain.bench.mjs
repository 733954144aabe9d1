// Full-disk drain benchmark (issue 11 §2): how fast the agent frees its queue when the disk
// is full, against the normal drain rate of the same records in the same run.
// - full: the queue on a 16 MiB tmpfs, filled until the disk refused an append (a cap far
//   above the disk, on_full: block), then the last free bytes taken by a ballast file, as
//   another program would; the agent starts and drains to the dev server (another process).
//   Acks that the disk refuses wait in memory; rows are acked and freed all the same.
// - normal: the same number of records on a roomy tmpfs.
// Reported: records/s freed in each, the ratio full/normal (target: >= 0.5: a full disk may
// cost the drain some speed, never stop it), and how many new readings fit after the drain.
// Needs root (mount); prints a line saying so and exits 0 otherwise.
import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { Agent } from '../dist/agent.js';
import { SqliteQueue } from '../dist/queue/index.js';
import { DEFAULT_SENDER_OPTIONS } from '../dist/sender/types.js';
import { makeRecords, report, startDevServer, timeDrain } from './common.mjs';

const MiB = 1024 * 1024;

function mount(size) {
  const dir = mkdtempSync(join(tmpdir(), 'fluxion-bench-diskfull-'));
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir]);
  return { dir, unmount: () => (execFileSync('umount', ['-l', dir]), rmSync(dir, { recursive: true, force: true })) };
}

function ballast(dir) {
  const fd = openSync(join(dir, 'ballast'), 'w');
  for (const size of [MiB, 65536, 4096, 512]) {
    const chunk = Buffer.alloc(size, 1);
    for (;;) {
      try {
        writeSync(fd, chunk);
      } catch {
        break;
      }
    }
  }
  closeSync(fd);
}

function settings(server, path) {
  return {
    fluxiondb: { url: server.url, apiKey: 'bench-key', requestTimeoutMs: 60_000 },
    queue: { path, synchronous: 'normal', maxBytes: 1e9, onFull: 'block', retainSentMs: 3_600_000 },
    sender: { ...DEFAULT_SENDER_OPTIONS, requestTimeoutMs: 60_000 },
    housekeepingIntervalMs: 1000,
    stopDeadlineMs: 5_000,
  };
}

/** Appends groups of 1,000 (from record number `from`) until `limit` or a refusal; returns how many went in. */
function fill(q, from, limit = Infinity) {
  let n = 0;
  while (n < limit) {
    try {
      n += q.append(makeRecords(1000, from + n, 'diskfull')).accepted;
    } catch {
      break;
    }
  }
  return n;
}

/** Starts an agent on the queue file and times the drain to an empty queue. */
async function drain(s, total) {
  const { rate, status } = await timeDrain(new Agent(s, pino({ level: 'error' })), total);
  return { rate, disk: status.disk };
}

export async function main() {
  if (process.getuid?.() !== 0) {
    console.log('disk-full-drain: skipped (needs root to mount a tmpfs)');
    return;
  }
  const server = await startDevServer();
  const small = mount(16 * MiB);
  const roomy = mount(256 * MiB);
  try {
    // Full: fill the small disk through the queue, then the rest with a ballast file.
    const path = join(small.dir, 'q.db');
    const q = new SqliteQueue(settings(server, path).queue);
    q.start();
    const total = fill(q, 0);
    q.stop();
    ballast(small.dir);
    const full = await drain(settings(server, path), total);
    // Freed: what fits again on the still full disk, as new readings arrive.
    const q2 = new SqliteQueue(settings(server, path).queue);
    q2.start();
    const refill = fill(q2, total, total);
    q2.stop();

    // Normal: the same records on a disk with room.
    const roomyPath = join(roomy.dir, 'q.db');
    const r = new SqliteQueue(settings(server, roomyPath).queue);
    r.start();
    fill(r, 10 * total, total);
    r.stop();
    const normal = await drain(settings(server, roomyPath), total);

    report('disk-full-drain', {
      records: total,
      'normal_drain records/s': normal.rate,
      'full_disk_drain records/s': full.rate,
      'full/normal_ratio': full.rate / normal.rate,
      target: '>=0.5',
      'disk_full_seen': full.disk?.fullEvents > 0 || full.disk?.full === true ? 'yes' : 'no',
      'refilled_after_drain': refill,
    });
  } finally {
    await server.stop();
    small.unmount();
    roomy.unmount();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
