// What the browser tests share: the real `ara` binary on a free port, HS256 tokens, a static server on
// another origin for the pages, fault-injecting TCP/HTTP proxies, and headless Chromium (Debian's,
// never a downloaded one).

import { execFileSync, spawn } from 'node:child_process';
import { createHmac, randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer, request as httpRequest } from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, extname, join, normalize, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { chromium } from 'playwright-core';

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const SECRET = 'browser-test-secret-that-is-long-enough';
export const API_KEY = 'browser-test-api-key';

export function araBinary() {
  if (process.env.ARA_BIN) return process.env.ARA_BIN;
  const target = process.env.CARGO_TARGET_DIR ?? join(REPO, 'target');
  const bin = join(target, 'debug', 'ara');
  if (!existsSync(bin)) throw new Error(`no ara binary at ${bin}: run cargo build first, or set ARA_BIN`);
  return bin;
}

export function freePort() {
  return new Promise((resolvePort, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolvePort(port));
    });
  });
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export async function waitFor(what, check, timeoutMs = 15_000, everyMs = 50) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value) return value;
    } catch (e) {
      last = e;
    }
    await sleep(everyMs);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${last.message}` : ''}`);
}

/** A running `ara`: started with `env` on top of test defaults; `restart()` keeps port and env. */
export class Ara {
  static async start(env = {}) {
    const ara = new Ara(await freePort(), env);
    await ara.spawn();
    return ara;
  }

  constructor(port, env) {
    this.port = port;
    this.env = env;
    this.url = `http://127.0.0.1:${port}`;
    this.log = [];
  }

  async spawn() {
    const env = {
      PATH: process.env.PATH ?? '',
      SERVER_HOST: '127.0.0.1',
      SERVER_PORT: String(this.port),
      JWT_SECRET: SECRET,
      API_KEY,
      RATELIMIT_ENABLED: 'false',
      LOG_LEVEL: 'warn',
      ...this.env,
    };
    this.child = spawn(araBinary(), [], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    // The log (stdout) and anything on stderr, kept for the tests that read it.
    for (const stream of [this.child.stdout, this.child.stderr]) {
      stream.on('data', (d) => {
        this.log.push(String(d));
        if (process.env.TEST_LOG) process.stderr.write(d);
      });
    }
    const exited = new Promise((r) => this.child.once('exit', (code, signal) => r({ code, signal })));
    this.exited = exited;
    await waitFor(`ara on port ${this.port} to be healthy`, async () => {
      if (this.child.exitCode !== null) throw new Error(`ara exited with ${this.child.exitCode}: ${this.log.join('')}`);
      const r = await fetch(`${this.url}/health`);
      return r.ok;
    }, 20_000, 100);
  }

  /** Stops the server: SIGTERM (graceful, clients get close 1001) or SIGKILL (a crash). */
  async stop(signal = 'SIGTERM') {
    if (!this.child || this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill(signal);
    // A server that does not stop in time is killed, so that a test never hangs on it.
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 15_000);
    await this.exited;
    clearTimeout(timer);
  }

  async restart(signal = 'SIGKILL', downMs = 0) {
    await this.stop(signal);
    if (downMs) await sleep(downMs);
    await this.spawn();
  }

  async api(method, path, body, headers = {}) {
    const r = await fetch(`${this.url}${path}`, {
      method,
      headers: { 'x-api-key': API_KEY, ...(body ? { 'content-type': 'application/json' } : {}), ...headers },
      body: body ? JSON.stringify(body) : undefined,
    });
    const text = await r.text();
    let json;
    try {
      json = JSON.parse(text);
    } catch {
      json = text;
    }
    return { status: r.status, body: json };
  }

  /** Sends to one user; returns the server's report. */
  async sendToUser(user, payload, extra = {}) {
    const r = await this.api('POST', '/api/v1/notifications/send', {
      target_user_id: user,
      event_type: 'e2e.test',
      payload,
      ...extra,
    });
    if (r.status !== 200) throw new Error(`send failed: ${r.status} ${JSON.stringify(r.body)}`);
    return r.body;
  }
}

/** An HS256 token for `sub`, valid for `ttlSeconds`. */
export function mintToken(sub, ttlSeconds = 600, extra = {}) {
  const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const now = Math.floor(Date.now() / 1000);
  const body = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64({ sub, iat: now, exp: now + ttlSeconds, ...extra })}`;
  const sig = createHmac('sha256', SECRET).update(body).digest('base64url');
  return `${body}.${sig}`;
}

export const uniqueUser = (name) => `${name}-${randomUUID().slice(0, 8)}`;

const TYPES = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.mjs': 'text/javascript', '.css': 'text/css', '.map': 'application/json', '.json': 'application/json' };

/**
 * The pages' origin, on its own port (so every call to Ara is cross-origin): `/dist/` is the built
 * client, `/example/` its example page, `/pages/` the test pages, and `/token?sub=&ttl=` mints tokens
 * (what an application's backend does), counting the calls.
 */
export async function startPageServer() {
  const roots = {
    '/dist/': join(REPO, 'clients', 'js', 'dist'),
    '/example/': join(REPO, 'clients', 'js', 'example'),
    '/pages/': join(REPO, 'e2e', 'pages'),
  };
  const tokenCalls = [];
  const server = createServer((req, res) => {
    const url = new URL(req.url, 'http://x');
    if (url.pathname === '/token') {
      const sub = url.searchParams.get('sub') ?? 'anonymous';
      const ttl = Number(url.searchParams.get('ttl') ?? 600);
      tokenCalls.push({ sub, ttl, at: Date.now() });
      res.writeHead(200, { 'content-type': 'text/plain', 'cache-control': 'no-store' });
      return res.end(mintToken(sub, ttl));
    }
    for (const [prefix, root] of Object.entries(roots)) {
      if (!url.pathname.startsWith(prefix)) continue;
      const file = normalize(join(root, url.pathname.slice(prefix.length) || 'index.html'));
      if (!file.startsWith(root) || !existsSync(file) || !statSync(file).isFile()) break;
      res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream', 'cache-control': 'no-store' });
      return res.end(readFileSync(file));
    }
    res.writeHead(404).end('not found');
  });
  const port = await freePort();
  await new Promise((r) => server.listen(port, '127.0.0.1', r));
  return { url: `http://localhost:${port}`, tokenCalls, close: () => new Promise((r) => server.close(r)) };
}

