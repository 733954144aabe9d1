/**
 * The operations of the seed API, camelCase, with the payload shapes of the protocol page.
 * Each checks its arguments first (a bad call throws VALIDATION and touches no socket),
 * then sends one request and returns the part of the answer that matters.
 */
import { FluxionClientBase } from './client.js';
import { FluxionError, FluxionErrorCodes } from './errors.js';
import { EncodedPayload, EscapedPayload } from './frame.js';
import type {
  ApiKeyInfo,
  ApiKeyScope,
  CollectionParams,
  ConnectionInfo,
  DeleteDocumentParams,
  DeleteRangeParams,
  FetchDocumentParams,
  FetchLatestParams,
  FluxionRecord,
  GetValuesParams,
  KeyParams,
  OperationOptions,
  RecordKey,
  SetValueParams,
  StoredPoint,
} from './types.js';
import {
  assertApiKey,
  assertInteger,
  assertName,
  assertOptionalBoolean,
  assertOptionalInteger,
  assertOptionalName,
  assertOptionalString,
  assertOrdered,
  assertParams,
  assertRecord,
  assertRecordKeys,
  assertRecords,
  assertScope,
  assertTs,
} from './validate.js';

/** The answer's `name` field, which must pass `check`; anything else is a protocol error. */
function field<T>(response: Record<string, unknown>, type: string, name: string, check: (v: unknown) => boolean): T {
  const value = response[name];
  if (!check(value)) {
    throw new FluxionError(FluxionErrorCodes.PROTOCOL, `the answer to ${type} has no valid "${name}"`, {
      requestType: type,
    });
  }
  return value as T;
}

const isObject = (v: unknown): boolean => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Copies the defined optional fields only, so `undefined` never reaches the wire. */
function withOptional(base: Record<string, unknown>, extra: Record<string, unknown>): Record<string, unknown> {
  const out = { ...base };
  for (const [k, v] of Object.entries(extra)) if (v !== undefined) out[k] = v;
  return out;
}

export class FluxionClient extends FluxionClientBase {
  /** `ins`: the hot path. One JSON.stringify of the array, one of the envelope. */
  async insertMultipleRecords(records: FluxionRecord[], options?: OperationOptions): Promise<void> {
    assertRecords(records, 'records');
    await this.send('ins', records, options);
  }

  /**
   * `ins` with the records already serialized: `recordsJson` is the JSON array of
   * `{ts, doc, data, col}` that `insertMultipleRecords` would have built. For a caller that
   * stores records encoded (the agent's queue has SQLite write the array): nothing walks
   * the records here, so the caller answers for them passing `validateRecord`. Only the
   * array's brackets are checked; a malformed payload makes the server close the socket.
   */
  async insertEncodedRecords(recordsJson: string, options?: OperationOptions): Promise<void> {
    if (typeof recordsJson !== 'string' || !recordsJson.startsWith('[') || !recordsJson.endsWith(']')) {
      throw new FluxionError(FluxionErrorCodes.VALIDATION, 'recordsJson must be a JSON array of records', { field: 'recordsJson' });
    }
    await this.send('ins', new EncodedPayload(recordsJson), options);
  }

  /**
   * `ins` with the records already serialized and escaped: `parts`, concatenated, are the
   * JSON array `insertEncodedRecords` takes, escaped as the inside of a JSON string (what
   * `JSON.stringify(recordsJson).slice(1, -1)` gives), in UTF-8. The frame is built from the
   * bytes as they are: the caller answers for them (a malformed payload makes the server
   * close the socket).
   */
  async insertEscapedRecords(parts: readonly Buffer[], options?: OperationOptions): Promise<void> {
    if (!Array.isArray(parts) || parts.length === 0 || !parts.every((p) => Buffer.isBuffer(p))) {
      throw new FluxionError(FluxionErrorCodes.VALIDATION, 'parts must be a non-empty array of Buffers', { field: 'parts' });
    }
    await this.send('ins', new EscapedPayload(parts), options);
  }

  /** `ins` with one record. */
  async insertSingleRecord(record: FluxionRecord, options?: OperationOptions): Promise<void> {
    assertRecord(record, 'record');
    await this.send('ins', [record], options);
  }

  /** `qry`: for each document, its latest record with `ts <= params.ts`. */
  async fetchLatestRecords(params: FetchLatestParams, options?: OperationOptions): Promise<Record<string, StoredPoint>> {
    assertParams(params, 'params');
    assertName(params.col, 'col');
    assertTs(params.ts, 'ts');
    assertOptionalString(params.doc, 'doc');
    assertOptionalInteger(params.from, 'from');
    assertOptionalString(params.where, 'where');
    assertOptionalString(params.filter, 'filter');
    const { col, ts, doc, from, where, filter } = params;
    const res = await this.send('qry', withOptional({ col, ts }, { doc, from, where, filter }), options);
    return field(res, 'qry', 'records', isObject);
  }

  /** `qdoc`: one document's records with `from <= ts <= to`, ascending (descending with reverse). */
  async fetchDocument(params: FetchDocumentParams, options?: OperationOptions): Promise<StoredPoint[]> {
    assertParams(params, 'params');
    assertName(params.col, 'col');
    assertName(params.doc, 'doc');
    assertInteger(params.from, 'from');
    assertTs(params.to, 'to');
    assertOrdered(params.from, params.to, 'from', 'to');
    assertOptionalInteger(params.limit, 'limit');
    assertOptionalBoolean(params.reverse, 'reverse');
    assertOptionalString(params.where, 'where');
    assertOptionalString(params.filter, 'filter');
    const { col, doc, from, to, limit, reverse, where, filter } = params;
    const payload = withOptional({ col, doc, from, to }, { limit, reverse, where, filter });
    const res = await this.send('qdoc', payload, options);
    return field(res, 'qdoc', 'records', Array.isArray);
  }

