/**
 * Mapping Sparkplug dead letters again outside the agent (`dead-letter retry --config`):
 * a decoder whose alias tables are the ones persisted in the queue file, so a message held
 * for an unknown alias resolves once the node's rebirth was committed. Messages replayed
 * this way are out of sequence: no seq check, no rebirth wanted.
 */
import { SparkplugDecoder, SparkplugState, type MappingContext } from '../mapping/index.js';
import { SparkplugBirths, type SqliteQueue } from '../queue/index.js';

/** The mapping context to pass to compileRules when re-mapping dead letters of this (started) queue. */
export function replayContext(queue: SqliteQueue): MappingContext {
  const state = new SparkplugState();
  state.load(new SparkplugBirths(queue.database).load());
  return { sparkplug: new SparkplugDecoder(state, { holdAfterGap: false }) };
}
