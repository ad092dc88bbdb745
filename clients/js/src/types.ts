/** The wire format of docs/PROTOCOL.md and docs/API.md, and the client's events. */

import type { AraError } from './errors.js';

export type Priority = 'Low' | 'Normal' | 'High' | 'Critical';

/** A notification as the server sends it (WebSocket frame or SSE `notification` event). */
export interface Notification {
  id: string;
  event_type: string;
  payload: unknown;
  priority: Priority;
  /** When the server accepted it, RFC 3339. */
  timestamp: string;
  /** Seconds the sender gave it to live, when set. */
  ttl?: number;
}

export type AckResult =
  /** The server recorded the ACK. */
  | 'acked'
  /** It was acknowledged before (a replay or redelivery of one already handled). */
  | 'already-acknowledged'
  /** The server does not track it: a broadcast or channel notification, or ACKs are disabled. */
  | 'not-tracked'
  /** Its ACK deadline had passed. */
  | 'expired'
  /** The connection is SSE, which has no way to acknowledge. */
  | 'unsupported';

/** What a `notification` listener receives. */
export interface ReceivedNotification extends Notification {
  transport: TransportKind;
  /**
   * Acknowledges it (with `ack: 'manual'`; `auto` does it after the listeners ran). While offline the
   * ACK waits and is sent on the next connection. Rejects with an `AraError` when the server refuses it
   * for a reason that needs attention (`NOT_YOUR_NOTIFICATION`, `INVALID_NOTIFICATION_ID`, or
   * `ACK_STORE_UNAVAILABLE` after the retries).
   */
  ack(): Promise<AckResult>;
}

export type TransportKind = 'websocket' | 'sse';

export type ConnectionState = 'idle' | 'connecting' | 'connected' | 'reconnecting' | 'closed';

export interface ConnectedEvent {
  connectionId: number;
  userId: string;
  tenantId: string;
  transport: TransportKind;
  /** True for every connection after the first: channels were subscribed again. */
  reconnected: boolean;
  /** Why this connection was opened. */
  reason: 'connect' | 'reconnect' | 'token-refresh' | 'channels-changed';
}

export interface StateEvent {
  state: ConnectionState;
  previous: ConnectionState;
  /** What ended the connection or the attempt, for `reconnecting` and `closed`. */
  error?: AraError;
  /** With `reconnecting`: the wait before the next attempt. */
  delayMs?: number;
}

export interface ClientEvents {
  notification: ReceivedNotification;
  connected: ConnectedEvent;
  subscribed: { channels: string[] };
  unsubscribed: { channels: string[] };
  acked: { notificationId: string };
  error: AraError;
  /** The server dropped `count` older notifications because the client read too slowly. */
  dropped: { count: number };
  state: StateEvent;
  /** The token was replaced on the live connection (Refresh frame) or by a new connection. */
  'token-refreshed': { method: 'refresh-frame' | 'reconnect' };
}

/** A server frame, loosely typed: unknown types are passed over. */
export interface ServerFrame {
  type: string;
  [field: string]: unknown;
}
