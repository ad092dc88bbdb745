/**
 * `AraClient`: one logical connection to Ara that survives the network. It reconnects with back-off,
 * subscribes its channels again, gets the offline queue replayed by the server, de-duplicates replays
 * and redeliveries by id, acknowledges, refreshes its token, and falls back to SSE when WebSocket is
 * blocked.
 */

import { Backoff, type BackoffOptions } from './backoff.js';
import { Emitter } from './emitter.js';
import { AraError, closeReason, describe } from './errors.js';
import { Pending, type PendingKind } from './pending.js';
import { probeConnect } from './probe.js';
import { tokenExpiry } from './token.js';
import {
  openEventSource,
  openWebSocket,
  type EventSourceConstructor,
  type Transport,
  type WebSocketConstructor,
} from './transports.js';
import type {
  AckResult,
  ClientEvents,
  ConnectedEvent,
  ConnectionState,
  Notification,
  ReceivedNotification,
  ServerFrame,
  TransportKind,
} from './types.js';

export type TokenSource = string | (() => string | Promise<string>);

export interface AraClientOptions {
  /** The server's base URL, `http(s)://host:port` (a `ws(s)://` one works too). */
  url: string;
  /**
   * A JWT, or a function that returns one. The function is called for every connection attempt after
   * an authentication refusal, and before the token expires (`refreshBeforeExpirySeconds`).
   */
  token: TokenSource;
  /** Channels to subscribe on every connection. */
  channels?: string[];
  /** `auto` (default): WebSocket, SSE when WebSocket is blocked. */
  transport?: 'auto' | 'websocket' | 'sse';
  /** `auto` (default) acknowledges each notification after the listeners ran; `manual`: call `ack()`. */
  ack?: 'auto' | 'manual';
  reconnect?: BackoffOptions & {
    /** Attempts after which the client stops (default: never). */
    maxAttempts?: number;
  };
  /** Seconds before `exp` to fetch a new token (default 30). Needs `token` to be a function. */
  refreshBeforeExpirySeconds?: number;
  /** Application-level Ping every this many ms to find a dead connection (default 25000; 0: off). */
  pingIntervalMs?: number;
  /** How long to wait for a pong, or a reply, before the connection counts as dead (default 10000). */
  replyTimeoutMs?: number;
  /** Notification ids remembered to drop repeats (replays, redeliveries); default 1000. */
  dedupeSize?: number;
  /** How often an ACK refused with `ACK_STORE_UNAVAILABLE` is tried again (default 5). */
  ackRetries?: number;
  /** Connect at construction (default true). */
  autoConnect?: boolean;
  /** Defaults to the global `WebSocket`. */
  WebSocket?: WebSocketConstructor;
  /** Defaults to the global `EventSource`. */
  EventSource?: EventSourceConstructor;
  /** Defaults to the global `fetch`; used to learn why a connection was refused. */
  fetch?: typeof fetch;
}

type OpenReason = ConnectedEvent['reason'];

/** Codes of `error` frames that describe the connection, not a reply to one of our frames. */
const UNSOLICITED = new Set([
  'SLOW_CONSUMER',
  'SHUTTING_DOWN',
  'IDLE_TIMEOUT',
  'POLICY_VIOLATION',
  'INVALID_PAYLOAD',
  'MESSAGE_TOO_BIG',
  'PROTOCOL_ERROR',
  'TOKEN_EXPIRED',
  'TOKEN_REVOKED',
  'TENANT_SUSPENDED',
  'TENANT_DELETED',
]);
/** Frame types that are not replies. */
const EVENTS = new Set(['connected', 'notification', 'dropped', 'heartbeat', 'token_expiring']);

interface Link {
  transport: Transport;
  pending: Pending;
  reason: OpenReason;
  connected: boolean;
}

export class AraClient extends Emitter<ClientEvents> {
  private readonly options: AraClientOptions;
  private readonly backoff: Backoff;
  private readonly channels = new Set<string>();
  private readonly seen = new Map<string, true>();
  /** ACKs not yet sent (offline) or not yet answered; sent again on the next connection. */
  private readonly acks = new Map<string, { resolve(r: AckResult): void; reject(e: AraError): void; tries: number }>();
  private link?: Link;
  /** A second connection being opened to replace `link` (token refresh, changed SSE channels). */
  private standby?: Link;
  private current: ConnectionState = 'idle';
  private token?: string;
  /** The last attempt was refused for its token. */
  private authRefused = false;
  /** The last attempt found WebSocket blocked while the server answers: the next one uses SSE. */
  private fallbackNext = false;
  private everConnected = false;
  private sseSticky = false;
  private refreshFrame: 'unknown' | 'supported' | 'unsupported' = 'unknown';
  private timers = new Set<ReturnType<typeof setTimeout>>();
  private refreshTimer?: ReturnType<typeof setTimeout>;
  private pingTimer?: ReturnType<typeof setInterval>;
  private attemptId = 0;

