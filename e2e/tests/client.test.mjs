// The JS client in headless Chromium against the real server, from a page on another origin:
// delivery with ACKs, a server restart with nothing lost for a durable-queue user, Redis lost and
// back, the SSE fallback when WebSocket is blocked, and token refresh.

import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import {
  Ara,
  launchBrowser,
  SCREENSHOTS,
  startNoWebSocketProxy,
  startPageServer,
  startTcpProxy,
  uniqueUser,
  waitFor,
} from '../lib/harness.mjs';

let browser;
let pages;

before(async () => {
  pages = await startPageServer();
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
  await pages?.close();
});

/** A page on the pages' origin with the client started with `options`. */
async function clientPage(options) {
  const page = await browser.newPage();
  await page.goto(`${pages.url}/pages/client.html`);
  await page.waitForFunction(() => window.ready === true);
  await page.evaluate((o) => window.start(o), { pingIntervalMs: 5000, ...options });
  return page;
}

const seen = (page) => page.evaluate(() => window.seen);
const seenIds = async (page) => (await seen(page)).notifications.map((n) => n.id);
const tokenUrl = (user, ttl = 600) => `${pages.url}/token?sub=${encodeURIComponent(user)}&ttl=${ttl}`;

async function waitConnected(page, count = 1, transport = 'websocket') {
  await waitFor(`connection #${count} over ${transport}`, async () => {
    const s = await seen(page);
    return s.connected.length >= count && (await page.evaluate(() => window.client.transport)) === transport;
  });
}

