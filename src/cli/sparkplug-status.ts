/** The Sparkplug B lines of `fluxion-edge status` (per edge node). */
import type { SparkplugStatus } from '../sparkplug/types.js';

export function sparkplugLines(sp: SparkplugStatus): string[] {
  const out: string[] = [];
  const st = sp.state;
  const host = st === null ? 'no primary host' : `primary host ${st.hostId}: STATE ${st.online ? 'online' : 'offline'}`;
  out.push(`sparkplug: ${host}, ${sp.resolved} held messages resolved`);
  const nodes = Object.entries(sp.nodes).sort(([a], [b]) => a.localeCompare(b));
  if (nodes.length === 0) out.push('  (no edge node seen yet)');
  for (const [key, n] of nodes) {
    const state = n.online === null ? 'unknown' : n.online ? 'online' : 'offline';
    const warn = n.unresolved > 0 || n.seqGaps > 0 ? `, ${n.unresolved} unresolved, ${n.seqGaps} seq gaps, ${n.rebirthRequests} rebirths requested` : '';
    out.push(`  ${key}  ${state}, ${n.births} births, ${n.dataMessages} data messages, ${n.metrics} metrics (${n.historical} historical), ${n.deaths} deaths (${n.staleDeaths} stale)${warn}`);
  }
  return out;
}