  constructor(options: AraClientOptions) {
    super();
    this.options = options;
    this.backoff = new Backoff(options.reconnect);
    for (const c of options.channels ?? []) this.channels.add(c);
    if (options.autoConnect ?? true) this.connect();
  }

  get state(): ConnectionState {
    return this.current;
  }

  /** The transport of the open connection, if any. */
  get transport(): TransportKind | undefined {
    return this.link?.connected ? this.link.transport.kind : undefined;
  }

  /** The channels subscribed on every connection. */
  get subscriptions(): string[] {
    return [...this.channels].sort();
  }

  /** Starts connecting (again, after `close()`). */
  connect(): void {
    if (this.current === 'connecting' || this.current === 'connected' || this.current === 'reconnecting') return;
    this.setState('connecting');
    void this.attempt();
  }

  /** Closes the connection and stops reconnecting. Unanswered ACKs are rejected. */
  close(): void {
    this.teardown();
    if (this.current !== 'closed') this.setState('closed');
  }

  private teardown(): void {
    this.attemptId++;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.stopLinkTimers();
    this.dropLink(this.standby);
    this.standby = undefined;
    this.dropLink(this.link);
    this.link = undefined;
    for (const [, a] of this.acks) a.reject(new AraError('NOT_CONNECTED', 'the client was closed', { source: 'client' }));
    this.acks.clear();
  }

  /**
   * Adds channels, kept for every later connection. Over WebSocket resolves with the server's answer,
   * or rejects with its refusal (`INVALID_CHANNEL`, `SUBSCRIPTION_LIMIT`: those channels are dropped).
   */
  async subscribe(channels: string[]): Promise<string[]> {
    const fresh = channels.filter((c) => !this.channels.has(c));
    fresh.forEach((c) => this.channels.add(c));
    const link = this.link;
    if (!link?.connected || fresh.length === 0) return fresh;
    if (link.transport.kind === 'sse') {
      this.replaceLink('channels-changed');
      return fresh;
    }
    try {
      const reply = await this.request(link, 'subscribe', { type: 'Subscribe', payload: { channels: fresh } });
      const added = stringList(reply.channels);
      this.emit('subscribed', { channels: added });
      return added;
    } catch (e) {
      const code = (e as AraError).code;
      // The connection went before the answer: the channels are subscribed on the next one.
      if (code === 'NOT_CONNECTED' || code === 'REPLY_TIMEOUT') return fresh;
      // A refused subscription would be refused on every reconnect too.
      fresh.forEach((c) => this.channels.delete(c));
      throw e;
    }
  }

  async unsubscribe(channels: string[]): Promise<string[]> {
    const had = channels.filter((c) => this.channels.delete(c));
    const link = this.link;
    if (!link?.connected || had.length === 0) return had;
    if (link.transport.kind === 'sse') {
      this.replaceLink('channels-changed');
      return had;
    }
    const reply = await this.request(link, 'unsubscribe', { type: 'Unsubscribe', payload: { channels: had } });
    const removed = stringList(reply.channels);
    this.emit('unsubscribed', { channels: removed });
    return removed;
  }

  /** Acknowledges a notification by id (see `ReceivedNotification.ack`). */
  ack(notificationId: string): Promise<AckResult> {
    if (this.link?.connected && this.link.transport.kind === 'sse') return Promise.resolve('unsupported');
    const existing = this.acks.get(notificationId);
    if (existing) {
      return new Promise((resolve, reject) => {
        const prev = existing;
        this.acks.set(notificationId, {
          tries: prev.tries,
          resolve: (r) => (prev.resolve(r), resolve(r)),
          reject: (e) => (prev.reject(e), reject(e)),
        });
      });
    }
    return new Promise((resolve, reject) => {
      this.acks.set(notificationId, { resolve, reject, tries: 0 });
      this.sendAck(notificationId);
    });
  }

  // --- connecting ---------------------------------------------------------------------------------

