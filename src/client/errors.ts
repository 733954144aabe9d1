/**
 * Errors of the FluxionDB client. This folder imports nothing from the rest of
 * fluxion-edge so that it can be published on its own; its codes are FLUXION_ERR_*.
 */
export const FluxionErrorCodes = {
  /** The server answered the upgrade with 401 (`reason` holds its body). Not retried hot. */
  AUTH: 'FLUXION_ERR_AUTH',
  /** The key lacks the scope this operation needs (`{"error":"permission denied"}`). */
  PERMISSION_DENIED: 'FLUXION_ERR_PERMISSION_DENIED',
  /** Any other `{"error": ...}` answer from the server; the text is in `serverMessage`. */
  SERVER: 'FLUXION_ERR_SERVER',
  /** No answer within the request timeout. The request may or may not have been applied. */
  TIMEOUT: 'FLUXION_ERR_TIMEOUT',
  /** The socket closed while the request was in flight; `closeCode` says how (1006, 1008...). */
  CONNECTION_CLOSED: 'FLUXION_ERR_CONNECTION_CLOSED',
  /** The connection could not be opened (refused, DNS, TLS, connect timeout). */
  CONNECT: 'FLUXION_ERR_CONNECT',
  /** A call's arguments failed validation; nothing was sent. `field` names the culprit. */
  VALIDATION: 'FLUXION_ERR_VALIDATION',
  /** The client was closed (by `close()`), so the operation cannot run. */
  CLIENT_CLOSED: 'FLUXION_ERR_CLIENT_CLOSED',
  /** The server sent something that is not the protocol (not JSON, unknown id). */
  PROTOCOL: 'FLUXION_ERR_PROTOCOL',
  /** The caller's AbortSignal fired; `cause` is the signal's reason. */
  ABORTED: 'FLUXION_ERR_ABORTED',
} as const;

export type FluxionErrorCode = (typeof FluxionErrorCodes)[keyof typeof FluxionErrorCodes];

export interface FluxionErrorDetails {
  cause?: unknown;
  /** WebSocket close code, for CONNECTION_CLOSED. */
  closeCode?: number;
  /** HTTP status of a refused upgrade, for AUTH and CONNECT. */
  status?: number;
  /** The server's own text (401 body or `error` field). */
  serverMessage?: string;
  /** The offending argument path, for VALIDATION (e.g. `records[3].ts`). */
  field?: string;
  /** The message type of the request that failed, when there was one. */
  requestType?: string;
}

export class FluxionError extends Error {
  readonly code: FluxionErrorCode;
  readonly closeCode: number | undefined;
  readonly status: number | undefined;
  readonly serverMessage: string | undefined;
  readonly field: string | undefined;
  readonly requestType: string | undefined;

  constructor(code: FluxionErrorCode, message: string, details: FluxionErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'FluxionError';
    this.code = code;
    this.closeCode = details.closeCode;
    this.status = details.status;
    this.serverMessage = details.serverMessage;
    this.field = details.field;
    this.requestType = details.requestType;
  }
}

export function isFluxionError(err: unknown, code?: FluxionErrorCode): err is FluxionError {
  return err instanceof FluxionError && (code === undefined || err.code === code);
}

/**
 * True when the server refused the key itself (401) or its scope (permission denied):
 * retrying at once cannot help, only a fixed key or scope does.
 */
export function isAuthRefusal(err: unknown): err is FluxionError {
  return isFluxionError(err) && (err.code === FluxionErrorCodes.AUTH || err.code === FluxionErrorCodes.PERMISSION_DENIED);
}
