import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

import { AraClient, type AraClientOptions, type AraError, type ReceivedNotification } from '../src/index.js';
import { FakeEventSource, FakeWebSocket, jwt, probeAnswer, tick, unreachable } from './fakes.js';

const fast = { initialDelayMs: 5, maxDelayMs: 20, jitter: 0 };
const clients: AraClient[] = [];

async function client(options: Partial<AraClientOptions> = {}): Promise<AraClient> {
  const c = new AraClient({
    url: 'http://127.0.0.1:9999',
    token: 'tok',
    WebSocket: FakeWebSocket,
    EventSource: FakeEventSource,
    fetch: probeAnswer(400, 'WEBSOCKET_UPGRADE_REQUIRED').fetcher,
    reconnect: fast,
    pingIntervalMs: 0,
    ...options,
  });
  clients.push(c);
  await tick();
  return c;
}

function notification(id: string, extra: object = {}) {
  return { type: 'notification', id, event_type: 'e', payload: { n: id }, priority: 'Normal', timestamp: 't', ...extra };
}

beforeEach(() => {
  FakeWebSocket.instances = [];
  FakeEventSource.instances = [];
});
afterEach(() => {
  clients.splice(0).forEach((c) => c.close());
});

describe('connecting', () => {
  it('opens /ws with the token, reports the states and the connected frame', async () => {
    const c = await client({ url: 'https://ara.example/base/' });
    const states: string[] = [];
    c.on('state', (s) => states.push(s.state));
    const connected = vi.fn();
    c.on('connected', connected);
    const ws = FakeWebSocket.last();
    expect(ws.url).toBe('wss://ara.example/base/ws?token=tok');
    ws.accept(7, 'bob');
    expect(c.state).toBe('connected');
    expect(states).toEqual(['connected']);
    expect(connected).toHaveBeenCalledWith(
      expect.objectContaining({ connectionId: 7, userId: 'bob', tenantId: 'default', transport: 'websocket', reconnected: false, reason: 'connect' }),
    );
  });

  it('subscribes its channels on connect and again after every reconnect', async () => {
    const c = await client({ channels: ['orders'] });
    const subscribed = vi.fn();
    c.on('subscribed', subscribed);
    FakeWebSocket.last().accept();
    expect(FakeWebSocket.last().framesOf('Subscribe')).toEqual([{ type: 'Subscribe', payload: { channels: ['orders'] } }]);
    FakeWebSocket.last().push({ type: 'subscribed', channels: ['orders'] });
    const first = FakeWebSocket.last();
    const added = c.subscribe(['news']);
    first.push({ type: 'subscribed', channels: ['news'] });
    expect(await added).toEqual(['news']);

    first.drop(1001, 'server shutting down');
    expect(c.state).toBe('reconnecting');
    await vi.waitFor(() => expect(FakeWebSocket.instances.length).toBe(2));
    const second = FakeWebSocket.last();
    second.accept(2);
    expect(second.framesOf('Subscribe')).toEqual([{ type: 'Subscribe', payload: { channels: ['news', 'orders'] } }]);
    second.push({ type: 'subscribed', channels: ['news', 'orders'] });
    await tick();
    expect(subscribed).toHaveBeenLastCalledWith({ channels: ['news', 'orders'] });
  });

  it('calls the token callback for every connection', async () => {
    let n = 0;
    const c = await client({ token: async () => `t${++n}` });
    await vi.waitFor(() => expect(FakeWebSocket.instances.length).toBe(1));
    expect(FakeWebSocket.last().token).toBe('t1');
    FakeWebSocket.last().accept();
    FakeWebSocket.last().drop();
    await vi.waitFor(() => expect(FakeWebSocket.instances.length).toBe(2));
    expect(FakeWebSocket.last().token).toBe('t2');
    expect(c.state).toBe('reconnecting');
  });

  it('backs off exponentially while the server is unreachable, then resets after a success', async () => {
    const c = await client({ fetch: unreachable, reconnect: { initialDelayMs: 10, maxDelayMs: 40, jitter: 0 } });
    const delays: number[] = [];
    const errors: string[] = [];
    c.on('state', (s) => s.delayMs !== undefined && delays.push(s.delayMs));
    c.on('error', (e) => errors.push(e.code));
    for (let i = 1; i <= 4; i++) {
      await vi.waitFor(() => expect(FakeWebSocket.instances.length).toBe(i));
      FakeWebSocket.last().refuse();
    }
    await vi.waitFor(() => expect(FakeWebSocket.instances.length).toBe(5));
    expect(delays).toEqual([10, 20, 40, 40]);
    expect(new Set(errors)).toEqual(new Set(['CONNECTION_FAILED']));
    FakeWebSocket.last().accept();
    FakeWebSocket.last().drop();
    await vi.waitFor(() => expect(delays.length).toBe(5));
    expect(delays[4]).toBe(10);
  });

  it('stops with the server code when a fixed token is refused', async () => {
    const c = await client({ fetch: probeAnswer(401, 'TOKEN_EXPIRED').fetcher });
    const closed = new Promise<AraError | undefined>((r) => c.on('state', (s) => s.state === 'closed' && r(s.error)));
    FakeWebSocket.last().refuse();
    const error = await closed;
    expect(error?.code).toBe('TOKEN_EXPIRED');
    expect(error?.status).toBe(401);
    expect(error?.action).toBe('refresh-token');
    expect(FakeWebSocket.instances.length).toBe(1);
  });

  it('fetches a new token at once when the token is refused, and backs off if that one is refused too', async () => {
    let n = 0;
    const c = await client({ token: () => `t${++n}`, fetch: probeAnswer(401, 'TOKEN_EXPIRED').fetcher });
    const delays: number[] = [];
    c.on('state', (s) => s.delayMs !== undefined && delays.push(s.delayMs));
    await vi.waitFor(() => expect(FakeWebSocket.instances.length).toBe(1));
    FakeWebSocket.last().refuse();
    await vi.waitFor(() => expect(FakeWebSocket.instances.length).toBe(2));
    expect(FakeWebSocket.last().token).toBe('t2');
    FakeWebSocket.last().refuse();
    await vi.waitFor(() => expect(delays.length).toBe(2));
    expect(delays).toEqual([0, 10]);
  });

  it('waits at least Retry-After when rate limited', async () => {
    const c = await client({ fetch: probeAnswer(429, 'RATE_LIMIT_EXCEEDED', { 'retry-after': '3' }).fetcher });
    const state = new Promise<{ delayMs?: number; error?: AraError }>((r) =>
      c.on('state', (s) => s.state === 'reconnecting' && r(s)),
    );
    FakeWebSocket.last().refuse();
    const s = await state;
    expect(s.error?.code).toBe('RATE_LIMIT_EXCEEDED');
    expect(s.delayMs).toBe(3000);
  });

  it('falls back to SSE when WebSocket fails but the server answers, and stays there', async () => {
    const c = await client({ channels: ['orders', 'news'] });
    FakeWebSocket.last().refuse();
    await vi.waitFor(() => expect(FakeEventSource.instances.length).toBe(1));
    const es = FakeEventSource.instances[0]!;
    expect(es.url).toBe('http://127.0.0.1:9999/sse?token=tok&channels=news%2Corders');
    const got: ReceivedNotification[] = [];
    c.on('notification', (n) => got.push(n));
    es.accept();
    expect(c.transport).toBe('sse');
    es.dispatch('notification', notification('a'));
    expect(got.map((n) => n.id)).toEqual(['a']);
    expect(await got[0]!.ack()).toBe('unsupported');

    // The browser reconnects an open stream by itself (with Last-Event-ID); the client only follows.
    es.dispatch('error');
    expect(c.state).toBe('reconnecting');
    es.accept(2);
    expect(c.state).toBe('connected');
    expect(FakeEventSource.instances.length).toBe(1);
    expect(FakeWebSocket.instances.length).toBe(1);
  });

  it('does not fall back to SSE when the server itself is down', async () => {
    await client({ fetch: unreachable });
    FakeWebSocket.last().refuse();
    await vi.waitFor(() => expect(FakeWebSocket.instances.length).toBe(2));
    expect(FakeEventSource.instances.length).toBe(0);
  });

  it('resubscribes an SSE connection by opening a new stream with the new channel list', async () => {
    const c = await client({ transport: 'sse', channels: ['a'] });
    FakeEventSource.instances[0]!.accept(1);
    await c.subscribe(['b']);
    expect(FakeEventSource.instances.length).toBe(2);
    const next = FakeEventSource.instances[1]!;
    expect(new URL(next.url).searchParams.get('channels')).toBe('a,b');
    next.accept(2);
    expect(FakeEventSource.instances[0]!.closed).toBe(true);
  });
});

