/** Sparkplug B topic names: `spBv1.0/{group}/{type}/{edge node}[/{device}]`. */

export const NAMESPACE = 'spBv1.0';
/**
 * Where Sparkplug-aware brokers (HiveMQ's extension, Mosquitto 2.1) keep the latest birth
 * of every node and device, retained: `$sparkplug/certificates/spBv1.0/{group}/NBIRTH/{node}`.
 */
export const CERTIFICATES_PREFIX = '$sparkplug/certificates/';

export type MessageType = 'NBIRTH' | 'NDEATH' | 'NDATA' | 'DBIRTH' | 'DDEATH' | 'DDATA' | 'NCMD' | 'DCMD';
const TYPES = new Set<string>(['NBIRTH', 'NDEATH', 'NDATA', 'DBIRTH', 'DDEATH', 'DDATA', 'NCMD', 'DCMD']);

export interface SparkplugTopic {
  group: string;
  type: MessageType;
  node: string;
  /** Empty for node messages (N*). */
  device: string;
}

/** Parses the levels of a topic (without any certificates prefix); null when it is not a Sparkplug B message topic (STATE included). */
export function parseTopic(levels: readonly string[]): SparkplugTopic | null {
  if (levels[0] !== NAMESPACE || levels.length < 4 || levels.length > 5) return null;
  const type = levels[2]!;
  if (!TYPES.has(type)) return null;
  const isDevice = type.charCodeAt(0) === 68; // 'D'
  if (isDevice !== (levels.length === 5)) return null;
  const group = levels[1]!;
  const node = levels[3]!;
  const device = levels[4] ?? '';
  if (group === '' || node === '' || (isDevice && device === '')) return null;
  return { group, type: type as MessageType, node, device };
}

/** The NCMD topic of an edge node (where rebirth requests go). */
export function commandTopic(group: string, node: string): string {
  return `${NAMESPACE}/${group}/NCMD/${node}`;
}

/** The Sparkplug 3.0 STATE topic of a primary host application. */
export function stateTopic(hostId: string): string {
  return `${NAMESPACE}/STATE/${hostId}`;
}

/** True for `spBv1.0/STATE/{host id}` (split on `/`). */
export function isStateTopic(levels: readonly string[]): boolean {
  return levels.length === 3 && levels[0] === NAMESPACE && levels[1] === 'STATE';
}
