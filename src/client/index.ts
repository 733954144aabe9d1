/** `fluxion-edge/client`: the FluxionDB client, usable on its own. */
export { FluxionClient } from './operations.js';
export { FluxionError, FluxionErrorCodes, isAuthRefusal, isFluxionError } from './errors.js';
export type { FluxionErrorCode, FluxionErrorDetails } from './errors.js';
export { backoffDelay } from './backoff.js';
export type { BackoffPolicy } from './backoff.js';
export { validateRecord, assertRecord, assertRecords } from './validate.js';
export { redactUrl } from './url.js';
export { SERVER_MAX_FRAME_BYTES } from './frame.js';
export type {
  ApiKeyInfo,
  ApiKeyScope,
  CollectionParams,
  ConnectionInfo,
  DeleteDocumentParams,
  DeleteRangeParams,
  FetchDocumentParams,
  FetchLatestParams,
  FluxionClientEvents,
  FluxionClientOptions,
  FluxionRecord,
  GetValuesParams,
  KeyParams,
  OperationOptions,
  ReconnectPolicy,
  RecordKey,
  SetValueParams,
  StoredPoint,
  TlsOptions,
} from './types.js';
