/**
 * The queue's share of its filesystem: how big `max_bytes: auto` makes the queue, how large
 * the WAL may grow before it is checkpointed, and a reserve file that keeps space for the
 * writes that free space (acks, deletes, checkpoints) when the disk fills.
 *
 * Why a reserve file, and why a small WAL (measured on an 8 MiB tmpfs): in WAL mode a
 * checkpoint copies pages from the WAL into the main file, which must grow to take them
 * while the WAL still holds them. With the default 16 MiB checkpoint interval the whole
 * queue lived in a 7 MiB WAL beside a 4 KiB main file when the disk filled, and no
 * checkpoint, ack or delete could ever be written again: the wedge. So the WAL is
 * checkpointed after a small share of the space, and a reserve file at least twice that
 * size is kept beside the queue. On SQLITE_FULL the reserve is deleted (the checkpoint
 * then fits), the main file is confined to its size (`max_page_count`: new rows reuse
 * the pages of pruned rows, and a checkpoint never needs to grow the file again), and the
 * reserve is written again only once the filesystem has room for it twice over.
 */
import { closeSync, existsSync, fsyncSync, openSync, statfsSync, statSync, truncateSync, unlinkSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;

/** How `max_bytes: auto` and the reserve are sized from the space at start. */
export const DISK_PLAN = {
  /** Share of the queue's space (free space plus its own files) that `auto` gives the rows: the rest is SQLite's overhead (pages, row headers, about a fifth), the WAL, the reserve and the system's own needs. */
  autoShare: 0.5,
  /** `auto` never goes below this (a queue smaller than this can hardly work; start-up warns). */
  autoFloorBytes: 1 * MiB,
  /** Nor above this: a week of a busy gateway's backlog, and a start-up check of a few minutes. */
  autoCapBytes: 4 * GiB,
  /** Share of the space the WAL may fill before a checkpoint. */
  walShare: 0.02,
  /** WAL checkpoint interval bounds, in pages (SQLite's default is 1,000; ours was 4,000). */
  walMinPages: 32,
  walMaxPages: 4000,
  /** The reserve holds two WALs (a checkpoint that must grow the file by a whole WAL, then the deletes that follow it) plus this. */
  reserveExtraBytes: 256 * KiB,
  /** The reserve file is written once the free space falls below this (a disk with more does not fill between two housekeeping ticks). */
  reserveWhenFreeBelow: 1 * GiB,
  /**
   * What the reserve keeps when a full disk spends it: enough to open the file again after a
   * restart on a disk that stayed full (WAL mode needs a 32 KiB -shm file and a few WAL pages
   * before anything is read; measured, the open failed with SQLITE_IOERR_SHMSIZE without it).
   */
  openReserveBytes: 256 * KiB,
  /** Below this much space at start, the start-up log warns. */
  lowSpaceBytes: 32 * MiB,
} as const;

export interface DiskPlan {
  /** Free space of the queue's filesystem plus what the queue's own files hold, at start, in bytes. */
  spaceBytes: number;
  /** What `max_bytes: auto` resolves to, in bytes. */
  autoMaxBytes: number;
  /** WAL checkpoint interval (`wal_autocheckpoint`), in pages. */
  walPages: number;
  /** Size of the reserve file, in bytes. */
  reserveBytes: number;
}

/** The sizes for a queue that may use `spaceBytes` (pure, for tests and `check`). */
export function planDisk(spaceBytes: number, pageSize = 4096): DiskPlan {
  const p = DISK_PLAN;
  const autoMaxBytes = clamp(Math.floor(spaceBytes * p.autoShare), p.autoFloorBytes, p.autoCapBytes);
  const walPages = clamp(Math.floor((spaceBytes * p.walShare) / pageSize), p.walMinPages, p.walMaxPages);
  const reserveBytes = 2 * walPages * (pageSize + 24) + p.reserveExtraBytes + p.openReserveBytes;
  return { spaceBytes, autoMaxBytes, walPages, reserveBytes };
}

/** Free and total bytes of the filesystem holding `path` (its directory when it does not exist); null when unknown. */
export function filesystemSpace(path: string): { freeBytes: number; totalBytes: number } | null {
  let dir = existsSync(path) ? path : dirname(path);
  while (!existsSync(dir) && dirname(dir) !== dir) dir = dirname(dir);
  try {
    const s = statfsSync(dir);
    // bavail, not bfree: what an unprivileged writer may use (root's own 5% stay for the system).
    return { freeBytes: s.bavail * s.bsize, totalBytes: s.blocks * s.bsize };
  } catch {
    return null;
  }
}

/** Bytes of the queue file and its -wal (0 for missing files). */
export function queueFilesBytes(path: string): number {
  let n = 0;
  for (const f of [path, `${path}-wal`]) {
    try {
      n += statSync(f).size;
    } catch {
      // Missing: nothing held.
    }
  }
  return n;
}

/**
 * The warning for a cap the disk cannot hold: a fixed `max_bytes` above the space the queue
 * has (free space plus its own files: the disk would fill before the cap applies), or a
 * queue that gets very little space. Null when fine or when the filesystem cannot be asked.
 */
export function capWarning(path: string, setting: number | 'auto'): string | null {
  const fs = filesystemSpace(path);
  if (fs === null) return null;
  const space = fs.freeBytes + queueFilesBytes(path) + new ReserveFile(path, 0).sizeOnDisk();
  if (setting !== 'auto' && setting > space) {
    return `queue.max_bytes (${setting} bytes) exceeds the space the queue has on its filesystem (${space} bytes free, its own files included): the disk would fill before the cap applies; use max_bytes: auto, or a smaller cap`;
  }
  if (setting === 'auto' && space < DISK_PLAN.lowSpaceBytes) {
    return `the queue's filesystem has little space (${space} bytes free, its own files included): max_bytes auto gives the queue ${planDisk(space).autoMaxBytes} bytes`;
  }
  return null;
}

/** What the queue reports about its disk (status, metrics, health). */
export interface DiskStatus {
  /** Free bytes of the queue's filesystem now (null when unknown). */
  freeBytes: number | null;
  totalBytes: number | null;
  /** True from a write refused for a full disk until space came back (or the queue's own file has room again). */
  full: boolean;
  /** The queue file may not grow (the filesystem was full): new rows reuse the pages of deleted ones. */
  confined: boolean;
  /** The reserve file is in place (false while it is spent on a full disk). */
  reserveHeld: boolean;
  reserveBytes: number;
  /** The byte cap in force (`max_bytes`, as resolved from `auto`). */
  maxBytes: number;
  /** Acks the server gave that wait in memory for the disk (their rows would only be sent again if lost). */
  pendingAcks: number;
  /** Times the disk was found full since start. */
  fullEvents: number;
}

/**
 * The reserve file `<queue>.reserve`. Written with zeros (not sparse), so its blocks are
 * really taken from the filesystem and really given back when it is deleted.
 */
export class ReserveFile {
  readonly path: string;

  constructor(
    queuePath: string,
    readonly bytes: number,
  ) {
    this.path = `${queuePath}.reserve`;
  }

  /** True when the file is there at its full size. */
  held(): boolean {
    return this.bytes > 0 && this.sizeOnDisk() >= this.bytes;
  }

  /** Bytes the file holds now (0 when absent). */
  sizeOnDisk(): number {
    try {
      return statSync(this.path).size;
    } catch {
      return 0;
    }
  }

  /** Writes the file; false (and nothing left behind) when the disk has no room for it. */
  take(): boolean {
    if (this.held()) return true;
    const chunk = Buffer.alloc(Math.min(MiB, this.bytes));
    let fd: number | undefined;
    let ok = false;
    try {
      fd = openSync(this.path, 'w');
      let left = this.bytes;
      // A write short of its length is the disk filling (tmpfs answers so, without ENOSPC).
      while (left > 0) {
        const n = Math.min(chunk.length, left);
        if (writeSync(fd, chunk, 0, n) < n) break;
        left -= n;
      }
      if (left === 0) {
        fsyncSync(fd);
        ok = true;
      }
    } catch {
      // ENOSPC (or EDQUOT): no room yet.
    } finally {
      if (fd !== undefined) closeSync(fd);
    }
    if (!ok) this.release();
    return ok;
  }

  /** Gives the file's space back to the filesystem, all of it or all but `keep` bytes. */
  release(keep = 0): void {
    try {
      if (keep > 0 && this.sizeOnDisk() > keep) truncateSync(this.path, keep);
      else if (keep === 0) unlinkSync(this.path);
    } catch {
      // Already gone.
    }
  }
}

function clamp(v: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, v));
}
