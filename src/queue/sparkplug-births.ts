/**
 * The alias tables of Sparkplug B edge nodes and devices (table `sparkplug_births`,
 * migration 4), so that data messages sent with aliases only resolve after a restart of
 * the agent, and `dead-letter retry` can resolve held messages offline. Written only when
 * a birth changes a table, never per data message.
 */
import type { Database as Db, Statement } from 'better-sqlite3';
import type { BirthChange, BirthRow, StoredBirth } from '../shared/sparkplug-birth-rows.js';
import { sqliteError } from './sqlite-errors.js';

interface Row {
  node: string;
  device: string;
  birth: string;
}

export class SparkplugBirths {
  private readonly put: Statement;
  private readonly reset: Statement;
  private readonly all: Statement;

  constructor(
    private readonly db: Db,
    private readonly now: () => number = Date.now,
  ) {
    this.put = db.prepare(
      'INSERT INTO sparkplug_births(node, device, birth, updated_at) VALUES (?, ?, ?, ?) ON CONFLICT(node, device) DO UPDATE SET birth = excluded.birth, updated_at = excluded.updated_at',
    );
    this.reset = db.prepare('DELETE FROM sparkplug_births WHERE node = ?');
    this.all = db.prepare('SELECT node, device, birth FROM sparkplug_births ORDER BY node, device');
  }

  /** Applies the changes in one transaction. Throws EDGE_ERR_QUEUE_IO / _DISK_FULL with nothing written. */
  apply(changes: readonly BirthChange[]): void {
    if (changes.length === 0) return;
    const at = this.now();
    try {
      this.db.transaction(() => {
        for (const c of changes) {
          if (c.op === 'reset') this.reset.run(c.node);
          else this.put.run(c.row.node, c.row.device, JSON.stringify(c.row.birth), at);
        }
      })();
    } catch (err) {
      throw sqliteError(err, 'sparkplug births');
    }
  }

  load(): BirthRow[] {
    try {
      return rowsOf(this.all.all() as Row[]);
    } catch (err) {
      throw sqliteError(err, 'sparkplug births');
    }
  }
}

function rowsOf(rows: Row[]): BirthRow[] {
  const out: BirthRow[] = [];
  for (const r of rows) {
    try {
      out.push({ node: r.node, device: r.device, birth: JSON.parse(r.birth) as StoredBirth });
    } catch {
      // A row this agent cannot read is skipped: the node's next birth rewrites it.
    }
  }
  return out;
}