  private async attempt(): Promise<void> {
    const id = ++this.attemptId;
    let token: string;
    try {
      token = await this.currentToken();
    } catch (e) {
      if (id !== this.attemptId) return;
      return this.failed(new AraError('TOKEN_PROVIDER_FAILED', errorText(e), { source: 'client', cause: e }));
    }
    if (id !== this.attemptId) return;
    const kind = this.chooseTransport();
    try {
      this.link = this.open(kind, token, this.everConnected ? 'reconnect' : 'connect');
    } catch (e) {
      this.stop(new AraError('CONNECTION_FAILED', errorText(e), { source: 'client', cause: e }));
    }
  }

  private chooseTransport(): TransportKind {
    const wanted = this.options.transport ?? 'auto';
    if (wanted === 'sse' || (wanted === 'auto' && this.sseSticky)) return 'sse';
    return 'websocket';
  }

  private open(kind: TransportKind, token: string, reason: OpenReason): Link {
    const pending = new Pending();
    const link: Link = { transport: undefined as unknown as Transport, pending, reason, connected: false };
    const handlers = {
      onFrame: (frame: ServerFrame) => this.onFrame(link, frame),
      onClose: (info: { code?: number; reason?: string; opened: boolean }) => this.onClose(link, token, info),
      onInterrupted: () => this.onInterrupted(link),
    };
    if (kind === 'websocket') {
      const Ctor = this.options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
      if (!Ctor) throw new Error('no WebSocket implementation: pass options.WebSocket');
      link.transport = openWebSocket(Ctor, this.endpoint('ws', token), handlers);
    } else {
      const Ctor = this.options.EventSource ?? (globalThis as { EventSource?: EventSourceConstructor }).EventSource;
      if (!Ctor) throw new Error('no EventSource implementation: pass options.EventSource');
      link.transport = openEventSource(Ctor, this.endpoint('sse', token), handlers);
    }
    return link;
  }

  private endpoint(kind: 'ws' | 'sse' | 'probe', token: string): string {
    const base = new URL(this.options.url);
    const secure = base.protocol === 'https:' || base.protocol === 'wss:';
    const http = secure ? 'https:' : 'http:';
    const path = base.pathname.replace(/\/$/, '');
    const url = new URL(`${kind === 'ws' ? (secure ? 'wss:' : 'ws:') : http}//${base.host}${path}`);
    url.pathname = `${path}/${kind === 'sse' ? 'sse' : 'ws'}`;
    url.searchParams.set('token', token);
    if (kind === 'sse' && this.channels.size > 0) url.searchParams.set('channels', this.subscriptions.join(','));
    return url.toString();
  }

  private async currentToken(): Promise<string> {
    const source = this.options.token;
    if (typeof source === 'string') return (this.token = source);
    // Called for every connection: the application may have a newer token than the last one.
    const fresh = await source();
    if (typeof fresh !== 'string' || fresh.length === 0) throw new Error('the token callback returned no token');
    this.token = fresh;
    return fresh;
  }

  private refreshLeadMs(): number {
    return (this.options.refreshBeforeExpirySeconds ?? 30) * 1000;
  }

  private onFrame(link: Link, frame: ServerFrame): void {
    switch (frame.type) {
      case 'connected':
        return this.onConnected(link, frame);
      case 'notification':
        if (link === this.link || link === this.standby) this.onNotification(link, frame as unknown as Notification);
        return;
      case 'dropped':
        return this.emit('dropped', { count: Number(frame.count) || 0 });
      case 'heartbeat':
        return;
      case 'token_expiring':
        if (link === this.link) void this.refreshToken();
        return;
      case 'error': {
        const code = String(frame.code ?? 'UNKNOWN_ERROR');
        const message = String(frame.message ?? describe(code).description);
        if (UNSOLICITED.has(code) || link.pending.size === 0) {
          this.emit('error', new AraError(code, message, { source: 'close' }));
          return;
        }
        link.pending.fail(code, message);
        return;
      }
      default:
        if (!EVENTS.has(frame.type)) link.pending.answer(frame);
    }
  }

