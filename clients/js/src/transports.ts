/**
 * The two ways to reach the server. Each only moves frames; reconnecting, replies and state live in
 * the client.
 */

import type { ServerFrame, TransportKind } from './types.js';

export interface TransportHandlers {
  onFrame(frame: ServerFrame): void;
  /** The transport is gone. `opened` tells whether it ever got through (a refused one did not). */
  onClose(info: { code?: number; reason?: string; opened: boolean }): void;
  /** SSE only: the browser lost the stream and reconnects by itself, with `Last-Event-ID`. */
  onInterrupted?(): void;
}

export interface Transport {
  readonly kind: TransportKind;
  /** Sends a client frame; false when the transport cannot (SSE, or not open). */
  send(frame: object): boolean;
  /** Ends the transport; its `onClose` is not called afterwards. */
  close(): void;
}

/** The parts of the DOM `WebSocket` the client uses, so that tests and Node can pass their own. */
export interface WebSocketLike {
  readonly readyState: number;
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}
export type WebSocketConstructor = new (url: string) => WebSocketLike;

/** The parts of the DOM `EventSource` the client uses. */
export interface EventSourceLike {
  readonly readyState: number;
  onopen: ((ev: unknown) => void) | null;
  addEventListener(type: string, listener: (ev: { data?: unknown; lastEventId?: string }) => void): void;
  close(): void;
}
export type EventSourceConstructor = new (url: string) => EventSourceLike;

const WS_OPEN = 1;
const ES_CLOSED = 2;

export function openWebSocket(Ctor: WebSocketConstructor, url: string, handlers: TransportHandlers): Transport {
  const socket = new Ctor(url);
  let opened = false;
  let done = false;
  socket.onopen = () => {
    opened = true;
  };
  socket.onmessage = (ev) => {
    if (done || typeof ev.data !== 'string') return;
    const frame = parse(ev.data);
    if (frame) handlers.onFrame(frame);
  };
  socket.onclose = (ev) => {
    if (done) return;
    done = true;
    handlers.onClose({ code: ev.code, reason: ev.reason, opened });
  };
  // An error is always followed by a close, which carries what there is to know.
  socket.onerror = () => undefined;
  return {
    kind: 'websocket',
    send(frame) {
      if (done || socket.readyState !== WS_OPEN) return false;
      socket.send(JSON.stringify(frame));
      return true;
    },
    close() {
      done = true;
      try {
        socket.close(1000, 'client closed');
      } catch {
        // Already closing.
      }
    },
  };
}

/** The SSE events of docs/API.md, turned into the WebSocket frames they mirror. */
const SSE_EVENTS = ['connected', 'notification', 'dropped', 'heartbeat', 'token_expiring'] as const;

export function openEventSource(Ctor: EventSourceConstructor, url: string, handlers: TransportHandlers): Transport {
  const source = new Ctor(url);
  let opened = false;
  let done = false;
  const finish = (info: { code?: number; reason?: string }) => {
    if (done) return;
    done = true;
    source.close();
    handlers.onClose({ ...info, opened });
  };
  source.onopen = () => {
    opened = true;
  };
  for (const type of SSE_EVENTS) {
    source.addEventListener(type, (ev) => {
      if (done || typeof ev.data !== 'string') return;
      const data = parse(ev.data);
      if (data) handlers.onFrame({ ...data, type: type === 'notification' ? 'notification' : type });
    });
  }
  // Both the server's `error` event (with data, just before it ends the stream) and the browser's own
  // (no data: the stream broke) arrive as `error`.
  source.addEventListener('error', (ev) => {
    if (done) return;
    if (typeof ev.data === 'string') {
      const data = parse(ev.data);
      if (data) handlers.onFrame({ ...data, type: 'error' });
      return;
    }
    if (source.readyState === ES_CLOSED) {
      // The browser gave up: a refusal (HTTP error) or a response that is not an event stream.
      finish({ reason: 'stream closed' });
    } else if (opened) {
      handlers.onInterrupted?.();
    } else {
      // Never got through and the browser would retry at its own pace: take over with our back-off.
      finish({ reason: 'stream refused' });
    }
  });
  return {
    kind: 'sse',
    send: () => false,
    close() {
      done = true;
      source.close();
    },
  };
}

function parse(text: string): ServerFrame | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return value && typeof value === 'object' && !Array.isArray(value) ? (value as ServerFrame) : undefined;
  } catch {
    return undefined;
  }
}
