/**
 * A remote JWKS served by a real node:http server on 127.0.0.1, rotated mid-test, in front of
 * `jwt({ jwksUrl })` and its verified-token cache.
 *
 * jose times its key-set cache (`cacheMaxAge`, 10 min) and refetch cooldown (30 s) with the wall
 * clock, so the tests fake `Date` (only `Date`: sockets and timeouts stay real) and drive the
 * engine from the same pinned clock.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { JWK } from 'jose';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { createEngine, definePolicy, jwt, type Decision, type EngineEnv, type JwtOptions } from '../../src/index.ts';
import { ENGINE_CRYPTO, spyOnVerify } from '../fixtures/engine-crypto.ts';
import { AUDIENCE, createTestKey, es256, impostorEs256, ISSUER, NOW_MS, NOW_SECONDS, signToken, type TestKey } from '../fixtures/keys.ts';

const COOLDOWN_MS = 30_000;
const CACHE_MAX_AGE_MS = 600_000;
const CHALLENGE = 'Bearer realm="api"';

/** How the JWKS endpoint behaves. */
type Mode = 'ok' | 'error500' | 'not-json' | 'invalid-set' | 'reset' | 'hang';

let server: Server;
let jwksUrl: string;
let published: JWK[] = [];
let mode: Mode = 'ok';
let fetches = 0;

const keyA = es256;
const keyB = await createTestKey('ES256', 'es256-2026-02');
const keyC = await createTestKey('ES256', 'es256-2026-03');
const kidlessOld = await createTestKey('ES256', undefined);
const kidlessNew = await createTestKey('ES256', undefined);