describe('notifications and ACKs', () => {
  it('acknowledges automatically after the listeners ran', async () => {
    const c = await client();
    const ws = FakeWebSocket.last();
    ws.accept();
    const order: string[] = [];
    c.on('notification', (n) => order.push(`got ${n.id}`));
    c.on('acked', (a) => order.push(`acked ${a.notificationId}`));
    ws.push(notification('n1'));
    expect(ws.framesOf('Ack')).toEqual([{ type: 'Ack', payload: { notification_id: 'n1' } }]);
    ws.push({ type: 'acked', notification_id: 'n1' });
    await tick();
    expect(order).toEqual(['got n1', 'acked n1']);
  });

  it('does not report channel notifications, which the server does not track, as ACK errors', async () => {
    const c = await client();
    const errors = vi.fn();
    c.on('error', errors);
    FakeWebSocket.last().accept();
    FakeWebSocket.last().push(notification('ch1'));
    FakeWebSocket.last().push({ type: 'error', code: 'UNKNOWN_NOTIFICATION', message: 'x' });
    await tick();
    expect(errors).not.toHaveBeenCalled();
  });

  it('in manual mode sends an ACK only when asked, and resolves with the answer', async () => {
    const c = await client({ ack: 'manual' });
    const ws = FakeWebSocket.last();
    ws.accept();
    let received: ReceivedNotification | undefined;
    c.on('notification', (n) => (received = n));
    ws.push(notification('m1', { priority: 'High', ttl: 60 }));
    expect(ws.framesOf('Ack')).toEqual([]);
    expect(received).toMatchObject({ id: 'm1', priority: 'High', ttl: 60, payload: { n: 'm1' }, transport: 'websocket' });
    const result = received!.ack();
    ws.push({ type: 'acked', notification_id: 'm1' });
    expect(await result).toBe('acked');
    const again = c.ack('m1');
    ws.push({ type: 'error', code: 'ALREADY_ACKNOWLEDGED', message: 'x' });
    expect(await again).toBe('already-acknowledged');
  });

  it('keeps an ACK made while offline and sends it on the next connection', async () => {
    const c = await client({ ack: 'manual' });
    FakeWebSocket.last().accept();
    let received: ReceivedNotification | undefined;
    c.on('notification', (n) => (received = n));
    FakeWebSocket.last().push(notification('o1'));
    FakeWebSocket.last().drop();
    const result = received!.ack();
    await vi.waitFor(() => expect(FakeWebSocket.instances.length).toBe(2));
    const ws = FakeWebSocket.last();
    ws.accept(2);
    expect(ws.framesOf('Ack')).toEqual([{ type: 'Ack', payload: { notification_id: 'o1' } }]);
    ws.push({ type: 'acked', notification_id: 'o1' });
    expect(await result).toBe('acked');
  });

  it('hands a replayed or redelivered notification to the listeners once, and acknowledges it again', async () => {
    const c = await client();
    const got: string[] = [];
    c.on('notification', (n) => got.push(n.id));
    FakeWebSocket.last().accept();
    FakeWebSocket.last().push(notification('d1'));
    FakeWebSocket.last().drop();
    await vi.waitFor(() => expect(FakeWebSocket.instances.length).toBe(2));
    const ws = FakeWebSocket.last();
    ws.accept(2);
    ws.push(notification('d1'));
    ws.push(notification('d2'));
    expect(got).toEqual(['d1', 'd2']);
    expect(ws.framesOf('Ack').map((f) => f.payload.notification_id)).toEqual(['d1', 'd2']);
  });

  it('retries an ACK the store could not take, and reports the other refusals', async () => {
    const c = await client({ ack: 'manual' });
    const ws = FakeWebSocket.last();
    ws.accept();
    const result = c.ack('r1');
    ws.push({ type: 'error', code: 'ACK_STORE_UNAVAILABLE', message: 'down' });
    await vi.waitFor(() => expect(ws.framesOf('Ack').length).toBe(2), { timeout: 3000 });
    ws.push({ type: 'acked', notification_id: 'r1' });
    expect(await result).toBe('acked');

    const wrong = c.ack('r2');
    ws.push({ type: 'error', code: 'NOT_YOUR_NOTIFICATION', message: 'another user' });
    await expect(wrong).rejects.toMatchObject({ code: 'NOT_YOUR_NOTIFICATION', source: 'ack', notificationId: 'r2' });
  });

  it('reports dropped notifications and unsolicited errors', async () => {
    const c = await client();
    const dropped = vi.fn();
    const errors: AraError[] = [];
    c.on('dropped', dropped);
    c.on('error', (e) => errors.push(e));
    const ws = FakeWebSocket.last();
    ws.accept();
    ws.push({ type: 'dropped', count: 12 });
    ws.push({ type: 'error', code: 'SLOW_CONSUMER', message: 'too slow' });
    ws.drop(1008, 'slow consumer');
    expect(dropped).toHaveBeenCalledWith({ count: 12 });
    expect(errors.map((e) => e.code)).toEqual(['SLOW_CONSUMER', 'CONNECTION_CLOSED']);
    expect(errors[1]!.message).toContain('slow consumer');
  });

  it('rejects a refused subscription with the server code and does not subscribe it again', async () => {
    const c = await client();
    const ws = FakeWebSocket.last();
    ws.accept();
    const sub = c.subscribe(['bad channel']);
    ws.push({ type: 'error', code: 'INVALID_CHANNEL', message: 'invalid channel name' });
    await expect(sub).rejects.toMatchObject({ code: 'INVALID_CHANNEL', source: 'subscribe' });
    expect(c.subscriptions).toEqual([]);
  });

  it('keeps a subscription whose answer the dropped connection never gave, for the next one', async () => {
    const c = await client();
    FakeWebSocket.last().accept();
    const sub = c.subscribe(['later']);
    FakeWebSocket.last().drop();
    expect(await sub).toEqual(['later']);
    await vi.waitFor(() => expect(FakeWebSocket.instances.length).toBe(2));
    FakeWebSocket.last().accept(2);
    expect(FakeWebSocket.last().framesOf('Subscribe')).toEqual([{ type: 'Subscribe', payload: { channels: ['later'] } }]);
  });

  it('closes a connection that stops answering pings and reconnects', async () => {
    await client({ pingIntervalMs: 20, replyTimeoutMs: 30 });
    const ws = FakeWebSocket.last();
    ws.accept();
    await vi.waitFor(() => expect(ws.framesOf('Ping').length).toBeGreaterThan(0));
    await vi.waitFor(() => expect(FakeWebSocket.instances.length).toBe(2), { timeout: 2000 });
    expect(ws.closedByClient).toBe(true);
  });
});

