import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

import { Backoff, ERROR_CODES, describe as describeCode, tokenExpiry } from '../src/index.js';
import { jwt } from './fakes.js';

describe('Backoff', () => {
  it('grows by the factor up to the cap, with jitter taking off at most its share', () => {
    const top = new Backoff({ initialDelayMs: 100, maxDelayMs: 1000, factor: 2, jitter: 0.5 }, () => 0);
    expect([1, 2, 3, 4, 5, 6].map(() => top.next())).toEqual([100, 200, 400, 800, 1000, 1000]);
    const bottom = new Backoff({ initialDelayMs: 100, maxDelayMs: 1000, factor: 2, jitter: 0.5 }, () => 1);
    expect([1, 2, 3].map(() => bottom.next())).toEqual([50, 100, 200]);
    top.reset();
    expect(top.next()).toBe(100);
  });

  it('spreads clients that fail together', () => {
    const delays = new Set(Array.from({ length: 50 }, () => new Backoff({ initialDelayMs: 1000 }).next()));
    expect(delays.size).toBeGreaterThan(10);
    for (const d of delays) expect(d).toBeGreaterThanOrEqual(500);
  });
});

describe('tokenExpiry', () => {
  it('reads exp in ms and tolerates tokens that are not JWTs', () => {
    expect(tokenExpiry(jwt({ sub: 'ü', exp: 1700000000 }))).toBe(1700000000000);
    expect(tokenExpiry(jwt({ sub: 'a' }))).toBeUndefined();
    expect(tokenExpiry('opaque')).toBeUndefined();
    expect(tokenExpiry('a.!!!.c')).toBeUndefined();
  });
});

/** Every error code the server's WebSocket, SSE and auth code can send, read from its source. */
function serverCodes(): Set<string> {
  const root = join(__dirname, '..', '..', '..', 'src');
  const places = [
    'adapters/ws', 'adapters/sse', 'adapters/connection', 'adapters/auth', 'adapters/http/rate_limit.rs', 'adapters/http/serve',
    // The refusals and close reasons the transports pass on are defined by the core.
    'ports/auth.rs', 'ports/connection.rs', 'service/connect.rs', 'service/acks.rs', 'delivery/registry.rs',
  ];
  const codes = new Set<string>();
  const settings = settingNames(join(root, '..', 'ara.example.toml'));
  const visit = (path: string) => {
    if (statSync(path).isDirectory()) return readdirSync(path).forEach((f) => visit(join(path, f)));
    for (const m of readFileSync(path, 'utf8').matchAll(/"([A-Z][A-Z_]{4,})"/g)) {
      // Names of settings (in error messages) and of build variables are not codes.
      if (!settings.has(m[1]!) && !m[1]!.startsWith('CARGO_')) codes.add(m[1]!);
    }
  };
  places.forEach((p) => visit(join(root, p)));
  // Refusals the connection layer makes through the shared API error type.
  const protocol = readFileSync(join(root, '..', 'docs', 'PROTOCOL.md'), 'utf8');
  for (const m of protocol.matchAll(/`([A-Z][A-Z_]{4,})`/g)) {
    if (settings.has(m[1]!)) continue;
    if (!/^(WEBSOCKET|JWT)_[A-Z_]+$/.test(m[1]!) || m[1] === 'WEBSOCKET_UPGRADE_REQUIRED') codes.add(m[1]!);
  }
  return codes;
}

/** Every setting's environment name, from the example file that names them all (`[server]` + `port`). */
function settingNames(exampleToml: string): Set<string> {
  const names = new Set<string>();
  let section = '';
  for (const line of readFileSync(exampleToml, 'utf8').split('\n')) {
    const header = /^\[([a-z_.-]+)\]/.exec(line);
    if (header) section = header[1]!.split('.')[0]!;
    const key = /^#?\s*([a-z_]+)\s*=/.exec(line);
    if (key) names.add((section ? `${section}_${key[1]}` : key[1]!).toUpperCase());
  }
  return names;
}

describe('error codes', () => {
  it('knows every code the server sends to a connecting or connected client', () => {
    const codes = serverCodes();
    expect(codes.size).toBeGreaterThan(25);
    const unknown = [...codes].filter((c) => !(c in ERROR_CODES));
    expect(unknown).toEqual([]);
  });

  it('says what to do about each', () => {
    expect(describeCode('TOKEN_EXPIRED').action).toBe('refresh-token');
    expect(describeCode('SERVER_FULL').action).toBe('retry');
    expect(describeCode('INVALID_CHANNEL').action).toBe('report');
    expect(describeCode('NO_SUCH_CODE')).toBe(ERROR_CODES.UNKNOWN_ERROR);
    for (const info of Object.values(ERROR_CODES)) expect(info.description.length).toBeGreaterThan(10);
  });
});
