/**
 * A real filesystem that fills: a small tmpfs mounted for one test (needs root; CI runs as
 * root), and a ballast file that takes whatever space is left, as another program on the
 * gateway would.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, openSync, rmSync, statfsSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from './tmp.js';

/** Mounting needs root: tests that need it are skipped otherwise, with this reason in their name. */
export const IS_ROOT = process.getuid?.() === 0;
export const NEEDS_ROOT = 'needs root to mount a tmpfs; skipped when not root, CI runs as root';

export interface Tmpfs {
  path: string;
  /** Free bytes now. */
  free(): number;
  /** Fills the filesystem with a ballast file until the disk refuses a byte more; returns its size. */
  fill(name?: string): number;
  /** Deletes a ballast file: the space returns. */
  release(name?: string): void;
  unmount(): void;
}

export function mountTmpfs(sizeBytes: number): Tmpfs {
  const dir = tempDir('fluxion-edge-tmpfs-');
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeBytes}`, 'tmpfs', dir.path]);
  const free = (): number => {
    const s = statfsSync(dir.path);
    return s.bavail * s.bsize;
  };
  return {
    path: dir.path,
    free,
    fill(name = 'ballast') {
      const fd = openSync(join(dir.path, name), 'w');
      let written = 0;
      try {
        for (const size of [1024 * 1024, 64 * 1024, 4096, 512]) {
          const chunk = Buffer.alloc(size, 1);
          for (;;) {
            try {
              written += writeSync(fd, chunk);
            } catch {
              break;
            }
          }
        }
      } finally {
        closeSync(fd);
      }
      return written;
    },
    release(name = 'ballast') {
      unlinkSync(join(dir.path, name));
    },
    unmount() {
      try {
        execFileSync('umount', ['-l', dir.path]);
      } finally {
        rmSync(dir.path, { recursive: true, force: true });
      }
    },
  };
}
