// The admin dashboard in headless Chromium against the real server: a wrong key refused, logging in,
// a connection appearing, a send from the form arriving on a client, every page shown (and
// screenshotted under target/browser-screenshots/), the connection inspector, and logging out.

import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import { randomUUID } from 'node:crypto';

import {
  Ara,
  freshDatabase,
  launchBrowser,
  mintToken,
  SCREENSHOTS,
  startPageServer,
  startStubProxy,
  startTcpProxy,
  uniqueUser,
  waitFor,
} from '../lib/harness.mjs';

const ADMIN_KEY = 'dashboard-admin-key-for-the-browser-test';

let browser;
let ara;
let pages;
let redis;
let database;

before(async () => {
  mkdirSync(SCREENSHOTS, { recursive: true });
  // Every kind of store, so that the system page has Redis (through a proxy the test can cut) with its
  // breaker, and Postgres.
  redis = await startTcpProxy(6379);
  database = freshDatabase();
  const prefix = `ara-e2e-${randomUUID()}`;
  ara = await Ara.start({
    // Debug logs, HTTP spans included: the admin key must not show in them.
    LOG_LEVEL: 'debug',
    ADMIN_API_KEY: ADMIN_KEY,
    RATELIMIT_ENABLED: 'true',
    REDIS_URL: `redis://127.0.0.1:${redis.port}`,
    REDIS_TIMEOUT_MS: '300',
    REDIS_BREAKER_OPEN_MS: '1000',
    QUEUE_BACKEND: 'redis',
    QUEUE_REDIS_KEY_PREFIX: `${prefix}:queue`,
    ACK_BACKEND: 'redis',
    ACK_REDIS_KEY_PREFIX: `${prefix}:ack`,
    TEMPLATE_BACKEND: 'postgres',
    DATABASE_URL: database.url,
  });
  pages = await startPageServer();
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
  await pages?.close();
  await ara?.stop();
  await redis?.close();
  database?.drop();
});

const shot = (page, name) => page.screenshot({ path: join(SCREENSHOTS, `dashboard-${name}.png`), fullPage: true });

async function logIn(page, key = ADMIN_KEY, base = ara.url) {
  await page.context().clearCookies();
  await page.goto(`${base}/admin`);
  await page.waitForURL(/\/admin\/login$/);
  await page.fill('#key', key);
  await Promise.all([page.waitForLoadState('load'), page.click('button[type=submit]')]);
}

/** A test client (the JS client on a page of another origin), connected as `user` to `channels`. */
async function testClient(user, channels = []) {
  const page = await browser.newPage();
  await page.goto(`${pages.url}/pages/client.html`);
  await page.waitForFunction(() => window.ready === true);
  await page.evaluate((o) => window.start(o), { url: ara.url, token: mintToken(user), channels });
  await waitFor(`${user} to connect`, () => page.evaluate(() => window.seen.connected.length === 1));
  return page;
}

