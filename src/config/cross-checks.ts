/**
 * Checks that span several keys, which a per-key schema cannot express. They run on the
 * raw tree (presence) or on each section that validated on its own (numbers), so that they
 * are reported together with every other problem rather than on the next attempt.
 */
import type { RawProblem } from './zod-issues.js';
import { formatDuration, formatSize, parseDuration } from './schema/index.js';
import { serialPortName } from './schema/serial.js';

/** The value at a path of the (substituted) tree, parsed by its own part of the schema; undefined when absent or invalid. */
export type ValidAt = (path: readonly string[]) => unknown;

function isMap(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** Exactly-one-of and needs-one-of rules; `raw` is the tree before `${VAR}` substitution. */
export function presenceChecks(raw: Record<string, unknown>): RawProblem[] {
  const problems: RawProblem[] = [];
  const db = raw.fluxiondb;
  if (isMap(db)) {
    if ('api_key' in db && 'api_key_file' in db) {
      problems.push({ path: ['fluxiondb', 'api_key'], message: 'give exactly one of api_key and api_key_file, not both (remove one)' });
    } else if (!('api_key' in db) && !('api_key_file' in db)) {
      problems.push({
        path: ['fluxiondb'],
        message: 'needs an API key: api_key_file: /etc/fluxion-edge/api-key (preferred) or api_key: ${FLUXION_API_KEY}',
      });
    }
  }
  for (const section of ['fluxiondb', 'mqtt'] as const) {
    const sec = raw[section];
    const tls = isMap(sec) ? sec.tls : undefined;
    if (isMap(tls) && ('cert_file' in tls) !== ('key_file' in tls)) {
      problems.push({ path: [section, 'tls', 'cert_file' in tls ? 'key_file' : 'cert_file'], message: 'cert_file and key_file go together (mutual TLS needs both)' });
    }
  }
  const mqtt = raw.mqtt;
  if (isMap(mqtt)) {
    if (!('url' in mqtt) && !('embedded_broker' in mqtt)) {
      problems.push({ path: ['mqtt'], message: 'needs url (an external broker, e.g. mqtt://broker.local:1883) or embedded_broker (start one inside the agent)' });
    }
    if ('password' in mqtt && 'password_file' in mqtt) {
      problems.push({ path: ['mqtt', 'password'], message: 'give at most one of password and password_file, not both (remove one)' });
    }
  }
  return problems;
}

/**
 * The console serves actions (retry, purge, resync): off loopback it must not be open to
 * anyone on the plant network, so another address without a token is refused.
 */
export function consoleChecks(valid: ValidAt, raw: Record<string, unknown>): RawProblem[] {
  if (valid(['console', 'enabled']) !== true) return [];
  const problems: RawProblem[] = [];
  if (valid(['health', 'enabled']) !== true) {
    problems.push({ path: ['console', 'enabled'], message: "the console is served on the health endpoint's listener: set health.enabled: true" });
  }
  const host = valid(['health', 'host']);
  const cons = raw.console;
  const hasToken = isMap(cons) && typeof cons.token_file === 'string' && cons.token_file !== '';
  if (typeof host === 'string' && !isLoopback(host) && !hasToken) {
    problems.push({
      path: ['console', 'token_file'],
      message: `health.host is ${host}, not a loopback address: the console needs token_file there (anyone on that network could otherwise use it)`,
    });
  }
  return problems;
}

/** 127.0.0.0/8, ::1 and localhost. */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/** Serial ports: names and paths unique, delimiter or frame_regex. */
export function serialChecks(raw: Record<string, unknown>): RawProblem[] {
  const problems: RawProblem[] = [];
  const ports = raw.serial;
  if (!Array.isArray(ports)) return problems;
  const names = new Map<string, number>();
  const paths = new Map<string, number>();
  ports.forEach((p: unknown, i) => {
    if (!isMap(p) || typeof p.path !== 'string') return;
    if ('delimiter' in p && 'frame_regex' in p) {
      problems.push({ path: ['serial', i, 'frame_regex'], message: 'give delimiter or frame_regex, not both (remove one)' });
    }
    const reopen = p.reopen;
    if (isMap(reopen) && (typeof reopen.base === 'string' || typeof reopen.base === 'number') && (typeof reopen.cap === 'string' || typeof reopen.cap === 'number')) {
      const base = parseDuration(reopen.base);
      const cap = parseDuration(reopen.cap);
      if (base !== null && cap !== null && base > cap) {
        problems.push({ path: ['serial', i, 'reopen', 'base'], message: `must not exceed reopen.cap (${formatDuration(cap)}) (got ${formatDuration(base)})` });
      }
    }
    const name = serialPortName({ path: p.path, name: typeof p.name === 'string' ? p.name : undefined });
    const sameName = names.get(name);
    if (sameName !== undefined) {
      problems.push({ path: ['serial', i, 'name' in p ? 'name' : 'path'], message: `port name '${name}' is also the name of serial[${sameName}] (names must be unique: set name)` });
    } else names.set(name, i);
    const samePath = paths.get(p.path);
    if (samePath !== undefined) problems.push({ path: ['serial', i, 'path'], message: `serial[${samePath}] reads the same device (a port can be read by one entry only)` });
    else paths.set(p.path, i);
  });
  return problems;
}

/** Relations between numbers, each checked when the values involved are valid on their own. */
export function numericChecks(valid: ValidAt): RawProblem[] {
  const problems: RawProblem[] = [];
  const num = (path: string[]): number | undefined => {
    const v = valid(path);
    return typeof v === 'number' ? v : undefined;
  };
  const notAbove = (path: string[], capPath: string[], capName: string, show: (n: number) => string): void => {
    const v = num(path);
    const cap = num(capPath);
    if (v !== undefined && cap !== undefined && v > cap) problems.push({ path, message: `must not exceed ${capName} (${show(cap)}) (got ${show(v)})` });
  };
  notAbove(['sender', 'backoff', 'base'], ['sender', 'backoff', 'cap'], 'backoff.cap', formatDuration);
  notAbove(['mqtt', 'reconnect', 'base'], ['mqtt', 'reconnect', 'cap'], 'reconnect.cap', formatDuration);
  notAbove(['queue', 'retain_sent_bytes'], ['queue', 'max_bytes'], 'queue.max_bytes', formatSize);
  // Absent values parse to their defaults, so a smaller max_frame_bytes alone is caught too.
  const batch = num(['sender', 'batch_max_bytes']);
  const frame = num(['fluxiondb', 'max_frame_bytes']);
  if (batch !== undefined && frame !== undefined && batch >= frame) {
    problems.push({
      path: ['sender', 'batch_max_bytes'],
      message: `must be below fluxiondb.max_frame_bytes (${formatSize(frame)}), or full batches could never be sent (got ${formatSize(batch)})`,
    });
  }
  const keepalive = num(['mqtt', 'keepalive']);
  if (keepalive !== undefined && keepalive % 1000 !== 0) {
    problems.push({ path: ['mqtt', 'keepalive'], message: `must be a whole number of seconds, e.g. "30s" (got ${keepalive} ms)` });
  }
  return problems;
}

/**
 * The metadata collection must hold no readings: deleting the last document of a
 * collection deletes its key/values too. Only literal collection names are compared; a
 * template (`{site}`) is known only at run time. The rules are read one by one from the
 * (substituted) `tree`, so that a problem elsewhere in a rule list does not hide this one.
 */
export function metadataCollectionChecks(valid: ValidAt, tree: Record<string, unknown>): RawProblem[] {
  // Parsed by its own schema: the default ('metadata') when absent.
  const col = valid(['metadata', 'collection']);
  if (typeof col !== 'string') return [];
  const users: string[] = [];
  const scan = (rules: unknown, where: string): void => {
    if (!Array.isArray(rules)) return;
    rules.forEach((r: unknown, i) => {
      if (isMap(r) && r.kind !== 'metadata' && r.collection === col) users.push(`${where}[${i}]`);
    });
  };
  const mqtt = tree.mqtt;
  if (isMap(mqtt)) scan(mqtt.subscriptions, 'mqtt.subscriptions');
  const ports = tree.serial;
  if (Array.isArray(ports)) ports.forEach((p: unknown, i) => isMap(p) && scan(p.rules, `serial[${i}].rules`));
  if (users.length === 0) return [];
  return [{
    path: ['metadata', 'collection'],
    message: `'${col}' is also the collection of readings of ${users.join(', ')}: deleting its last document would delete the metadata with it; give metadata a collection of its own`,
  }];
}
