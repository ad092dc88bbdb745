/** Stand-ins for the browser's WebSocket, EventSource and fetch, driven by the test as the server. */

export class FakeWebSocket {
  static instances: FakeWebSocket[] = [];
  readyState = 0;
  onopen: ((ev: unknown) => void) | null = null;
  onmessage: ((ev: { data: unknown }) => void) | null = null;
  onclose: ((ev: { code: number; reason: string }) => void) | null = null;
  onerror: ((ev: unknown) => void) | null = null;
  readonly sent: Array<Record<string, any>> = [];
  closedByClient = false;

  constructor(readonly url: string) {
    FakeWebSocket.instances.push(this);
  }

  static last(): FakeWebSocket {
    const ws = FakeWebSocket.instances.at(-1);
    if (!ws) throw new Error('no socket opened');
    return ws;
  }

  get token(): string | null {
    return new URL(this.url).searchParams.get('token');
  }

  /** The server accepts: open, then the `connected` frame. */
  accept(connectionId = 1, user = 'alice'): void {
    this.readyState = 1;
    this.onopen?.({});
    this.push({ type: 'connected', connection_id: connectionId, user_id: user, tenant_id: 'default' });
  }

  /** The handshake fails (what a browser reports for any refused upgrade). */
  refuse(): void {
    this.readyState = 3;
    this.onerror?.({});
    this.onclose?.({ code: 1006, reason: '' });
  }

  push(frame: object): void {
    this.onmessage?.({ data: JSON.stringify(frame) });
  }

  drop(code = 1006, reason = ''): void {
    this.readyState = 3;
    this.onclose?.({ code, reason });
  }

  send(data: string): void {
    this.sent.push(JSON.parse(data));
  }

  close(): void {
    this.closedByClient = true;
    this.readyState = 3;
  }

  framesOf(type: string): Array<Record<string, any>> {
    return this.sent.filter((f) => f.type === type);
  }
}

type Listener = (ev: { data?: unknown }) => void;

export class FakeEventSource {
  static instances: FakeEventSource[] = [];
  readyState = 0;
  onopen: ((ev: unknown) => void) | null = null;
  private listeners = new Map<string, Listener[]>();
  closed = false;

  constructor(readonly url: string) {
    FakeEventSource.instances.push(this);
  }

  addEventListener(type: string, l: Listener): void {
    this.listeners.set(type, [...(this.listeners.get(type) ?? []), l]);
  }

  dispatch(type: string, data?: object): void {
    for (const l of this.listeners.get(type) ?? []) l(data === undefined ? {} : { data: JSON.stringify(data) });
  }

  accept(connectionId = 1): void {
    this.readyState = 1;
    this.onopen?.({});
    this.dispatch('connected', { connection_id: connectionId, user_id: 'alice', tenant_id: 'default', channels: [] });
  }

  close(): void {
    this.closed = true;
    this.readyState = 2;
  }
}

/** A fetch that answers the client's probe of `/ws` with `status` and an error code. */
export function probeAnswer(status: number, code: string, headers: Record<string, string> = {}) {
  const calls: string[] = [];
  const fetcher = (async (url: string) => {
    calls.push(url);
    return new Response(JSON.stringify({ error: { code, message: `${code} from the test` } }), {
      status,
      headers: { 'content-type': 'application/json', ...headers },
    });
  }) as unknown as typeof fetch;
  return { fetcher, calls };
}

export const unreachable = (async () => {
  throw new TypeError('fetch failed');
}) as unknown as typeof fetch;

/** A JWT whose payload is `claims` (unsigned: the client never verifies). */
export function jwt(claims: object): string {
  const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
  return `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64(claims)}.sig`;
}

export const tick = () => new Promise((r) => setTimeout(r, 0));