describe('token refresh', () => {
  const soon = () => jwt({ sub: 'alice', exp: Math.floor(Date.now() / 1000) + 2 });

  it('uses a Refresh frame when the server has one', async () => {
    let n = 0;
    const c = await client({ token: () => (++n, soon()), refreshBeforeExpirySeconds: 60 });
    const refreshed = vi.fn();
    c.on('token-refreshed', refreshed);
    await vi.waitFor(() => expect(FakeWebSocket.instances.length).toBe(1));
    const ws = FakeWebSocket.last();
    ws.accept();
    await vi.waitFor(() => expect(ws.framesOf('Refresh').length).toBe(1), { timeout: 3000 });
    expect(ws.framesOf('Refresh')[0]!.payload.token).toMatch(/\./);
    ws.push({ type: 'refreshed' });
    await vi.waitFor(() => expect(refreshed).toHaveBeenCalledWith({ method: 'refresh-frame' }));
    expect(FakeWebSocket.instances.length).toBe(1);
    expect(n).toBe(2);
  });

  it('takes a Refresh that the server accepts without an answer', async () => {
    const c = await client({ token: soon, refreshBeforeExpirySeconds: 60, replyTimeoutMs: 200, pingIntervalMs: 0 });
    const refreshed = vi.fn();
    c.on('token-refreshed', refreshed);
    await vi.waitFor(() => expect(FakeWebSocket.instances.length).toBe(1));
    const ws = FakeWebSocket.last();
    ws.accept();
    await vi.waitFor(() => expect(ws.framesOf('Refresh').length).toBe(1), { timeout: 3000 });
    // The next answer is to a later frame: the Refresh was taken silently.
    const acked = c.ack('z1');
    ws.push({ type: 'acked', notification_id: 'z1' });
    expect(await acked).toBe('acked');
    await vi.waitFor(() => expect(refreshed).toHaveBeenCalledWith({ method: 'refresh-frame' }));
    expect(FakeWebSocket.instances.length).toBe(1);
    expect(ws.closedByClient).toBe(false);
  });

  it('moves to a new connection with the new token when the server has no Refresh frame', async () => {
    const c = await client({ token: soon, refreshBeforeExpirySeconds: 60, channels: ['orders'] });
    const refreshed = vi.fn();
    const errors = vi.fn();
    c.on('token-refreshed', refreshed);
    c.on('error', errors);
    const got: string[] = [];
    c.on('notification', (x) => got.push(x.id));
    await vi.waitFor(() => expect(FakeWebSocket.instances.length).toBe(1));
    const old = FakeWebSocket.last();
    old.accept(1);
    old.push({ type: 'subscribed', channels: ['orders'] });
    await vi.waitFor(() => expect(old.framesOf('Refresh').length).toBe(1), { timeout: 3000 });
    old.push({ type: 'error', code: 'INVALID_FRAME', message: 'unknown variant `Refresh`' });
    await vi.waitFor(() => expect(FakeWebSocket.instances.length).toBe(2));
    const next = FakeWebSocket.last();
    next.accept(2);
    // Both connections are live until the new one is subscribed: a notification on both is one.
    old.push(notification('x1'));
    next.push(notification('x1'));
    expect(next.framesOf('Subscribe')).toEqual([{ type: 'Subscribe', payload: { channels: ['orders'] } }]);
    expect(old.closedByClient).toBe(false);
    next.push({ type: 'subscribed', channels: ['orders'] });
    await vi.waitFor(() => expect(refreshed).toHaveBeenCalledWith({ method: 'reconnect' }));
    expect(old.closedByClient).toBe(true);
    expect(got).toEqual(['x1']);
    expect(errors).not.toHaveBeenCalled();
    expect(c.state).toBe('connected');
  });
});