  private onConnected(link: Link, frame: ServerFrame): void {
    if (link !== this.link && link !== this.standby) return;
    const wasConnected = link.connected;
    link.connected = true;
    const event: ConnectedEvent = {
      connectionId: Number(frame.connection_id),
      userId: String(frame.user_id ?? ''),
      tenantId: String(frame.tenant_id ?? ''),
      transport: link.transport.kind,
      reconnected: this.everConnected,
      reason: wasConnected ? 'reconnect' : link.reason,
    };
    if (link === this.standby) return void this.promoteStandby(link, event);
    this.everConnected = true;
    this.backoff.reset();
    if (this.options.transport !== 'websocket' && link.transport.kind === 'sse') this.sseSticky = true;
    this.setState('connected');
    this.emit('connected', event);
    if (link.transport.kind === 'websocket') this.resumeOn(link);
    else if (this.channels.size > 0) this.emit('subscribed', { channels: this.subscriptions });
    this.startLinkTimers(link);
  }

  /** Subscribes the channels again and sends the ACKs that did not get an answer. */
  private resumeOn(link: Link, then?: () => void): void {
    const channels = this.subscriptions;
    const acked = [...this.acks.keys()];
    acked.forEach((id) => this.sendAck(id, link));
    if (channels.length === 0) return then?.();
    this.request(link, 'subscribe', { type: 'Subscribe', payload: { channels } }).then(
      (reply) => {
        this.emit('subscribed', { channels: stringList(reply.channels) });
        then?.();
      },
      (e: AraError) => {
        this.emit('error', e);
        then?.();
      },
    );
  }

  private onNotification(link: Link, n: Notification): void {
    if (typeof n.id !== 'string') return;
    const kind = link.transport.kind;
    const repeat = this.seen.has(n.id);
    this.remember(n.id);
    const auto = (this.options.ack ?? 'auto') === 'auto' && kind === 'websocket';
    if (repeat) {
      // Already handed to the listeners; a repeat means the server has not seen our ACK.
      if (auto) this.autoAck(n.id);
      return;
    }
    const received: ReceivedNotification = {
      ...n,
      transport: kind,
      ack: () => (kind === 'sse' ? Promise.resolve('unsupported' as const) : this.ack(n.id)),
    };
    delete (received as { type?: unknown }).type;
    this.emit('notification', received);
    if (auto) this.autoAck(n.id);
  }

  private autoAck(id: string): void {
    this.ack(id).catch((e: AraError) => this.emit('error', e));
  }

  private remember(id: string): void {
    this.seen.set(id, true);
    const max = this.options.dedupeSize ?? 1000;
    while (this.seen.size > max) {
      const oldest = this.seen.keys().next().value;
      if (oldest === undefined) break;
      this.seen.delete(oldest);
    }
  }

  private sendAck(id: string, link = this.link): void {
    if (!link?.connected || link.transport.kind !== 'websocket') return;
    this.request(link, 'ack', { type: 'Ack', payload: { notification_id: id } }).then(
      () => this.settleAck(id, 'acked'),
      (e: AraError) => this.ackRefused(id, e),
    );
  }

  private ackRefused(id: string, e: AraError): void {
    switch (e.code) {
      case 'ALREADY_ACKNOWLEDGED':
        return this.settleAck(id, 'already-acknowledged');
      case 'UNKNOWN_NOTIFICATION':
      case 'ACK_DISABLED':
        return this.settleAck(id, 'not-tracked');
      case 'ACK_EXPIRED':
        return this.settleAck(id, 'expired');
      case 'NOT_CONNECTED':
      case 'REPLY_TIMEOUT':
        // The connection went; the ACK stays in `acks` and is sent on the next one.
        return;
      case 'ACK_STORE_UNAVAILABLE': {
        const entry = this.acks.get(id);
        if (entry && entry.tries < (this.options.ackRetries ?? 5)) {
          entry.tries += 1;
          this.later(() => this.sendAck(id), Math.min(10_000, 500 * 2 ** entry.tries));
          return;
        }
        break;
      }
    }
    const entry = this.acks.get(id);
    this.acks.delete(id);
    entry?.reject(
      new AraError(e.code, e.message.replace(/^[A-Z_]+: /, ''), { source: 'ack', notificationId: id }),
    );
  }

  private settleAck(id: string, result: AckResult): void {
    const entry = this.acks.get(id);
    this.acks.delete(id);
    if (result === 'acked') this.emit('acked', { notificationId: id });
    entry?.resolve(result);
  }

