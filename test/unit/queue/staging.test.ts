import { copyFileSync, existsSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { SqliteQueue } from '../../../src/queue/index.js';
import { STAGE_PAGE, StageLog, decodeStageRecords, encodeStageRecord } from '../../../src/queue/stage-log.js';
import { queueFixture } from '../../helpers/queue.js';

const rec = (i: number) => ({ col: 'c', doc: `d${i % 10}`, ts: 1000 + i, data: `{"temperature":${i},"humidity":40.2}` });
const line = (i: number) => JSON.stringify({ ts: 1000 + i, doc: `d${i % 10}`, data: `{"temperature":${i}}`, col: 'c' });
const range = (from: number, n: number) => Array.from({ length: n }, (_, k) => from + k);
const group = (from: number, n = 20) => range(from, n).map(rec);

/** Readings (by number) leased and acked from `q`, in order. */
function drain(q: SqliteQueue): number[] {
  const out: number[] = [];
  for (let l = q.lease({ maxRecords: 700, maxBytes: 1e9 }); l !== null; l = q.lease({ maxRecords: 700, maxBytes: 1e9 })) {
    out.push(...l.records.map((r) => r.ts - 1000));
    q.ack(l);
  }
  return out;
}

const inFile = (q: SqliteQueue) =>
  q.database.prepare('SELECT (SELECT count(*) FROM records) + (SELECT coalesce(sum(n), 0) FROM blocks)').pluck().get() as number;

describe('the staging log file', () => {
  const f = queueFixture();

  it('writes one record per group at page-aligned offsets when synced, reads them back, deflates what would not fit a page', () => {
    const path = join(f.dir.path, 'x-stage');
    const log = new StageLog(path, true);
    expect(log.open()).toEqual([]);
    const a = { fileId: 7, firstId: 1, enqueuedAt: 5, lines: range(0, 20).map(line) };
    const b = { fileId: 7, firstId: 21, enqueuedAt: 6, lines: range(20, 200).map(line) };
    expect(log.append(a)).toBeLessThanOrEqual(STAGE_PAGE);
    expect(log.append(b)).toBeLessThanOrEqual(STAGE_PAGE); // 200 lines deflated into one page
    expect(log.bytes).toBe(2 * STAGE_PAGE);
    expect(statSync(path).size).toBeLessThanOrEqual(2 * STAGE_PAGE);
    log.close();
    const again = new StageLog(path, true);
    expect(again.open()).toEqual([a, b]);
    again.close();
  });

  it('ignores a torn or corrupt tail record and everything after it', () => {
    const recs = [0, 1, 2].map((k) => ({ fileId: 7, firstId: 1 + 20 * k, enqueuedAt: k, lines: range(20 * k, 20).map(line) }));
    const bytes = Buffer.concat(recs.map((r) => {
      const { buf, slot } = encodeStageRecord(r, 8);
      return Buffer.concat([buf, Buffer.alloc(slot - buf.length)]);
    }));
    expect(decodeStageRecords(bytes)).toEqual(recs);
    expect(decodeStageRecords(bytes.subarray(0, bytes.length - 30))).toEqual(recs.slice(0, 2)); // short
    const flipped = Buffer.from(bytes);
    const second = encodeStageRecord(recs[0]!, 8).slot;
    flipped[second + 100]! ^= 0xff; // crc mismatch in the second record
    expect(decodeStageRecords(flipped)).toEqual(recs.slice(0, 1));
    expect(decodeStageRecords(Buffer.alloc(4096))).toEqual([]);
  });
});

describe('SqliteQueue with the staging log', () => {
  const f = queueFixture();
  const path = () => join(f.dir.path, 'q.db');
  const open = (o = {}) => f.open({ synchronous: 'full', ...o });

  /** The queue's files as a SIGKILL at this instant would leave them (the writes are synchronous). */
  function snapshot(to: string): string {
    for (const s of ['', '-wal', '-stage']) if (existsSync(path() + s)) copyFileSync(path() + s, to + s);
    return to;
  }

  it('stages groups while nobody leases, counts them at once, and moves them into the file as blocks before a read', () => {
    const q = open();
    for (let i = 0; i < 100; i += 20) q.append(group(i));
    expect(inFile(q)).toBe(0);
    // One page a group, in a file given its size once (zeros).
    const log = readFileSync(path() + '-stage');
    expect(decodeStageRecords(log).map((r) => r.firstId)).toEqual([1, 21, 41, 61, 81]);
    expect(log.subarray(4 * STAGE_PAGE).findIndex((b) => b !== 0)).toBeLessThan(STAGE_PAGE);
    expect(q.stats()).toMatchObject({ depth: 100, appended: 100, newestId: 100, oldestUnsentEnqueuedAt: 1_000_000 });
    q.prune(); // housekeeping flushes
    expect(inFile(q)).toBe(100);
    expect(q.database.prepare('SELECT count(*) FROM blocks').pluck().get()).toBe(1);
    expect(q.stats()).toMatchObject({ depth: 100, appended: 100 });
    // A lease flushes too, and for a while appends go straight to SQLite (their rows leave soon).
    q.append(group(100));
    expect(drain(q)).toEqual(range(0, 120));
    q.append(group(120));
    expect(inFile(q)).toBe(140);
    expect(drain(q)).toEqual(range(120, 20));
  });

  it('recovers staged groups after a crash: each reading once, counters as if appended to the file', () => {
    const q = open();
    for (let i = 0; i < 60; i += 20) q.append(group(i));
    q.prune(); // 60 in the file
    for (let i = 60; i < 200; i += 20) q.append(group(i));
    const before = q.stats();
    const crashed = snapshot(join(f.dir.path, 'crash.db'));
    const r = f.open({ path: crashed, synchronous: 'full' });
    expect(r.stats()).toMatchObject({ depth: 200, appended: 200, bytes: before.bytes, newestId: 200 });
    expect(inFile(r)).toBe(200);
    r.stop();
    const again = f.open({ path: crashed, synchronous: 'full' }); // nothing recovered twice
    expect(again.stats()).toMatchObject({ depth: 200, appended: 200, newestId: 200 });
    expect(drain(again)).toEqual(range(0, 200));
    // Ids go on above the recovered ones.
    again.append(group(200));
    expect(again.newestId()).toBe(220);
  });

  it('skips records whose ids the file already holds (a crash between a flush and the rewind)', () => {
    const q = open();
    for (let i = 0; i < 100; i += 20) q.append(group(i));
    const stage = readFileSync(path() + '-stage'); // the log before the flush
    q.prune();
    for (let i = 100; i < 140; i += 20) q.append(group(i)); // rewound: these overwrite pages 1-2
    const crashed = snapshot(join(f.dir.path, 'crash.db'));
    // The old log with the new groups on its first pages: old records 3-5 hold ids the file has.
    const now = readFileSync(crashed + '-stage');
    writeFileSync(crashed + '-stage', Buffer.concat([now, stage.subarray(now.length)]));
    const r = f.open({ path: crashed, synchronous: 'full' });
    expect(r.stats()).toMatchObject({ depth: 140, appended: 140, newestId: 140 });
    expect(drain(r)).toEqual(range(0, 140));
  });

  it('drops a torn last group at recovery (never acknowledged) and keeps the ones before it', () => {
    const q = open();
    for (let i = 0; i < 100; i += 20) q.append(group(i));
    const crashed = snapshot(join(f.dir.path, 'crash.db'));
    truncateSync(crashed + '-stage', 4 * STAGE_PAGE + 100);
    const r = f.open({ path: crashed, synchronous: 'full' });
    expect(r.stats()).toMatchObject({ depth: 80, appended: 80, newestId: 80 });
    expect(drain(r)).toEqual(range(0, 80));
  });

  it('keeps meta free of staged rows: a crash after another transaction counts nothing twice', () => {
    const q = open();
    for (let i = 0; i < 40; i += 20) q.append(group(i));
    q.noteDropped('disk_full', 1); // written with the next transaction
    const l = q.lease({ maxRecords: 10, maxBytes: 1e9 })!; // flushes: 40 in the file
    q.ack(l);
    // While the sender leases appends go to SQLite; once it stops (5 s), they are staged again.
    f.clock += 6000;
    q.append(group(40));
    q.deadLetter({ reason: 'bad', source: 'mqtt', origin: 't', payload: 'p' }); // flushes first
    q.append(group(60));
    const crashed = snapshot(join(f.dir.path, 'crash.db'));
    const r = f.open({ path: crashed, synchronous: 'full' });
    expect(r.stats()).toMatchObject({ depth: 70, appended: 80, sent: 10, deadLetterDepth: 1, droppedByReason: { disk_full: 1 } });
    expect(drain(r)).toEqual(range(10, 70));
  });

  it('never replays a log into another file (the queue file deleted or replaced): moves it aside', () => {
    const q = open();
    q.append(group(0));
    const crashed = snapshot(join(f.dir.path, 'crash.db'));
    for (const s of ['', '-wal']) rmSync(crashed + s, { force: true });
    const r = f.open({ path: crashed, synchronous: 'full' });
    expect(r.stats()).toMatchObject({ depth: 0, appended: 0 });
    const aside = readdirSync(f.dir.path).filter((n) => n.startsWith('crash.db-stage.orphan-'));
    expect(aside).toHaveLength(1);
    expect(decodeStageRecords(readFileSync(join(f.dir.path, aside[0]!))).map((x) => x.firstId)).toEqual([1]);
    r.append(group(20));
    r.stop();
    const again = f.open({ path: crashed, synchronous: 'full' });
    expect(drain(again)).toEqual(range(20, 20));
  });

  it('stage_flush 0 appends straight to SQLite, and still recovers a log left by a crash', () => {
    const q = open();
    q.append(group(0));
    const crashed = snapshot(join(f.dir.path, 'crash.db'));
    const r = f.open({ path: crashed, synchronous: 'full', stageFlushMs: 0 });
    expect(r.stats()).toMatchObject({ depth: 20, appended: 20 });
    r.append(group(20));
    expect(inFile(r)).toBe(40);
    expect(drain(r)).toEqual(range(0, 40));
  });
});

describe('SqliteQueue when the staging log or the flush fails', () => {
  const f = queueFixture();
  const path = () => join(f.dir.path, 'q.db');

  it.skipIf(!existsSync('/dev/full'))('a log the disk refuses (ENOSPC, /dev/full): groups go straight to SQLite, none lost', () => {
    symlinkSync('/dev/full', `${path()}-stage`);
    const q = f.open({ synchronous: 'full' });
    for (let i = 0; i < 100; i += 20) expect(q.append(group(i))).toMatchObject({ accepted: 20 });
    expect(inFile(q)).toBe(100);
    expect(q.stats()).toMatchObject({ depth: 100, appended: 100 });
    expect(drain(q)).toEqual(range(0, 100));
  });

  it('a flush SQLite refuses keeps the staged rows; appends are refused meanwhile, and everything is there once it works', () => {
    const q = f.open({ synchronous: 'full' });
    for (let i = 0; i < 60; i += 20) q.append(group(i));
    // A flush of a few rows stores rows, a larger one blocks: both refused.
    q.database.exec("CREATE TEMP TRIGGER fail BEFORE INSERT ON blocks BEGIN SELECT RAISE(ABORT, 'refused'); END");
    q.database.exec("CREATE TEMP TRIGGER fail_rows BEFORE INSERT ON records BEGIN SELECT RAISE(ABORT, 'refused'); END");
    expect(q.prune()).toMatchObject({ droppedMaxAge: 0 }); // the flush fails quietly
    expect(inFile(q)).toBe(0);
    expect(() => q.append(group(60))).toThrow(expect.objectContaining({ code: expect.stringMatching(/^EDGE_ERR_QUEUE/) }));
    expect(q.lease({ maxRecords: 100, maxBytes: 1e9 })).toBeNull(); // nothing in the file to send yet
    expect(q.stats()).toMatchObject({ depth: 60, appended: 60, newestId: 60 });
    q.database.exec('DROP TRIGGER fail');
    q.database.exec('DROP TRIGGER fail_rows');
    expect(q.append(group(60))).toMatchObject({ accepted: 20 });
    expect(inFile(q)).toBe(80);
    expect(q.stats()).toMatchObject({ depth: 80, appended: 80, newestId: 80 });
    expect(drain(q)).toEqual(range(0, 80));
  });
});
