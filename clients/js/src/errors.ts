/**
 * Every error code the Ara server sends (HTTP refusals before a connection, WebSocket `error` frames,
 * SSE `error` events) and the few the client raises itself, each with what the client does about it.
 */

/** What the client does when it meets an error. */
export type ErrorAction =
  /** Fetch a fresh token (when a token callback is set) and connect again; with a fixed token, stop. */
  | 'refresh-token'
  /** Connect again after the back-off delay. */
  | 'retry'
  /** Nothing: a request was refused, the connection stays open. */
  | 'report'
  /** Stop reconnecting: the same request would be refused again. */
  | 'fatal';

export interface ErrorInfo {
  action: ErrorAction;
  description: string;
}

const auth = (description: string): ErrorInfo => ({ action: 'refresh-token', description });
const retry = (description: string): ErrorInfo => ({ action: 'retry', description });
const report = (description: string): ErrorInfo => ({ action: 'report', description });
const fatal = (description: string): ErrorInfo => ({ action: 'fatal', description });

/** The codes of docs/PROTOCOL.md, docs/API.md and docs/DELIVERY.md, and the client's own. */
export const ERROR_CODES = {
  // Refusals of a connection (HTTP 401 before the upgrade or the stream).
  MISSING_TOKEN: auth('no token was given'),
  TOKEN_EXPIRED: auth('the token has expired'),
  TOKEN_NOT_YET_VALID: auth('the token is not valid yet (nbf)'),
  INVALID_SIGNATURE: auth('the token is not signed with the server key'),
  INVALID_ALGORITHM: auth('the token uses an algorithm the server does not accept'),
  INVALID_AUDIENCE: auth('the token audience (aud) does not match'),
  INVALID_ISSUER: auth('the token issuer (iss) does not match'),
  INVALID_TOKEN: auth('the token cannot be read'),
  INVALID_CLAIMS: auth('the token lacks a required claim or has a malformed one'),
  TOKEN_REVOKED: auth('the token was revoked'),
  UNKNOWN_KEY: auth('the token names a signing key (kid) the server does not have'),
  WRONG_TENANT: auth("the token claims a tenant other than the one whose key signed it"),
  // Refusals that pass with time.
  USER_CONNECTION_LIMIT: retry('the user already has the most connections allowed'),
  SERVER_FULL: retry('the server is at its connection limit'),
  SHUTTING_DOWN: retry('the server is shutting down'),
  RATE_LIMIT_EXCEEDED: retry('too many connection attempts from this address'),
  IP_CONNECTION_LIMIT: retry('too many open connections from this address'),
  TENANT_QUOTA_EXCEEDED: retry('a quota of the tenant is used up'),
  KEYS_UNAVAILABLE: retry('the server cannot fetch the keys to check the token (JWKS) right now'),
  INTERNAL_ERROR: retry('the server failed; details are in its log'),
  // Why the server ended a connection (an error frame or SSE error event before it closes).
  SLOW_CONSUMER: retry('the client read too slowly and was disconnected'),
  IDLE_TIMEOUT: retry('nothing was received from the client for too long'),
  POLICY_VIOLATION: retry('the connection broke a protocol rule and was closed'),
  CONNECTION_CLOSED: retry('the connection was closed'),
  // The client broke the transport's rules; the server closed with 1007, 1009 or 1002.
  INVALID_PAYLOAD: retry('the client sent a text frame that is not valid UTF-8'),
  MESSAGE_TOO_BIG: retry('the client sent a frame larger than the server accepts'),
  PROTOCOL_ERROR: retry('the client broke the WebSocket framing rules'),
  // Refused connections that would be refused again.
  WEBSOCKET_UPGRADE_REQUIRED: report('the /ws endpoint was reached without a WebSocket upgrade'),
  VALIDATION_ERROR: fatal('a channel name or another value is invalid'),
  TENANT_SUSPENDED: fatal('the tenant is suspended'),
  TENANT_DELETED: fatal('the tenant was deleted'),
  ORIGIN_NOT_ALLOWED: fatal("the page's origin is not in the server's CORS_ORIGINS"),
  // Refused frames: the connection stays open.
  INVALID_FRAME: report('the server did not understand a frame'),
  UNSUPPORTED_FRAME: report('binary frames are not supported'),
  INVALID_CHANNEL: report('a channel name is invalid (1-64 of A-Z a-z 0-9 _ . -)'),
  SUBSCRIPTION_LIMIT: report('subscribing would pass the per-connection channel limit'),
  // Refused ACKs.
  INVALID_NOTIFICATION_ID: report('the acknowledged id is not a UUID'),
  UNKNOWN_NOTIFICATION: report('no such notification was delivered (broadcast and channel ones are not tracked)'),
  NOT_YOUR_NOTIFICATION: report('the notification was delivered to another user'),
  ALREADY_ACKNOWLEDGED: report('the notification was acknowledged before'),
  ACK_EXPIRED: report('the deadline for acknowledging passed'),
  ACK_DISABLED: report('ACK tracking is disabled on the server'),
  ACK_STORE_UNAVAILABLE: report('the ACK store is unreachable; the client retries the ACK'),
  // The client's own.
  CONNECTION_FAILED: retry('the server could not be reached'),
  REPLY_TIMEOUT: retry('the server did not answer a ping or another frame in time'),
  TOKEN_PROVIDER_FAILED: retry('the token callback threw or returned no token'),
  NOT_CONNECTED: report('the request needs an open WebSocket connection'),
  UNKNOWN_ERROR: report('the server sent an error code this client does not know'),
} satisfies Record<string, ErrorInfo>;

