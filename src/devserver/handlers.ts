/**
 * One handler per message type: the scope it needs, its payload checks and the result
 * fields of its success response. Handlers are synchronous, which is what keeps responses
 * in request order. A handler returns the text that follows `{"id":"X"` in the response
 * (upstream builds success responses by hand, so key order is fixed), REJECT when the
 * payload fails its checks (no response, close 1008), or throws HandlerError for an
 * `{"error":...}` answer.
 */
import type { ApiKeyRegistry, Need } from './keys.js';
import { KeyError, normalizeWord } from './keys.js';
import { nameTest, parseSlashRegex, recordFilter } from './matchers.js';
import { toInteger, toReverse, toText, type Int64 } from './numbers.js';
import type { MemoryStore } from './store.js';

/** The payload failed its type's checks: answer nothing and close 1008. */
export const REJECT = Symbol('reject');

/** An error answer; `message` is upstream's exact text. */
export class HandlerError extends Error {}

/** One open socket as `conn` reports it. */
export interface ConnectionView {
  id: number;
  ip: string;
  connectedAt: number;
  name: string | null;
}

/** What a handler may touch. */
export interface HandlerServices {
  store: MemoryStore;
  keys: ApiKeyRegistry;
  connections(): Iterable<ConnectionView>;
}

/** Who sent the request. */
export interface Caller {
  connectionId: number;
  key: string;
}

export type HandlerResult = string | typeof REJECT;

export interface MessageHandler {
  /** `master` means only the master key may send it, whatever its scope. */
  need: Need | 'master';
  /** False for types whose payload is ignored (not even parsed). */
  parsesPayload: boolean;
  run(payload: unknown, caller: Caller, services: HandlerServices): HandlerResult;
}

type Obj = Record<string, unknown>;