beforeAll(async () => {
  server = createServer((req, res) => {
    if (req.url !== '/.well-known/jwks.json') {
      res.writeHead(404).end();
      return;
    }
    fetches++;
    if (mode === 'hang') return;
    if (mode === 'reset') return req.socket.destroy();
    if (mode === 'error500') return res.writeHead(500, { 'content-type': 'text/plain' }).end('upstream exploded');
    if (mode === 'not-json') return res.writeHead(200, { 'content-type': 'text/html' }).end('<html>maintenance</html>');
    if (mode === 'invalid-set') return res.writeHead(200, { 'content-type': 'application/json' }).end('{"keys":"none"}');
    res.writeHead(200, { 'content-type': 'application/jwk-set+json' }).end(JSON.stringify({ keys: published }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  jwksUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/.well-known/jwks.json`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['Date'], now: NOW_MS });
  published = [keyA.publicJwk];
  mode = 'ok';
  fetches = 0;
});

afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

/** The engine's crypto in the suite running now: each suite runs with WebCrypto alone and with the runtime's own. */
let engineCrypto: Pick<EngineEnv, 'crypto'> = {};

const advance = (ms: number) => vi.setSystemTime(Date.now() + ms);

/** An engine whose `GET /me` accepts `jwt({ jwksUrl })`, on the (faked) wall clock. */
function guard(options: Partial<JwtOptions> = {}) {
  const user = jwt({ jwksUrl: options.jwksUrl ?? jwksUrl, algorithms: ['ES256'], issuer: ISSUER, audience: AUDIENCE, ...options });
  const engine = createEngine(
    definePolicy({ transport: { requireHttps: false }, authn: { user }, routes: { 'GET /me': { authn: ['user'], allow: 'authenticated' } } }),
    { now: () => Date.now(), log: () => {}, ...engineCrypto },
  );
  return (token: string) => engine.evaluate(new Request('https://api.test/me', { headers: { authorization: `Bearer ${token}` } }));
}

/** A token valid for an hour from NOW, so that it outlives the key set's 10-minute cache. */
const tokenOf = (key: TestKey, sub = 'user_1') => signToken(key, { sub, exp: NOW_SECONDS + 3600 });

function expectAllowed(decision: Decision, id = 'user_1') {
  expect(decision.kind === 'deny' ? decision.reason : 'allow').toBe('allow');
  if (decision.kind === 'allow') expect(decision.principal.id).toBe(id);
}

function expectDenied(decision: Decision, status: number, reason: string | readonly string[], challenge: string) {
  expect(decision.kind).toBe('deny');
  if (decision.kind !== 'deny') return;
  const expected = typeof reason === 'string' ? reason : reason.includes(decision.reason) ? decision.reason : reason.join(' | ');
  expect({ status: decision.status, reason: decision.reason }).toEqual({ status, reason: expected });
  expect(decision.headers.get('www-authenticate')).toBe(challenge);
}

describe.each(ENGINE_CRYPTO)('with $name', ({ crypto: native }) => {
  beforeAll(() => {
    engineCrypto = { crypto: native };
  });

  describe('remote JWKS and the verified-token cache', () => {
    it('fetches the key set once and verifies a repeated token only once', async () => {
      const verify = spyOnVerify(native);
      const request = guard();
      const token = await tokenOf(keyA);
      for (let i = 0; i < 3; i++) expectAllowed(await request(token));
      expect(fetches).toBe(1);
      expect(verify).toHaveBeenCalledTimes(1);
    });

    it('still refuses a cached token exactly at its exp, without asking for keys again', async () => {
      const verify = spyOnVerify(native);
      const request = guard({ clockTolerance: 0 });
      const token = await signToken(keyA, { exp: NOW_SECONDS + 300 });
      expectAllowed(await request(token));
      vi.setSystemTime((NOW_SECONDS + 300) * 1000 - 1);
      expectAllowed(await request(token));
      vi.setSystemTime((NOW_SECONDS + 300) * 1000);
      expectDenied(await request(token), 401, 'authn.token_expired', `${CHALLENGE}, error="invalid_token"`);
      expect(fetches).toBe(1);
      expect(verify).toHaveBeenCalledTimes(1);
    });

    it('does not refetch for unknown kids during the cooldown, so random kids cannot hammer the endpoint', async () => {
      const request = guard();
      expectAllowed(await request(await tokenOf(keyA)));
      for (let i = 0; i < 5; i++) {
        const stranger = await createTestKey('ES256', `random-${i}`);
        expectDenied(await request(await tokenOf(stranger)), 401, 'authn.unknown_key', `${CHALLENGE}, error="invalid_token"`);
      }
      expect(fetches).toBe(1);
    });
  });

  describe('key rotation mid-test', () => {
    it('picks up a new kid published after the cooldown', async () => {
      const request = guard();
      const tokenA = await tokenOf(keyA, 'a');
      const tokenB = await tokenOf(keyB, 'b');
      expectAllowed(await request(tokenA), 'a');

      published = [keyA.publicJwk, keyB.publicJwk];
      // Within the cooldown the new kid is not yet known…
      expectDenied(await request(tokenB), 401, 'authn.unknown_key', `${CHALLENGE}, error="invalid_token"`);
      expect(fetches).toBe(1);
      // …after it, the unknown kid makes jose refetch the set once.
      advance(COOLDOWN_MS + 1);
      expectAllowed(await request(tokenB), 'b');
      expect(fetches).toBe(2);
      expectAllowed(await request(tokenA), 'a');
      expect(fetches).toBe(2);
    });

    it('refuses a cached token once its key is removed and the set is refetched for a new kid', async () => {
      const request = guard();
      const tokenA = await tokenOf(keyA, 'a');
      const tokenB = await tokenOf(keyB, 'b');
      expectAllowed(await request(tokenA), 'a');

      published = [keyB.publicJwk];
      advance(COOLDOWN_MS + 1);
      // Nothing has refetched the set yet: the cached verification stands, as jose's cached set would.
      expectAllowed(await request(tokenA), 'a');
      expect(fetches).toBe(1);

      expectAllowed(await request(tokenB), 'b');
      expect(fetches).toBe(2);
      expectDenied(await request(tokenA), 401, 'authn.unknown_key', `${CHALLENGE}, error="invalid_token"`);
      expect(fetches).toBe(2);
    });

    it('refuses a cached token once its key is removed and the set goes stale', async () => {
      const request = guard();
      const tokenA = await tokenOf(keyA, 'a');
      expectAllowed(await request(tokenA), 'a');

      published = [keyB.publicJwk];
      advance(CACHE_MAX_AGE_MS + 1);
      expectDenied(await request(tokenA), 401, 'authn.unknown_key', `${CHALLENGE}, error="invalid_token"`);
      expect(fetches).toBe(2);
    });

    it('keeps accepting a token whose key is still published after a refetch, verifying it once against the new set', async () => {
      const verify = spyOnVerify(native);
      const request = guard();
      const tokenA = await tokenOf(keyA, 'a');
      expectAllowed(await request(tokenA), 'a');
      published = [keyA.publicJwk, keyB.publicJwk];
      advance(COOLDOWN_MS + 1);
      expectAllowed(await request(await tokenOf(keyB, 'b')), 'b');
      expect(fetches).toBe(2);
      expectAllowed(await request(tokenA), 'a');
      // tokenA, tokenB, then tokenA once more: a refetched set re-verifies cached tokens (a key
      // could have been replaced under the same kid), and the result is cached again.
      expect(verify).toHaveBeenCalledTimes(3);
      expectAllowed(await request(tokenA), 'a');
      expect(verify).toHaveBeenCalledTimes(3);
    });

    it.each([
      { name: 'the same kid now names a different key', old: keyA, replacement: impostorEs256, reasons: ['authn.bad_signature'] },
      {
        name: 'keys without kid, one replaced by another',
        old: kidlessOld,
        replacement: kidlessNew,
        reasons: ['authn.bad_signature', 'authn.unknown_key', 'authn.invalid_token'],
      },
    ])('refuses a cached token once its key is gone although $name', async ({ old, replacement, reasons }) => {
      const request = guard();
      const tokenOld = await tokenOf(old, 'old');
      published = [old.publicJwk];
      expectAllowed(await request(tokenOld), 'old');

      // The old key material is withdrawn; a new kid appears and makes jose refetch the set.
      published = [replacement.publicJwk, keyC.publicJwk];
      advance(COOLDOWN_MS + 1);
      expectAllowed(await request(await tokenOf(keyC, 'c')), 'c');
      expect(fetches).toBe(2);

      // An uncached verification refuses the old token now…
      expect((await guard()(tokenOld)).kind).toBe('deny');
      // …and so must the engine that had it cached: the key that verified it is no longer published.
      expectDenied(await request(tokenOld), 401, reasons, `${CHALLENGE}, error="invalid_token"`);
    });
  });

  describe('remote JWKS failures fail closed with 503, never 500', () => {
    it('answers 503 authn.keys_unavailable when the JWKS host is unreachable', async () => {
      const closed = createServer();
      await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
      const port = (closed.address() as AddressInfo).port;
      await new Promise((resolve) => closed.close(resolve));
      const request = guard({ jwksUrl: `http://127.0.0.1:${port}/.well-known/jwks.json` });
      expectDenied(await request(await tokenOf(keyA)), 503, 'authn.keys_unavailable', CHALLENGE);
    });

    it.each<{ name: string; mode: Mode }>([
      { name: 'the connection is reset', mode: 'reset' },
      { name: 'the endpoint answers 500', mode: 'error500' },
      { name: 'the endpoint answers HTML', mode: 'not-json' },
      { name: 'the endpoint answers JSON that is not a key set', mode: 'invalid-set' },
      { name: 'the endpoint does not answer within jwksTimeoutMs', mode: 'hang' },
    ])('answers 503 authn.keys_unavailable when $name', async ({ mode: failure }) => {
      mode = failure;
      const request = guard({ jwksTimeoutMs: 200 });
      expectDenied(await request(await tokenOf(keyA)), 503, 'authn.keys_unavailable', CHALLENGE);
    });

    it('recovers once the endpoint is back: a failed fetch is not remembered as an empty set', async () => {
      mode = 'reset';
      const request = guard();
      const token = await tokenOf(keyA);
      expectDenied(await request(token), 503, 'authn.keys_unavailable', CHALLENGE);
      mode = 'ok';
      expectAllowed(await request(token));
      expect(fetches).toBe(2);
    });
  });
});
