export { AraClient, type AraClientOptions, type TokenSource } from './client.js';
export {
  AraError,
  ERROR_CODES,
  describe,
  closeReason,
  type ErrorAction,
  type ErrorCode,
  type ErrorInfo,
  type ErrorSource,
} from './errors.js';
export { Backoff, type BackoffOptions } from './backoff.js';
export { tokenExpiry } from './token.js';
export type {
  AckResult,
  ClientEvents,
  ConnectedEvent,
  ConnectionState,
  Notification,
  Priority,
  ReceivedNotification,
  StateEvent,
  TransportKind,
} from './types.js';
export type { EventSourceConstructor, EventSourceLike, WebSocketConstructor, WebSocketLike } from './transports.js';