function isObject(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const q = JSON.stringify;

function recordJson(ts: Int64, data: string): string {
  return `{"ts":${ts},"data":${q(data)}}`;
}

function valuesJson(entries: Iterable<[string, string]>): string {
  const parts: string[] = [];
  for (const [k, v] of entries) parts.push(`${q(k)}:${q(v)}`);
  return `{${parts.join(',')}}`;
}

/** Runs `body` on an object payload, rejecting anything else. */
function objectPayload(body: (p: Obj, caller: Caller, s: HandlerServices) => HandlerResult): MessageHandler['run'] {
  return (p, caller, s) => (isObject(p) ? body(p, caller, s) : REJECT);
}

function handler(need: MessageHandler['need'], run: MessageHandler['run'], parsesPayload = true): MessageHandler {
  return { need, parsesPayload, run };
}

const ins = handler('write', (p, _c, { store }) => {
  if (!Array.isArray(p)) return REJECT;
  // Check the whole batch first: a rejected batch leaves nothing behind.
  for (const r of p) if (!isObject(r)) return REJECT;
  // Upstream checks nothing else: ts 0 and empty names are stored as given; a `data` or
  // `doc` that is not a string (a number, an object, missing) is stored as "".
  for (const r of p as Obj[]) store.put(toText(r.col), toText(r.doc), toInteger(r.ts), toText(r.data));
  return '';
});

const qry = handler('read', objectPayload((p, _c, { store }) => {
  const col = toText(p.col);
  const ts = toInteger(p.ts);
  if (col === '' || ts <= 0) return REJECT;
  const doc = toText(p.doc);
  const found = store.latest(col, ts, doc === '' ? null : nameTest(doc), toInteger(p.from), recordFilter(p.where, p.filter));
  const parts = found.map(([name, r]) => `${q(name)}:${recordJson(r.ts, r.data)}`);
  return `,"records":{${parts.join(',')}}`;
}));

const cols = handler('read', (_p, _c, { store }) => `,"collections":${q(store.collectionNames())}`, false);

const qdoc = handler('read', objectPayload((p, _c, { store }) => {
  const col = toText(p.col);
  const doc = toText(p.doc);
  const from = toInteger(p.from);
  const to = toInteger(p.to);
  if (col === '' || doc === '' || to <= 0 || from > to) return REJECT;
  const found = store.range(col, doc, from, to, toInteger(p.limit), toReverse(p.reverse), recordFilter(p.where, p.filter));
  return `,"records":[${found.map((r) => recordJson(r.ts, r.data)).join(',')}]`;
}));

const ddoc = handler('delete', objectPayload((p, _c, { store }) => {
  const doc = toText(p.doc);
  if (doc === '') return REJECT;
  const col = toText(p.col);
  store.deleteDocument(doc, col === '' ? null : col);
  return '';
}));

const dcol = handler('delete', objectPayload((p, _c, { store }) => {
  const col = toText(p.col);
  if (col === '') return REJECT;
  store.deleteCollection(col);
  return '';
}));

/** col, doc and ts of a drec/dmrec entry, or null when it fails upstream's checks. */
function recordKey(p: unknown): { col: string; doc: string; ts: Int64 } | null {
  if (!isObject(p)) return null;
  const col = toText(p.col);
  const doc = toText(p.doc);
  const ts = toInteger(p.ts);
  return col === '' || doc === '' || ts <= 0 ? null : { col, doc, ts };
}

const drec = handler('delete', (p, _c, { store }) => {
  const k = recordKey(p);
  if (k === null) return REJECT;
  store.deleteRecord(k.col, k.doc, k.ts);
  return '';
});

const dmrec = handler('delete', (p, _c, { store }) => {
  if (!Array.isArray(p)) return REJECT;
  const keys = p.map(recordKey);
  if (keys.includes(null)) return REJECT;
  for (const k of keys) store.deleteRecord(k!.col, k!.doc, k!.ts);
  return '';
});

const drrng = handler('delete', objectPayload((p, _c, { store }) => {
  const col = toText(p.col);
  const doc = toText(p.doc);
  const fromTs = toInteger(p.fromTs);
  const toTs = toInteger(p.toTs);
  if (col === '' || doc === '' || fromTs <= 0 || toTs <= 0 || fromTs > toTs) return REJECT;
  store.deleteRange(col, doc, fromTs, toTs);
  return '';
}));

const sval = handler('write', objectPayload((p, _c, { store }) => {
  const col = toText(p.col);
  const key = toText(p.key);
  const value = toText(p.value);
  if (col === '' || key === '' || value === '') return REJECT;
  store.setValue(col, key, value);
  return '';
}));

const gval = handler('read', objectPayload((p, _c, { store }) => {
  const key = toText(p.key);
  if (key === '') return REJECT;
  return `,"value":${q(store.collection(toText(p.col))?.kv.get(key) ?? '')}`;
}));

const gvalues = handler('read', objectPayload((p, _c, { store }) => {
  const key = toText(p.key);
  if (key === '') return REJECT;
  const kv = store.collection(toText(p.col))?.kv;
  if (kv === undefined) return `,"values":{}`;
  const re = parseSlashRegex(key);
  if (re === null) return `,"values":${valuesJson([[key, kv.get(key) ?? '']])}`;
  return `,"values":${valuesJson([...kv].filter(([k]) => re.test(k)))}`;
}));

const gvals = handler('read', objectPayload((p, _c, { store }) => {
  const col = toText(p.col);
  if (col === '') return REJECT;
  return `,"values":${valuesJson(store.collection(col)?.kv ?? [])}`;
}));

const gkeys = handler('read', objectPayload((p, _c, { store }) => {
  const col = toText(p.col);
  if (col === '') return REJECT;
  return `,"keys":${q([...(store.collection(col)?.kv.keys() ?? [])])}`;
}));

const rval = handler('delete', objectPayload((p, _c, { store }) => {
  const key = toText(p.key);
  if (key === '') return REJECT;
  store.deleteValue(toText(p.col), key);
  return '';
}));

const keys = handler('master', objectPayload((p, _c, { keys: registry }) => {
  try {
    switch (normalizeWord(p.action)) {
      case 'add':
        return `,"scope":${q(registry.add(p.key, p.scope))},"status":"ok"`;
      case 'remove':
        registry.remove(p.key);
        return `,"status":"ok"`;
      case 'list': {
        const list = registry.list().map((k) => `{"deletable":${k.deletable},"key":${q(k.key)},"scope":${q(k.scope)}}`);
        return `,"keys":[${list.join(',')}],"status":"ok"`;
      }
      default:
        throw new HandlerError('unknown action');
    }
  } catch (err) {
    if (err instanceof KeyError) throw new HandlerError(err.message);
    throw err;
  }
}));

const conn = handler(
  'read',
  (_p, caller, { connections }) => {
    const now = Date.now();
    const list: string[] = [];
    for (const c of connections()) {
      const self = c.id === caller.connectionId;
      list.push(`{"ip":${q(c.ip)},"since":${now - c.connectedAt},"name":${c.name === null ? 'null' : q(c.name)},"self":${self}}`);
    }
    return `,"connections":[${list.join(',')}]`;
  },
  false,
);

/** Every message type upstream knows, by its exact (case-sensitive) name. */
export const MESSAGE_HANDLERS: ReadonlyMap<string, MessageHandler> = new Map([
  ['ins', ins], ['qry', qry], ['cols', cols], ['qdoc', qdoc], ['ddoc', ddoc], ['dcol', dcol],
  ['drec', drec], ['dmrec', dmrec], ['drrng', drrng], ['sval', sval], ['gval', gval],
  ['gvalues', gvalues], ['gvals', gvals], ['gkeys', gkeys], ['rval', rval], ['keys', keys], ['conn', conn],
]);
