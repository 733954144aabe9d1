// Queue append benchmark: rows/s for single-record and 1,000-record appends (one transaction
// each, synchronous=full and normal), and bytes written to disk per record, measured from
// /proc/self/io (what the kernel was asked to write: WAL, checkpoints and file growth).
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteQueue } from '../dist/queue/index.js';
import { makeRecords, report } from './common.mjs';

function writtenBytes() {
  const m = /write_bytes: (\d+)/.exec(readFileSync('/proc/self/io', 'utf8'));
  return m ? Number(m[1]) : NaN;
}

function run({ synchronous, batch, total }) {
  const dir = mkdtempSync(join(tmpdir(), 'fluxion-bench-append-'));
  const q = new SqliteQueue({ path: join(dir, 'q.db'), synchronous });
  q.start();
  const records = makeRecords(total);
  const w0 = writtenBytes();
  const t0 = performance.now();
  for (let i = 0; i < total; i += batch) q.append(records.slice(i, i + batch));
  const seconds = (performance.now() - t0) / 1000;
  q.stop(); // includes the final checkpoint: the bytes a record really costs the disk
  const written = writtenBytes() - w0;
  rmSync(dir, { recursive: true, force: true });
  return { rowsPerSecond: total / seconds, bytesPerRecord: written / total };
}

export async function main() {
  const single = run({ synchronous: 'full', batch: 1, total: 5_000 });
  const batched = run({ synchronous: 'full', batch: 1000, total: 500_000 });
  const singleNormal = run({ synchronous: 'normal', batch: 1, total: 20_000 });
  const batchedNormal = run({ synchronous: 'normal', batch: 1000, total: 500_000 });
  report('queue-append', {
    'single_full rows/s': single.rowsPerSecond,
    'batched_full rows/s': batched.rowsPerSecond,
    'batched/single_ratio': batched.rowsPerSecond / single.rowsPerSecond,
    'single_normal rows/s': singleNormal.rowsPerSecond,
    'batched_normal rows/s': batchedNormal.rowsPerSecond,
    'disk_bytes/record(batched_full)': batched.bytesPerRecord,
    'disk_bytes/record(single_full)': single.bytesPerRecord,
    'record_payload_bytes': 60,
  });
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