export type ErrorCode = keyof typeof ERROR_CODES;

/** Where an error came from. */
export type ErrorSource = 'connect' | 'frame' | 'ack' | 'subscribe' | 'close' | 'client';

/** An error from the server or the client, with the server's code kept as it was sent. */
export class AraError extends Error {
  override readonly name = 'AraError';
  /** The server's code (`TOKEN_EXPIRED`, ...), or one of the client's own. */
  readonly code: string;
  readonly action: ErrorAction;
  readonly source: ErrorSource;
  /** The HTTP status of a refused connection, when known. */
  readonly status?: number;
  /** The notification an ACK error is about. */
  readonly notificationId?: string;
  /** Seconds to wait, from `Retry-After` or `retry_after_seconds`. */
  readonly retryAfterSeconds?: number;

  constructor(
    code: string,
    message: string,
    options: {
      source: ErrorSource;
      status?: number;
      notificationId?: string;
      retryAfterSeconds?: number;
      cause?: unknown;
    },
  ) {
    super(`${code}: ${message}`);
    this.code = code;
    this.action = describe(code).action;
    this.source = options.source;
    this.status = options.status;
    this.notificationId = options.notificationId;
    this.retryAfterSeconds = options.retryAfterSeconds;
    if (options.cause !== undefined) (this as { cause?: unknown }).cause = options.cause;
  }

  /** The documented meaning of the code. */
  get description(): string {
    return describe(this.code).description;
  }
}

/** The action and meaning of `code`; unknown codes are reported, not fatal. */
export function describe(code: string): ErrorInfo {
  return (ERROR_CODES as Record<string, ErrorInfo>)[code] ?? ERROR_CODES.UNKNOWN_ERROR;
}

/** The name of a WebSocket close code the server uses (docs/PROTOCOL.md). */
export function closeReason(code: number): string {
  switch (code) {
    case 1000:
      return 'idle timeout or normal close';
    case 1001:
      return 'server shutting down';
    case 1002:
      return 'protocol error';
    case 1006:
      return 'connection lost';
    case 1007:
      return 'text frame is not valid UTF-8';
    case 1008:
      return 'policy violation (slow consumer or too many bad frames)';
    case 1009:
      return 'message exceeds the size limit';
    case 4403:
      return 'the tenant is suspended';
    case 4404:
      return 'the tenant was deleted';
    default:
      return `closed with code ${code}`;
  }
}