  private request(link: Link, kind: PendingKind, frame: object): Promise<ServerFrame> {
    const reply = link.pending.add(kind, this.options.replyTimeoutMs ?? 10_000);
    if (!link.transport.send(frame)) {
      link.pending.failAll(new AraError('NOT_CONNECTED', 'the connection is not open', { source: 'client' }));
    }
    reply.catch((e: AraError) => {
      // A connection that does not answer is dead even if the socket does not know it yet.
      if (e.code === 'REPLY_TIMEOUT' && (link === this.link || link === this.standby)) {
        link.transport.close();
        this.onClose(link, this.token ?? '', { opened: true, code: 1006, reason: 'no answer from the server' });
      }
    });
    return reply;
  }

  // --- losing the connection ----------------------------------------------------------------------

  private onInterrupted(link: Link): void {
    if (link !== this.link) return;
    link.connected = false;
    link.reason = 'reconnect';
    this.stopLinkTimers();
    // The browser reconnects the stream itself, sending Last-Event-ID.
    this.setState('reconnecting', new AraError('CONNECTION_CLOSED', 'the event stream broke', { source: 'close' }));
  }

  private onClose(link: Link, token: string, info: { code?: number; reason?: string; opened: boolean }): void {
    link.pending.failAll(new AraError('NOT_CONNECTED', 'the connection closed', { source: 'client' }));
    if (link === this.standby) {
      this.standby = undefined;
      void this.diagnose(token, link.transport.kind, info).then((e) => {
        this.emit('error', e);
        const retry = link.reason === 'token-refresh' ? () => void this.refreshToken() : () => this.replaceLink(link.reason);
        this.later(retry, Math.max(1000, this.backoff.next()));
      });
      return;
    }
    if (link !== this.link) return;
    this.stopLinkTimers();
    this.link = undefined;
    if (info.opened && link.connected) {
      const text = info.reason ? `${closeReason(info.code ?? 1006)}: ${info.reason}` : closeReason(info.code ?? 1006);
      return this.failed(new AraError('CONNECTION_CLOSED', text, { source: 'close' }));
    }
    const id = this.attemptId;
    void this.diagnose(token, link.transport.kind, info).then((error) => {
      if (id === this.attemptId) this.failed(error);
    });
  }

  /** Asks the server why a connection was refused: browsers do not expose the HTTP answer. */
  private async diagnose(
    token: string,
    kind: TransportKind,
    info: { code?: number; reason?: string },
  ): Promise<AraError> {
    const fetcher = this.options.fetch ?? globalThis.fetch?.bind(globalThis);
    const result = await probeConnect(fetcher, this.endpoint('probe', token));
    if (result.reachable && result.code === 'WEBSOCKET_UPGRADE_REQUIRED') {
      // The token and the server are fine, yet the connection failed.
      if (kind === 'websocket' && (this.options.transport ?? 'auto') === 'auto') {
        this.fallbackNext = true;
        return new AraError('CONNECTION_FAILED', 'WebSocket looks blocked; trying SSE', { source: 'connect' });
      }
      if (kind === 'sse') this.sseSticky = false;
      return new AraError('CONNECTION_FAILED', `the ${kind} connection failed (${info.reason ?? info.code ?? 'refused'})`, {
        source: 'connect',
      });
    }
    if (!result.reachable) {
      return new AraError('CONNECTION_FAILED', `the server could not be reached: ${result.message}`, {
        source: 'connect',
      });
    }
    return new AraError(result.code, result.message, {
      source: 'connect',
      status: result.status,
      retryAfterSeconds: result.retryAfterSeconds,
    });
  }


  private failed(error: AraError): void {
    if (this.current === 'closed') return;
    this.emit('error', error);
    let delay = this.backoff.next();
    if (error.action === 'refresh-token') {
      if (typeof this.options.token === 'string') return this.stop(error);
      // A fresh token may well be accepted at once; only a second refusal in a row waits.
      if (!this.authRefused) delay = 0;
      this.authRefused = true;
    } else if (error.action === 'fatal') {
      return this.stop(error);
    } else {
      this.authRefused = false;
    }
    if (this.fallbackNext) {
      this.fallbackNext = false;
      this.sseSticky = true;
      delay = 0;
    } else if (error.code === 'CONNECTION_FAILED' && this.sseSticky && this.options.transport !== 'sse') {
      // SSE failed as well: the server, not WebSocket, is the problem. Try WebSocket first again.
      this.sseSticky = false;
    }
    if (error.retryAfterSeconds) delay = Math.max(delay, error.retryAfterSeconds * 1000);
    const max = this.options.reconnect?.maxAttempts;
    if (max !== undefined && this.backoff.attempts > max) return this.stop(error);
    this.setState('reconnecting', error, delay);
    const id = this.attemptId;
    this.later(() => {
      if (id === this.attemptId && this.current === 'reconnecting') void this.attempt();
    }, delay);
  }

