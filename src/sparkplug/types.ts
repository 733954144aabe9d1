/** Options and status of the Sparkplug host side (STATE, rebirth requests, held messages). */
import type { SparkplugNodeCounters } from '../mapping/index.js';

export interface SparkplugHostOptions {
  /**
   * Sparkplug 3.0 primary host id: the agent publishes `spBv1.0/STATE/<id>` (retained,
   * `{"online":true,...}` while its queue takes messages, a last will `online:false`).
   * Null: no STATE.
   */
  primaryHostId: string | null;
  /** Publish NCMD `Node Control/Rebirth` when aliases are unknown or seq skipped. Default: on with primaryHostId. */
  rebirthRequests: boolean;
  /** Least time between two rebirth requests to one edge node, in ms. Default 30000. */
  rebirthIntervalMs: number;
  /**
   * `hold`: unresolved messages are kept as dead letters (raw payload) and mapped again by
   * the agent as soon as the node's next birth is committed. `dead_letter`: they stay for
   * the operator (`fluxion-edge dead-letter retry`). Default `hold`.
   */
  onUnresolved: 'hold' | 'dead_letter';
  /** Subscribe to `$sparkplug/certificates/` (retained births of Sparkplug-aware brokers). Default true. */
  retainedBirths: boolean;
}

export interface SparkplugStatus {
  /** The STATE this agent last published: null without primary host id. */
  state: { hostId: string; online: boolean; publishedAt: number | null } | null;
  /** Held messages resolved after a birth (since start). */
  resolved: number;
  /** Per edge node, keyed `{group}/{node}`. */
  nodes: Record<string, SparkplugNodeCounters>;
}