/** A TCP proxy to `target` that can cut every connection and refuse new ones until restored. */
export async function startTcpProxy(targetPort) {
  const port = await freePort();
  const sockets = new Set();
  let cut = false;
  const server = net.createServer((client) => {
    if (cut) return client.destroy();
    const upstream = net.connect(targetPort, '127.0.0.1');
    sockets.add(client).add(upstream);
    const done = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('error', done).on('close', done);
    upstream.on('error', done).on('close', done);
    client.pipe(upstream).pipe(client);
  });
  await new Promise((r) => server.listen(port, '127.0.0.1', r));
  return {
    port,
    cut() {
      cut = true;
      for (const s of sockets) s.destroy();
    },
    restore() {
      cut = false;
    },
    close: () => new Promise((r) => (server.close(r), sockets.forEach((s) => s.destroy()))),
  };
}

/**
 * An HTTP proxy to `targetPort` that answers the routes in `stubs` (`'GET /path'` → `(req, body) =>
 * ({status, body})`) itself: a stand-in for server features that are not built yet. Records what the
 * stubs received.
 */
export async function startStubProxy(targetPort, stubs) {
  const port = await freePort();
  const received = [];
  const server = createServer((req, res) => {
    const key = `${req.method} ${new URL(req.url, 'http://x').pathname}`;
    const stub = stubs[key];
    if (stub) {
      let data = '';
      req.on('data', (c) => (data += c));
      req.on('end', () => {
        received.push({ key, headers: req.headers, body: data ? JSON.parse(data) : undefined });
        const { status, body } = stub(req, data);
        res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
      });
      return;
    }
    const up = httpRequest({ host: '127.0.0.1', port: targetPort, path: req.url, method: req.method, headers: req.headers }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  await new Promise((r) => server.listen(port, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${port}`, received, close: () => new Promise((r) => (server.closeAllConnections?.(), server.close(r))) };
}

/** An HTTP proxy to `targetPort` that refuses WebSocket upgrades, as some corporate proxies do. */
export async function startNoWebSocketProxy(targetPort) {
  const port = await freePort();
  let upgradesRefused = 0;
  const server = createServer((req, res) => {
    const up = httpRequest(
      { host: '127.0.0.1', port: targetPort, path: req.url, method: req.method, headers: req.headers },
      (r) => {
        res.writeHead(r.statusCode ?? 502, r.headers);
        r.pipe(res);
      },
    );
    up.on('error', () => res.destroy());
    req.pipe(up);
    res.on('close', () => up.destroy());
  });
  server.on('upgrade', (_req, socket) => {
    upgradesRefused += 1;
    socket.end('HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\n\r\n');
  });
  await new Promise((r) => server.listen(port, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${port}`,
    get upgradesRefused() {
      return upgradesRefused;
    },
    close: () => new Promise((r) => (server.closeAllConnections?.(), server.close(r))),
  };
}

const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-quic',
  '--no-first-run',
];

/** Debian's Chromium with a fresh profile; `close()` removes the profile. */
export async function launchBrowser() {
  const executablePath = process.env.CHROMIUM ?? '/usr/bin/chromium';
  if (!existsSync(executablePath)) throw new Error(`no browser at ${executablePath}: apt-get install chromium`);
  const profile = mkdtempSync(join(tmpdir(), 'ara-e2e-profile-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 1280, height: 860 },
  });
  return {
    context,
    async newPage() {
      const page = await context.newPage();
      page.on('pageerror', (e) => process.stderr.write(`page error: ${e.message}\n`));
      return page;
    },
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

export const SCREENSHOTS = join(REPO, 'target', 'browser-screenshots');

/** A fresh PostgreSQL database on the machine's server (dropped by `drop()`), for a Postgres store. */
export function freshDatabase() {
  const name = `ara_e2e_${randomUUID().replace(/-/g, '').slice(0, 16)}`;
  const psql = (sql) => execFileSync('psql', ['-h', '127.0.0.1', '-U', 'postgres', '-d', 'postgres', '-Atqc', sql], { stdio: 'pipe' });
  psql(`CREATE DATABASE ${name}`);
  return {
    url: `postgres://postgres@127.0.0.1:5432/${name}`,
    drop: () => psql(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`),
  };
}
