import { existsSync, openSync, readFileSync, writeFileSync, writeSync, closeSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  QUEUE_MIGRATIONS,
  SqliteQueue,
  openQueueReadOnly,
  type CorruptFileInfo,
  type QueueMigration,
  type QueueOptions,
} from '../../src/queue/index.js';
import { isAgentError } from '../../src/errors.js';
import { tempDir } from '../helpers/tmp.js';

/** The schema version this build creates. */
const LATEST = QUEUE_MIGRATIONS[QUEUE_MIGRATIONS.length - 1]!.version;

const rec = (i: number, size = 10) => ({ col: 'c', doc: 'd', ts: i, data: 'x'.repeat(size) });

describe('queue file durability', () => {
  let dir: ReturnType<typeof tempDir>;
  let path: string;
  let clock: number;
  let toStop: Array<{ stop(): void } | { close(): void }>;
  const open = (opts: Partial<QueueOptions> = {}) => {
    const q = new SqliteQueue({ path, synchronous: 'off', ...opts }, { now: () => clock });
    toStop.push(q);
    return q;
  };

  beforeEach(() => {
    dir = tempDir();
    path = join(dir.path, 'sub', 'queue.db');
    clock = Date.UTC(2025, 0, 2, 3, 4, 5, 6);
    toStop = [];
  });
  afterEach(() => {
    for (const x of toStop.reverse()) ('stop' in x ? x.stop() : x.close());
    dir.cleanup();
  });

  it('moves a file that is not SQLite aside (with its -wal/-shm) and starts fresh', () => {
    const q0 = open();
    q0.start();
    q0.stop();
    const garbage = Buffer.alloc(8192, 0xab);
    writeFileSync(path, garbage);
    writeFileSync(`${path}-wal`, 'wal bytes');
    const q = open();
    const events: CorruptFileInfo[] = [];
    q.on('corrupt', (e) => events.push(e));
    const info = q.start();
    const movedTo = `${path}.corrupt-2025-01-02T03-04-05-006Z`;
    expect(info.corrupt).toEqual({ path, movedTo, reason: 'file is not a database', at: clock });
    expect(events).toEqual([info.corrupt]);
    expect(readFileSync(movedTo)).toEqual(garbage);
    expect(readFileSync(`${movedTo}-wal`, 'utf8')).toBe('wal bytes');
    expect(q.stats()).toMatchObject({ depth: 0, corruptFilesMovedAside: 1 });
    q.append([rec(1)]);
    expect(q.stats().depth).toBe(1);
  });

  it('moves a valid file with a corrupted page aside', () => {
    const q0 = open();
    q0.start();
    for (let i = 0; i < 20; i++) q0.append(Array.from({ length: 100 }, (_, j) => rec(i * 100 + j, 50)));
    q0.stop();
    const pageSize = 4096;
    const fd = openSync(path, 'r+');
    writeSync(fd, Buffer.alloc(pageSize, 0x5a), 0, pageSize, 6 * pageSize);
    closeSync(fd);
    const q = open();
    const info = q.start();
    expect(info.corrupt?.movedTo).toBe(`${path}.corrupt-2025-01-02T03-04-05-006Z`);
    expect(info.corrupt?.reason).not.toBe('');
    expect(q.stats()).toMatchObject({ depth: 0, appended: 0, corruptFilesMovedAside: 1 });
    const aside = 'queue.db.corrupt-2025-01-02T03-04-05-006Z';
    expect(readdirSync(join(dir.path, 'sub')).filter((f) => f.includes('.corrupt-')).sort()).toEqual([aside, `${aside}-shm`, `${aside}-wal`]);
    expect(readFileSync(join(dir.path, 'sub', aside)).subarray(6 * pageSize, 7 * pageSize)).toEqual(Buffer.alloc(pageSize, 0x5a));
  });

  it('migrates an older file in order and refuses a newer one', () => {
    const q1 = open();
    expect(q1.start()).toEqual({ schemaVersion: LATEST, migratedFrom: 0, corrupt: null });
    q1.append([rec(1), rec(2)]);
    q1.stop();

    const next: QueueMigration = {
      version: LATEST + 1,
      description: 'a later table',
      up: (db) => db.exec('CREATE TABLE later_table (key TEXT PRIMARY KEY, value TEXT)'),
    };
    const q2 = open({ migrations: [...QUEUE_MIGRATIONS, next] });
    expect(q2.start()).toEqual({ schemaVersion: LATEST + 1, migratedFrom: LATEST, corrupt: null });
    expect(q2.info().schemaVersion).toBe(LATEST + 1);
    expect(q2.database.prepare('SELECT count(*) FROM later_table').pluck().get()).toBe(0);
    expect(q2.stats().depth).toBe(2);
    q2.stop();

    const old = open();
    expect(() => old.start()).toThrow(expect.objectContaining({ code: 'EDGE_ERR_QUEUE_IO' }));
    expect(old.started).toBe(false);
  });

  it('rolls a failing migration back, leaving the previous version', () => {
    open().start();
    (toStop.pop() as SqliteQueue).stop();
    const bad: QueueMigration = {
      version: LATEST + 1,
      description: 'fails halfway',
      up: (db) => {
        db.exec('CREATE TABLE half (x)');
        db.exec('SELECT * FROM no_such_table');
      },
    };
    expect(() => open({ migrations: [...QUEUE_MIGRATIONS, bad] }).start()).toThrow(expect.objectContaining({ code: 'EDGE_ERR_QUEUE_IO' }));
    const db = new Database(path, { readonly: true });
    expect(db.pragma('user_version', { simple: true })).toBe(LATEST);
    expect(db.prepare("SELECT count(*) FROM sqlite_master WHERE name = 'half'").pluck().get()).toBe(0);
    db.close();
  });

  it('reads stats and dead letters read-only while the writer runs, and after it stopped', () => {
    const q = open();
    q.start();
    q.append([rec(1), rec(2), rec(3)]);
    q.deadLetter({ reason: 'bad', source: 'mqtt', origin: 't', payload: 'p' });
    const ro = openQueueReadOnly(path);
    toStop.push(ro);
    expect(ro.stats(clock + 10)).toMatchObject({ depth: 3, bytes: 3 * 28, deadLetterDepth: 1, oldestUnsentAgeMs: 10, newestId: 3, leased: 0 });
    expect(ro.listDeadLetters().map((d) => d.reason)).toEqual(['bad']);
    expect(ro.info()).toMatchObject({ readonly: true, journalMode: 'wal', schemaVersion: LATEST });
    q.ack(q.lease({ maxRecords: 2, maxBytes: 1e6 })!);
    expect(ro.stats()).toMatchObject({ depth: 1, retainedRows: 2, sent: 2 });
    q.append([rec(4)]); // the reader does not block the writer
    q.stop();
    expect(ro.stats()).toMatchObject({ depth: 2, appended: 4 });
    expect(ro.countDeadLetters()).toBe(1);
    expect(() => openQueueReadOnly(join(dir.path, 'missing.db'))).toThrow(expect.objectContaining({ code: 'EDGE_ERR_QUEUE_IO' }));
    expect(existsSync(join(dir.path, 'missing.db'))).toBe(false);
  });

  it('reports a full disk as QUEUE_DISK_FULL, stores nothing, and works again once room is made', () => {
    // `block`: a full disk applies on_full like a cap (drop_oldest would evict old rows to store new ones).
    const q = open({ maxFileBytes: 256 * 1024, retainSentMs: 1, onFull: 'block' });
    q.start();
    let err: unknown;
    let stored = 0;
    for (let i = 0; i < 1000 && err === undefined; i++) {
      try {
        stored += q.append(Array.from({ length: 50 }, (_, j) => rec(i * 50 + j, 200))).accepted;
      } catch (e) {
        err = e;
      }
    }
    expect(isAgentError(err, 'EDGE_ERR_QUEUE_DISK_FULL')).toBe(true);
    expect((err as Error).cause).toMatchObject({ code: 'SQLITE_FULL' });
    expect(q.stats()).toMatchObject({ depth: stored, appended: stored });
    expect(q.newestId()).toBe(stored);
    // An ack writes one sent run, not every row: it goes through on the full disk, and
    // pruning what it marked sent makes room for new readings.
    const lease = q.lease({ maxRecords: 100_000, maxBytes: 1e9 })!;
    expect(q.ack(lease)).toBe(stored);
    expect(q.stats()).toMatchObject({ depth: 0, sent: stored, leased: 0 });
    clock += 10;
    while (q.prune().more);
    expect(q.append([rec(999_999, 200)])).toMatchObject({ accepted: 1 });
    expect(q.stats()).toMatchObject({ depth: 1, sent: stored, retainedRows: 0, newestId: stored + 1 });
  });
});