  private stop(error: AraError): void {
    this.teardown();
    this.setState('closed', error);
  }

  // --- token refresh ------------------------------------------------------------------------------

  private scheduleRefresh(): void {
    if (this.refreshTimer) clearTimeout(this.refreshTimer);
    this.refreshTimer = undefined;
    if (typeof this.options.token === 'string' || !this.token) return;
    const exp = tokenExpiry(this.token);
    if (exp === undefined) return;
    const wait = Math.max(1000, exp - this.refreshLeadMs() - Date.now());
    this.refreshTimer = setTimeout(() => void this.refreshToken(), Math.min(wait, 2 ** 31 - 1));
  }

  /** Gets a new token and moves the live connection to it: a Refresh frame if the server has one. */
  async refreshToken(): Promise<void> {
    const link = this.link;
    if (typeof this.options.token === 'string' || !link?.connected || this.standby) return;
    let token: string;
    try {
      token = await this.currentToken();
    } catch (e) {
      this.emit('error', new AraError('TOKEN_PROVIDER_FAILED', errorText(e), { source: 'client', cause: e }));
      this.later(() => void this.refreshToken(), 5000);
      return;
    }
    if (link !== this.link || !link.connected) return;
    if (link.transport.kind === 'websocket' && this.refreshFrame !== 'unsupported') {
      try {
        await this.request(link, 'refresh', { type: 'Refresh', payload: { token } });
        this.refreshFrame = 'supported';
        this.emit('token-refreshed', { method: 'refresh-frame' });
        this.scheduleRefresh();
        return;
      } catch (e) {
        const code = (e as AraError).code;
        if (code !== 'INVALID_FRAME') {
          if (code !== 'NOT_CONNECTED') this.emit('error', e as AraError);
          return;
        }
        // This server has no Refresh frame: move to a new connection instead.
        this.refreshFrame = 'unsupported';
      }
    }
    this.replaceLink('token-refresh', token);
  }

  /**
   * Opens a new connection beside the live one and switches once it is subscribed, so nothing sent in
   * between is missed (the server gives a user's notifications to both; repeats are dropped by id).
   */
  private replaceLink(reason: OpenReason, token = this.token): void {
    if (!token || !this.link || this.standby) return;
    this.standby = this.open(this.link.transport.kind, token, reason);
  }

  private promoteStandby(link: Link, event: ConnectedEvent): void {
    const switchOver = () => {
      if (link !== this.standby) return;
      const old = this.link;
      this.standby = undefined;
      this.link = link;
      this.stopLinkTimers();
      this.dropLink(old);
      this.emit('connected', event);
      if (event.reason === 'token-refresh') this.emit('token-refreshed', { method: 'reconnect' });
      this.startLinkTimers(link);
    };
    if (link.transport.kind === 'websocket') this.resumeOn(link, switchOver);
    else switchOver();
  }

  // --- timers -------------------------------------------------------------------------------------

  private startLinkTimers(link: Link): void {
    this.scheduleRefresh();
    const every = this.options.pingIntervalMs ?? 25_000;
    if (every <= 0 || link.transport.kind !== 'websocket') return;
    this.pingTimer = setInterval(() => {
      this.request(link, 'ping', { type: 'Ping' }).catch(() => undefined);
    }, every);
  }

  private stopLinkTimers(): void {
    if (this.pingTimer) clearInterval(this.pingTimer);
    if (this.refreshTimer) clearTimeout(this.refreshTimer);
    this.pingTimer = undefined;
    this.refreshTimer = undefined;
  }

  private dropLink(link?: Link): void {
    if (!link) return;
    link.transport.close();
    link.pending.failAll(new AraError('NOT_CONNECTED', 'the connection was replaced', { source: 'client' }));
  }

  private later(fn: () => void, ms: number): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    this.timers.add(t);
  }

  private setState(state: ConnectionState, error?: AraError, delayMs?: number): void {
    const previous = this.current;
    if (previous === state && !error) return;
    this.current = state;
    this.emit('state', { state, previous, error, delayMs });
  }
}

function stringList(value: unknown): string[] {
  return Array.isArray(value) ? value.map(String) : [];
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