describe('admin dashboard', () => {
  after(() => {
    const log = ara.log.join('');
    assert.ok(log.includes('dashboard login refused'), 'the refused login is logged');
    assert.ok(!log.includes(ADMIN_KEY), 'the admin key never reaches the log');
    assert.ok(!log.includes('not-the-admin-key-at-all'), 'nor a wrong key');
  });

  it('refuses a wrong key and keeps the API closed without a session', async () => {
    const page = await browser.newPage();
    await logIn(page, 'not-the-admin-key-at-all');
    assert.match(page.url(), /\/admin\/login$/);
    await page.locator('.login-error', { hasText: 'Wrong key' }).waitFor();
    await shot(page, 'login-refused');
    const cookies = await page.context().cookies(ara.url);
    assert.equal(cookies.find((c) => c.name === 'ara_admin'), undefined);
    // Without a session the dashboard's own data endpoint refuses, as does the API.
    const r = await page.evaluate(async () => (await fetch('/admin/api/connections')).status);
    assert.equal(r, 401);
    await page.close();
  });

  it('logs in, shows a connection appear, sends from the form to a client, and shows every page', async () => {
    const page = await browser.newPage();
    await page.goto(`${ara.url}/admin/login`);
    await shot(page, 'login');
    await logIn(page);
    assert.match(page.url(), /\/admin$/);
    const cookie = (await page.context().cookies(ara.url)).find((c) => c.name === 'ara_admin');
    assert.ok(cookie, 'a session cookie');
    assert.equal(cookie.httpOnly, true);
    assert.equal(cookie.sameSite, 'Strict');
    assert.equal(await page.evaluate(() => document.cookie), '', 'the page script cannot read the session');
    await page.waitForSelector('body[data-ready=true]');

    // Overview: a connection appears.
    await page.locator('[data-metric=connections] .card-value', { hasText: /^0$/ }).waitFor();
    const user = uniqueUser('dash');
    const client = await testClient(user, ['orders']);
    await page.locator('[data-metric=connections] .card-value', { hasText: /^1$/ }).waitFor({ timeout: 10_000 });

    // Connections: the new connection is listed; inspecting the user shows it.
    await page.click('a[data-page=connections]');
    const row = page.locator(`#connection-list tr[data-user="${user}"]`);
    await row.waitFor({ timeout: 10_000 });
    assert.match(await row.innerText(), /websocket/);
    assert.match(await row.innerText(), /orders/);
    await page.fill('#inspect-user', user);
    await page.click('#connections form button[type=submit]');
    await page.locator('#connections-summary', { hasText: `1 live connection(s) of ${user}` }).waitFor();
    await shot(page, 'connections');

    // Send: from the form to the test client.
    await page.click('a[data-page=send]');
    await page.fill('#send-target', user);
    await page.fill('#send-event', 'dashboard.hello');
    await page.fill('#send-payload', '{"text": "sent from the dashboard"}');
    await page.selectOption('#send-priority', 'High');
    await page.click('#send-submit');
    await page.locator('#send-result.ok', { hasText: 'delivered to 1 connection(s)' }).waitFor();
    const id = await page.locator('#send-result').getAttribute('data-notification-id');
    await waitFor('the notification on the client', () =>
      client.evaluate((nid) => window.seen.notifications.some((n) => n.id === nid && n.payload.text === 'sent from the dashboard'), id),
    );
    await shot(page, 'send');

    // A channel send from the form reaches the subscriber too.
    await page.selectOption('#send-kind', 'channel');
    await page.fill('#send-target', 'orders');
    await page.click('#send-submit');
    await page.locator('#send-result.ok', { hasText: 'delivered to 1 connection(s)' }).waitFor();
    await waitFor('the channel notification', () => client.evaluate(() => window.seen.notifications.length === 2));

    // A refused send shows the server's error.
    await page.fill('#send-target', 'not a channel!');
    await page.click('#send-submit');
    await page.locator('#send-result.error', { hasText: 'VALIDATION_ERROR' }).waitFor();

    // Channels: the subscriber is listed.
    await page.click('a[data-page=channels]');
    const channel = page.locator('#channel-list tr[data-channel=orders]');
    await channel.waitFor();
    assert.match(await channel.innerText(), new RegExp(`orders\\s+1\\s+${user}`));
    await shot(page, 'channels');

    // System: the stores and their state.
    await page.click('a[data-page=system]');
    await page.locator('#dependencies tr[data-dependency=template_store]', { hasText: 'healthy' }).waitFor();
    await page.locator('#dependencies tr[data-dependency=redis]', { hasText: 'breaker: closed' }).waitFor();
    assert.equal(await page.locator('#tenants .panel').count(), 0, 'no tenants panel while the server has no tenants');
    assert.equal(await page.locator('#nodes .panel').count(), 0, 'no nodes panel outside cluster mode');
    await shot(page, 'system');

    // Redis lost: the page shows it down and its breaker open; then back.
    redis.cut();
    await page.locator('#dependencies tr[data-dependency=redis]', { hasText: 'down' }).waitFor({ timeout: 20_000 });
    await page.locator('#health[data-status=degraded]').waitFor({ timeout: 10_000 });
    await waitFor('the breaker to open', async () => /breaker: (open|half_open)/.test(await page.locator('#dependencies tr[data-dependency=redis]').innerText()), 20_000, 200);
    await page.locator('#resilience .stale', { hasText: 'STORE_UNAVAILABLE' }).waitFor({ timeout: 10_000 });
    await shot(page, 'system-redis-down');
    redis.restore();
    await page.locator('#dependencies tr[data-dependency=redis]', { hasText: 'breaker: closed' }).waitFor({ timeout: 30_000 });
    await page.locator('#health[data-status=healthy]').waitFor({ timeout: 10_000 });

    // Overview again, once the charts have a few points: the deliveries show in the rate.
    await page.click('a[data-page=overview]');
    await page.locator('[data-metric=delivered] .card-value', { hasText: /^2$/ }).waitFor();
    await waitFor('a chart line', () => page.locator('#chart-rate path.line').count());
    await shot(page, 'overview');

    // Disconnect from the inspector: the client is closed (4004, reconnecting allowed) and comes back.
    await page.click('a[data-page=connections]');
    await page.fill('#inspect-user', user);
    await page.click('#connections form button[type=submit]');
    await page.locator('#connections-summary', { hasText: `1 live connection(s) of ${user}` }).waitFor();
    // The list is redrawn as it refreshes, so the button may be replaced between finding and clicking it:
    // dispatch the click rather than wait for a row that holds still.
    await waitFor('the Disconnect button to take a click', () =>
      row.locator('button', { hasText: 'Disconnect' }).dispatchEvent('click', {}, { timeout: 1000 }).then(() => true),
    );
    await page.locator('#connections-message', { hasText: 'is being closed' }).waitFor();
    await waitFor('the client told it was disconnected', () =>
      client.evaluate(() => window.seen.errors.some((e) => e.code === 'DISCONNECTED' || /4004/.test(e.message))),
    );
    await waitFor('the client back', () => client.evaluate(() => window.seen.connected.length === 2), 15_000);

    // Logging out ends the session: the API no longer answers it.
    await page.click('#logout');
    await page.waitForURL(/\/admin\/login$/);
    const after = await page.evaluate(async () => (await fetch('/stats')).status);
    assert.equal(after, 401);
    await client.close();
    await page.close();
  });

  it('refuses requests from another origin even with the session cookie', async () => {
    const page = await browser.newPage();
    await logIn(page);
    // Another origin on the same host (so the SameSite=Strict cookie is sent): no CSRF token, and
    // the server sees the foreign Origin.
    const other = await browser.newPage();
    await other.goto(`${pages.url}/pages/client.html`);
    const result = await other.evaluate(async (url) => {
      const send = await fetch(`${url}/api/v1/notifications/broadcast`, {
        method: 'POST',
        credentials: 'include',
        headers: { 'content-type': 'text/plain' },
        body: JSON.stringify({ event_type: 'csrf', payload: {} }),
      }).then((r) => r.status, () => 'blocked');
      const logout = await fetch(`${url}/admin/logout`, { method: 'POST', credentials: 'include' }).then((r) => r.status, () => 'blocked');
      return { send, logout };
    }, ara.url);
    assert.notEqual(result.send, 200);
    assert.notEqual(result.logout, 204);
    // The session is still good for the dashboard itself.
    await page.reload();
    await page.waitForSelector('body[data-ready=true]');
    await page.close();
    await other.close();
  });

  it('shows tenants and nodes, and disconnects, on a server that has those routes', async () => {
    // Until the tenant, cluster and security features land, a proxy answers their routes in the
    // shapes of the reference; everything else goes to the real server.
    const user = uniqueUser('stub');
    const proxy = await startStubProxy(ara.port, {
      'GET /api/v1/tenants': () => ({ status: 200, body: { tenants: [{ tenant_id: 'acme-corp', status: 'active', connections: 234, users: 89, channels: 12 }], total: 1 } }),
      'GET /api/v1/cluster/status': () => ({ status: 200, body: { node_id: 'node-1', nodes: ['node-1', 'node-2'], healthy_nodes: 2, total_connections: 15000 } }),
      [`POST /api/v1/users/${user}/disconnect`]: () => ({ status: 200, body: { disconnected: 1 } }),
    });
    try {
      const page = await browser.newPage();
      await logIn(page, ADMIN_KEY, proxy.url);
      await page.waitForSelector('body[data-ready=true]');
      await page.click('a[data-page=system]');
      await page.locator('#tenants tr[data-tenant=acme-corp]', { hasText: '234' }).waitFor();
      await page.locator('#nodes', { hasText: 'node-2' }).waitFor();
      assert.match(await page.locator('#nodes').innerText(), /healthy nodes: 2/);
      await shot(page, 'system-tenants-nodes');

      const client = await testClient(user);
      await page.click('a[data-page=connections]');
      const row = page.locator(`#connection-list tr[data-user="${user}"]`);
      await row.waitFor();
      const id = Number(await row.getAttribute('data-connection'));
      await row.locator('button', { hasText: 'Disconnect' }).click();
      await page.locator('#connections-message.ok', { hasText: `Connection ${id} of ${user}` }).waitFor();
      const call = proxy.received.find((r) => r.key.endsWith('/disconnect'));
      assert.deepEqual(call.body, { connection_id: id });
      assert.ok(call.headers['x-csrf-token'], 'the dashboard sends its CSRF token');
      await page.close();
      await client.close();
    } finally {
      await proxy.close();
    }
  });
});