  /** `cols`: every collection in the server's memory. */
  async fetchCollections(options?: OperationOptions): Promise<string[]> {
    const res = await this.send('cols', {}, options);
    return field(res, 'cols', 'collections', Array.isArray);
  }

  /** `conn`: the server's open sockets (`self` marks this one). */
  async getConnections(options?: OperationOptions): Promise<ConnectionInfo[]> {
    const res = await this.send('conn', {}, options);
    return field(res, 'conn', 'connections', Array.isArray);
  }

  /** `ddoc` (`doc` required: the server closes the socket without it). Beware: a collection left without records loses its key/values too. */
  async deleteDocument(params: DeleteDocumentParams, options?: OperationOptions): Promise<void> {
    assertParams(params, 'params');
    assertName(params.doc, 'doc');
    assertOptionalName(params.col, 'col');
    await this.send('ddoc', withOptional({ doc: params.doc }, { col: params.col }), options);
  }

  /** `dcol` (`col` required: the server closes the socket without it). */
  async deleteCollection(params: CollectionParams, options?: OperationOptions): Promise<void> {
    assertParams(params, 'params');
    assertName(params.col, 'col');
    await this.send('dcol', { col: params.col }, options);
  }

  /** `drec`. */
  async deleteRecord(params: RecordKey, options?: OperationOptions): Promise<void> {
    assertParams(params, 'params');
    assertName(params.col, 'col');
    assertName(params.doc, 'doc');
    assertTs(params.ts, 'ts');
    await this.send('drec', { col: params.col, doc: params.doc, ts: params.ts }, options);
  }

  /** `dmrec`. */
  async deleteMultipleRecords(records: RecordKey[], options?: OperationOptions): Promise<void> {
    assertRecordKeys(records, 'records');
    await this.send('dmrec', records, options);
  }

  /** `drrng`: both bounds inclusive and > 0 (the server closes the socket on `fromTs` 0). */
  async deleteRecordsRange(params: DeleteRangeParams, options?: OperationOptions): Promise<void> {
    assertParams(params, 'params');
    assertName(params.col, 'col');
    assertName(params.doc, 'doc');
    assertTs(params.fromTs, 'fromTs');
    assertTs(params.toTs, 'toTs');
    assertOrdered(params.fromTs, params.toTs, 'fromTs', 'toTs');
    const { col, doc, fromTs, toTs } = params;
    await this.send('drrng', { col, doc, fromTs, toTs }, options);
  }

  /** `sval`: creates the collection if needed. The server refuses an empty value. */
  async setValue(params: SetValueParams, options?: OperationOptions): Promise<void> {
    assertParams(params, 'params');
    assertName(params.col, 'col');
    assertName(params.key, 'key');
    assertName(params.value, 'value');
    await this.send('sval', { col: params.col, key: params.key, value: params.value }, options);
  }

  /** `gval`: the value, or `''` when the key or the collection is missing. */
  async getValue(params: KeyParams, options?: OperationOptions): Promise<string> {
    assertParams(params, 'params');
    assertName(params.col, 'col');
    assertName(params.key, 'key');
    const res = await this.send('gval', { col: params.col, key: params.key }, options);
    return field(res, 'gval', 'value', (v) => typeof v === 'string');
  }

  /** `gvalues` when `key` (literal or `/regex/`) is given, else `gvals` (every pair). */
  async getValues(params: GetValuesParams, options?: OperationOptions): Promise<Record<string, string>> {
    assertParams(params, 'params');
    assertName(params.col, 'col');
    if (params.key === undefined) {
      const res = await this.send('gvals', { col: params.col }, options);
      return field(res, 'gvals', 'values', isObject);
    }
    assertName(params.key, 'key');
    const res = await this.send('gvalues', { col: params.col, key: params.key }, options);
    return field(res, 'gvalues', 'values', isObject);
  }

  /** `gkeys`. */
  async getKeys(params: CollectionParams, options?: OperationOptions): Promise<string[]> {
    assertParams(params, 'params');
    assertName(params.col, 'col');
    const res = await this.send('gkeys', { col: params.col }, options);
    return field(res, 'gkeys', 'keys', Array.isArray);
  }

  /** `rval`. */
  async deleteValue(params: KeyParams, options?: OperationOptions): Promise<void> {
    assertParams(params, 'params');
    assertName(params.col, 'col');
    assertName(params.key, 'key');
    await this.send('rval', { col: params.col, key: params.key }, options);
  }

  /** `keys` add (master key only): adds the key or changes its scope; returns the scope. */
  async addApiKey(key: string, scope: ApiKeyScope, options?: OperationOptions): Promise<string> {
    assertApiKey(key, 'key');
    assertScope(scope, 'scope');
    const res = await this.send('keys', { action: 'add', key, scope }, options);
    return field(res, 'keys', 'scope', (v) => typeof v === 'string');
  }

  /** `keys` remove (master key only). Its open sockets stay, at readonly. */
  async removeApiKey(key: string, options?: OperationOptions): Promise<void> {
    assertApiKey(key, 'key');
    await this.send('keys', { action: 'remove', key }, options);
  }

  /** `keys` list (master key only). */
  async listApiKeys(options?: OperationOptions): Promise<ApiKeyInfo[]> {
    const res = await this.send('keys', { action: 'list' }, options);
    return field(res, 'keys', 'keys', Array.isArray);
  }
}