describe('client in the browser', () => {
  it('delivers to the example page on another origin, which acknowledges each notification', async () => {
    const ara = await Ara.start({ ACK_ENABLED: 'true' });
    try {
      const user = uniqueUser('example');
      const page = await browser.newPage();
      const query = new URLSearchParams({ server: ara.url, tokenUrl: tokenUrl(user), connect: '1' });
      await page.goto(`${pages.url}/example/index.html?${query}`);
      await page.locator('#state[data-state="connected"]').waitFor({ timeout: 10_000 });
      const report = await ara.sendToUser(user, { text: 'hello from the test' });
      assert.equal(report.delivered_to, 1);
      const item = page.locator(`#notifications li[data-id="${report.notification_id}"]`);
      await item.waitFor({ timeout: 5000 });
      assert.match(await item.innerText(), /hello from the test/);
      assert.match(await item.innerText(), /via websocket/);
      await waitFor('the ACK to reach the server', async () => {
        const acks = await ara.api('GET', '/api/v1/stats/acks');
        return acks.body.acknowledged === 1 && acks.body.pending === 0;
      });
      await page.locator('#log li', { hasText: `acked ${report.notification_id}` }).waitFor({ timeout: 5000 });
      mkdirSync(SCREENSHOTS, { recursive: true });
      await page.screenshot({ path: join(SCREENSHOTS, 'client-example.png'), fullPage: true });
      await page.close();
    } finally {
      await ara.stop();
    }
  });

  it('reconnects after the server restarts and loses nothing for a durable-queue user', async () => {
    const prefix = `ara-e2e-${randomUUID()}`;
    const ara = await Ara.start({
      QUEUE_BACKEND: 'redis',
      ACK_BACKEND: 'redis',
      QUEUE_REDIS_KEY_PREFIX: `${prefix}:queue`,
      ACK_REDIS_KEY_PREFIX: `${prefix}:ack`,
    });
    try {
      const user = uniqueUser('durable');
      // A slow first retry, so that the sends after the restart find the user offline and are queued.
      const page = await clientPage({
        url: ara.url,
        tokenUrl: tokenUrl(user),
        reconnect: { initialDelayMs: 5000, maxDelayMs: 5000, jitter: 0 },
      });
      await waitConnected(page);
      const sent = [];
      for (let i = 0; i < 5; i++) sent.push((await ara.sendToUser(user, { seq: i })).notification_id);
      await waitFor('the live notifications', async () => (await seenIds(page)).length === 5);

      await ara.restart('SIGKILL');
      for (let i = 5; i < 10; i++) {
        const report = await ara.sendToUser(user, { seq: i });
        assert.equal(report.queued, 1, `sent while the client is away, so queued: ${JSON.stringify(report)}`);
        sent.push(report.notification_id);
      }
      await waitConnected(page, 2);
      await waitFor('the queued notifications', async () => (await seenIds(page)).length >= 10);
      const s = await seen(page);
      assert.deepEqual(s.notifications.map((n) => n.id), sent, 'each notification once, in order');
      assert.deepEqual(s.notifications.map((n) => n.payload.seq), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
      assert.ok(s.states.some((x) => x.state === 'reconnecting'), JSON.stringify(s.states));
      assert.equal(s.connected[1].reconnected, true);
      // Every one was acknowledged, the replayed ones too.
      await waitFor('every ACK', async () => (await seen(page)).acked.length === 10);
      await page.close();
    } finally {
      await ara.stop();
    }
  });

  it('keeps delivering while Redis is lost, and queues again once it is back', async () => {
    const prefix = `ara-e2e-${randomUUID()}`;
    const redis = await startTcpProxy(6379);
    const ara = await Ara.start({
      REDIS_URL: `redis://127.0.0.1:${redis.port}`,
      REDIS_TIMEOUT_MS: '300',
      REDIS_BREAKER_OPEN_MS: '1000',
      QUEUE_BACKEND: 'redis',
      ACK_BACKEND: 'redis',
      QUEUE_REDIS_KEY_PREFIX: `${prefix}:queue`,
      ACK_REDIS_KEY_PREFIX: `${prefix}:ack`,
    });
    try {
      const user = uniqueUser('redis-loss');
      const page = await clientPage({ url: ara.url, tokenUrl: tokenUrl(user), reconnect: { initialDelayMs: 200, maxDelayMs: 1000 } });
      await waitConnected(page);
      const before = await ara.sendToUser(user, { phase: 'before' });

      redis.cut();
      const during = await ara.sendToUser(user, { phase: 'during' });
      assert.equal(during.delivered_to, 1, 'a live user gets notifications whatever Redis does');
      await waitFor('the notification sent during the outage', async () => (await seenIds(page)).includes(during.notification_id));

      redis.restore();
      await waitFor('Redis to be healthy again', async () => (await ara.api('GET', '/health')).body.status === 'healthy', 20_000, 250);
      await page.evaluate(() => window.client.close());
      const queued = await ara.sendToUser(user, { phase: 'after' });
      assert.equal(queued.queued, 1, JSON.stringify(queued));
      await page.evaluate(() => window.client.connect());
      await waitFor('the queued notification', async () => (await seenIds(page)).includes(queued.notification_id));
      const ids = await seenIds(page);
      assert.deepEqual(ids, [before.notification_id, during.notification_id, queued.notification_id]);
      const s = await seen(page);
      assert.deepEqual(s.states.at(-1).state, 'connected');
      await page.close();
    } finally {
      await ara.stop();
      await redis.close();
    }
  });

  it('falls back to SSE when a proxy blocks WebSocket, and still resumes from the queue', async () => {
    const ara = await Ara.start();
    const proxy = await startNoWebSocketProxy(ara.port);
    try {
      const user = uniqueUser('sse');
      const page = await clientPage({ url: proxy.url, tokenUrl: tokenUrl(user), channels: ['news'] });
      await waitConnected(page, 1, 'sse');
      assert.ok(proxy.upgradesRefused >= 1);
      const direct = await ara.sendToUser(user, { via: 'user' });
      const channel = await ara.api('POST', '/api/v1/notifications/channel', { channel: 'news', event_type: 'news', payload: { via: 'channel' } });
      assert.equal(channel.body.delivered_to, 1, JSON.stringify(channel.body));
      await waitFor('both notifications over SSE', async () => (await seen(page)).notifications.length === 2);
      const s = await seen(page);
      assert.deepEqual(s.notifications.map((n) => [n.id, n.transport]), [
        [direct.notification_id, 'sse'],
        [channel.body.notification_id, 'sse'],
      ]);
      assert.ok(s.errors.some((e) => e.code === 'CONNECTION_FAILED' && /SSE/.test(e.message)), JSON.stringify(s.errors));

      // Offline, then back over SSE: the queue is replayed into the stream.
      await page.evaluate(() => window.client.close());
      await waitFor('the server to see the stream closed', async () => (await ara.api('GET', `/api/v1/users/${user}/subscriptions`)).status === 404);
      const queued = await ara.sendToUser(user, { via: 'queue' });
      assert.equal(queued.queued, 1);
      await page.evaluate(() => window.client.connect());
      await waitFor('the replay over SSE', async () => (await seenIds(page)).includes(queued.notification_id));
      assert.equal(await page.evaluate(() => window.client.transport), 'sse');
      await page.close();
    } finally {
      await proxy.close();
      await ara.stop();
    }
  });

  it('refreshes a token before it expires without missing a notification', async () => {
    const ara = await Ara.start();
    try {
      const user = uniqueUser('refresh');
      // Tokens for 40 s, refreshed 35 s before expiry: the first refresh comes about 5 s in.
      const page = await clientPage({ url: ara.url, tokenUrl: tokenUrl(user, 40), refreshBeforeExpirySeconds: 35, channels: ['ticks'] });
      await waitConnected(page);
      const callsBefore = pages.tokenCalls.filter((c) => c.sub === user).length;
      const sent = [];
      const deadline = Date.now() + 20_000;
      while (Date.now() < deadline) {
        sent.push((await ara.sendToUser(user, { n: sent.length })).notification_id);
        const s = await seen(page);
        if (s.refreshed.length > 0 && sent.length >= 10) break;
        await new Promise((r) => setTimeout(r, 150));
      }
      const s = await seen(page);
      assert.deepEqual(s.refreshed, ['refresh-frame'], 'the live connection takes the new token in a Refresh frame');
      assert.ok(pages.tokenCalls.filter((c) => c.sub === user).length > callsBefore, 'the token callback was called again');
      for (let i = 0; i < 3; i++) sent.push((await ara.sendToUser(user, { n: sent.length })).notification_id);
      await waitFor('every notification', async () => (await seenIds(page)).length === sent.length);
      assert.deepEqual(await seenIds(page), sent, 'each once, in order, across the refresh');
      assert.equal(s.connected.length, 1, 'no new connection was needed');
      assert.deepEqual(s.errors, []);
      // Still the one connection.
      await waitFor('a single connection', async () => (await ara.api('GET', `/api/v1/users/${user}/subscriptions`)).body.connections === 1);
      await page.close();
    } finally {
      await ara.stop();
    }
  });
});
