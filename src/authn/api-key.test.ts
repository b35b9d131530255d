/**
 * `apiKey()`, `hashApiKey()` and `generateApiKey()` driven through a real engine: keys stored only
 * as hashes, environment prefixes, the query-parameter opt-in, async resolvers with a cache, and a
 * route that accepts a JWT or a key.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it, test, vi } from 'vitest';
import { nodeCrypto } from '../../adapters/node-crypto.ts';
import { AUDIENCE, es256, ISSUER, jwksOf, NOW_MS, NOW_SECONDS, signToken } from '../../test/fixtures/keys.ts';
import type { Decision } from '../decision.ts';
import { createEngine } from '../engine.ts';
import { PolicyError } from '../errors.ts';
import { definePolicy } from '../policy/define.ts';
import type { AuthnMethod } from '../stages/authn.ts';
import { apiKey, generateApiKey, hashApiKey, type ApiKeyOptions, type ApiKeyRecord } from './api-key.ts';
import { jwt } from './jwt.ts';

const KEY = 'pk_live_4f9d2c7a1b8e6f3d0a5c9e2b7d4f1a8c';
const OLD_KEY = 'pk_live_0a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d';
const TEST_KEY = 'pk_test_9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b';
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

const CHALLENGE = 'ApiKey realm="api", header="x-api-key"';
const INVALID = `${CHALLENGE}, error="invalid_token"`;

/** An engine with `GET /me` accepting the given methods, on a pinned clock the test may move. */
function guard(methods: Record<string, AuthnMethod>, clock = { ms: NOW_MS }) {
  const engine = createEngine(
    definePolicy({
      transport: { requireHttps: false },
      authn: methods,
      routes: { 'GET /me': { authn: Object.keys(methods), allow: 'authenticated' } },
    }),
    { now: () => clock.ms, log: () => {} },
  );
  return (headers?: HeadersInit, query = '') => engine.evaluate(new Request(`https://api.test/me${query}`, { headers }));
}

/** A static key map: the records of the given clear keys, stored under their hashes. */
function keyMap(entries: Record<string, ApiKeyRecord>): Record<string, ApiKeyRecord> {
  return Object.fromEntries(Object.entries(entries).map(([key, record]) => [sha256(key), record]));
}

const service = (options: Partial<ApiKeyOptions> = {}) =>
  apiKey({ keys: keyMap({ [KEY]: { principal: 'svc_reports', roles: ['reporter'], scopes: ['reports:read'], name: 'reports-cron 2026-01' } }), ...options });

function expectDenied(decision: Decision, status: number, reason: string, challenge: string | null) {
  expect(decision.kind).toBe('deny');
  if (decision.kind !== 'deny') return;
  expect({ status: decision.status, reason: decision.reason }).toEqual({ status, reason });
  expect(decision.headers.get('www-authenticate')).toBe(challenge);
}

function expectAllowed(decision: Decision, id: string, method = 'service') {
  expect(decision.kind === 'deny' ? decision.reason : 'allow').toBe('allow');
  if (decision.kind === 'allow') expect(decision.principal).toMatchObject({ id, method });
}

function policyErrorOf(build: () => unknown): PolicyError {
  try {
    build();
  } catch (error) {
    expect(error).toBeInstanceOf(PolicyError);
    return error as PolicyError;
  }
  throw new Error('expected a PolicyError, nothing was thrown');
}

describe('hashApiKey() and generateApiKey()', () => {
  // The SHA-256 examples of FIPS 180-2 (appendix B.1 and B.2): published digests, not ones computed here.
  test.each([
    ['abc', 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad'],
    ['abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq', '248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1'],
  ])('hashes %j as the lowercase hex SHA-256 digest FIPS 180-2 publishes', async (key, digest) => {
    expect(await hashApiKey(key)).toBe(digest);
  });

  it('hashes a key as lowercase SHA-256 hex', async () => {
    expect(await hashApiKey(KEY)).toBe(sha256(KEY));
    expect(await hashApiKey(KEY)).toMatch(/^[0-9a-f]{64}$/);
  });

  it('generates a pk_live key of 256 random bits in base62, a CRC-32 checksum, and its hash', async () => {
    const { key, hash } = await generateApiKey();
    expect(key).toMatch(/^pk_live_[0-9A-Za-z]{43}_[0-9A-Za-z]{6}$/);
    expect(hash).toBe(sha256(key));
  });

  it.each([[{ prefix: 'pk_test' }], ['pk_test_'], ['pk_test']])('generates keys with the prefix of %j', async (options) => {
    const { key, hash } = await generateApiKey(options);
    expect(key).toMatch(/^pk_test_[0-9A-Za-z]{43}_[0-9A-Za-z]{6}$/);
    expect(hash).toBe(sha256(key));
  });

  it.each(['', '1pk', 'pk live', 'pk__live', 'pk-live', 'a'.repeat(33)])('refuses the prefix %j', async (prefix) => {
    await expect(generateApiKey({ prefix })).rejects.toThrow(/prefix/);
  });

  it('never generates the same key twice', async () => {
    const keys = new Set(await Promise.all(Array.from({ length: 100 }, async () => (await generateApiKey()).key)));
    expect(keys.size).toBe(100);
  });

  it('generates a key that apiKey() accepts once its hash is stored', async () => {
    const { key, hash } = await generateApiKey();
    const request = guard({ service: apiKey({ keys: { [hash]: { principal: 'svc_new' } }, prefix: 'pk_live_' }) });
    expectAllowed(await request({ 'x-api-key': key }), 'svc_new');
  });
});

describe('checksummed keys', () => {
  /** A resolver that records every hash it is asked for. */
  function countingResolver(records: Record<string, ApiKeyRecord>) {
    const resolve = vi.fn(async (hash: string) => records[hash]);
    return resolve;
  }

  it('refuses a key whose checksum is wrong without hashing it up to the resolver', async () => {
    const { key, hash } = await generateApiKey({ prefix: 'pk_live' });
    const resolve = countingResolver({ [hash]: { principal: 'svc_new' } });
    const request = guard({ service: apiKey({ resolve }) });
    // One character of the random part changed: the checksum no longer matches.
    const typo = key.replace(/_(.)/, (_, char: string) => `_${char === 'A' ? 'B' : 'A'}`);
    const forged = `${key.slice(0, -6)}000000`;
    for (const bad of [typo, forged]) expectDenied(await request({ 'x-api-key': bad }), 401, 'authn.key_bad_checksum', INVALID);
    expect(resolve).not.toHaveBeenCalled();
    expectAllowed(await request({ 'x-api-key': key }), 'svc_new');
    expect(resolve).toHaveBeenCalledTimes(1);
  });

  it('keeps accepting keys without a checksum during rotation, and refuses them once checksums are required', async () => {
    const { key, hash } = await generateApiKey({ prefix: 'pk_live' });
    const keys = { ...keyMap({ [OLD_KEY]: { principal: 'svc_old' } }), [hash]: { principal: 'svc_new' } };
    const rotating = guard({ service: apiKey({ keys }) });
    expectAllowed(await rotating({ 'x-api-key': OLD_KEY }), 'svc_old');
    expectAllowed(await rotating({ 'x-api-key': key }), 'svc_new');
    const strict = guard({ service: apiKey({ keys, requireChecksum: true }) });
    expectDenied(await strict({ 'x-api-key': OLD_KEY }), 401, 'authn.key_malformed', INVALID);
    expectAllowed(await strict({ 'x-api-key': key }), 'svc_new');
  });

  it("hands a key record's quota to the principal, and refuses a malformed one at definition", async () => {
    const { key, hash } = await generateApiKey();
    const request = guard({ service: apiKey({ keys: { [hash]: { principal: 'svc_plan', quota: { limit: 50, period: 'month' } } } }) });
    const decision = await request({ 'x-api-key': key });
    expect(decision.kind === 'allow' && decision.principal.quota).toEqual({ limit: 50, period: 'month' });
    const error = policyErrorOf(() => apiKey({ keys: { [hash]: { principal: 'svc', quota: { limit: 0, period: 'week' as 'day' } } } }));
    expect(error.message).toContain(`apiKey().keys["${hash}"].quota: limit must be a whole number`);
  });

  it("fails closed (503) when a resolver's record carries a malformed quota", async () => {
    const { key, hash } = await generateApiKey();
    const request = guard({ service: apiKey({ resolve: async (h) => (h === hash ? { principal: 'svc', quota: { limit: -1, period: 'day' } } : undefined) }) });
    expectDenied(await request({ 'x-api-key': key }), 503, 'authn.unavailable', CHALLENGE);
  });
});

describe('apiKey() with a static key map', () => {
  it('authenticates a known key as its principal, with its roles and scopes', async () => {
    const decision = await guard({ service: service() })({ 'x-api-key': KEY });
    expectAllowed(decision, 'svc_reports');
    if (decision.kind === 'allow') {
      expect(decision.principal).toMatchObject({ roles: ['reporter'], scopes: ['reports:read'], claims: { keyName: 'reports-cron 2026-01' } });
      // Nothing in the principal is the key itself.
      expect(JSON.stringify(decision.principal)).not.toContain(KEY);
    }
  });

  it('answers a request without a key with a challenge and no error code', async () => {
    expectDenied(await guard({ service: service() })(), 401, 'authn.required', CHALLENGE);
  });

  it.each<{ name: string; records: Record<string, ApiKeyRecord>; presented: string; reason: string }>([
    { name: 'an unknown key', records: {}, presented: 'pk_live_ffffffffffffffffffffffffffffffff', reason: 'authn.key_unknown' },
    { name: 'a revoked key', records: { [KEY]: { principal: 'svc', revoked: true } }, presented: KEY, reason: 'authn.key_revoked' },
    { name: 'an expired key', records: { [KEY]: { principal: 'svc', expiresAt: '2025-12-31T23:59:59Z' } }, presented: KEY, reason: 'authn.key_expired' },
    { name: 'a key expiring at this very instant', records: { [KEY]: { principal: 'svc', expiresAt: new Date(NOW_MS).toISOString() } }, presented: KEY, reason: 'authn.key_expired' },
    { name: 'the hash presented as if it were the key', records: { [KEY]: { principal: 'svc' } }, presented: sha256(KEY), reason: 'authn.key_unknown' },
    { name: 'a key too short to be one', records: {}, presented: 'short', reason: 'authn.key_malformed' },
    { name: 'a key with a space in it', records: {}, presented: 'pk_live_abc def ghi jkl mno', reason: 'authn.key_malformed' },
    { name: 'a known key with a trailing "x"', records: { [KEY]: { principal: 'svc' } }, presented: `${KEY}x`, reason: 'authn.key_unknown' },
  ])('refuses $name', async ({ records, presented, reason }) => {
    const request = guard({ service: apiKey({ keys: keyMap(records) }) });
    expectDenied(await request({ 'x-api-key': presented }), 401, reason, INVALID);
  });

  it('accepts a key until its expiry', async () => {
    const request = guard({ service: apiKey({ keys: keyMap({ [KEY]: { principal: 'svc', expiresAt: '2026-01-01T00:00:01Z' } }) }) });
    expectAllowed(await request({ 'x-api-key': KEY }), 'svc');
  });

  it('refuses two x-api-key headers rather than choosing one', async () => {
    const headers = new Headers();
    headers.append('x-api-key', KEY);
    headers.append('x-api-key', KEY);
    // Like two Authorization headers: an invalid request (400), not a bad key.
    expectDenied(await guard({ service: service() })(headers), 400, 'authn.invalid_request', `${CHALLENGE}, error="invalid_request"`);
  });

  it('accepts both keys of a principal during rotation', async () => {
    const keys = keyMap({ [KEY]: { principal: 'svc_reports', name: 'new' }, [OLD_KEY]: { principal: 'svc_reports', name: 'old' } });
    const request = guard({ service: apiKey({ keys }) });
    expectAllowed(await request({ 'x-api-key': KEY }), 'svc_reports');
    expectAllowed(await request({ 'x-api-key': OLD_KEY }), 'svc_reports');
  });

  it('reads the key from a configured header, case-insensitively', async () => {
    const request = guard({ service: service({ header: 'X-Service-Key' }) });
    expectAllowed(await request({ 'x-service-key': KEY }), 'svc_reports');
    expectDenied(await request({ 'x-api-key': KEY }), 401, 'authn.required', 'ApiKey realm="api", header="x-service-key"');
  });
});

describe('apiKey() environment prefix', () => {
  const keys = keyMap({ [KEY]: { principal: 'svc_live' }, [TEST_KEY]: { principal: 'svc_test' } });

  it('accepts a key with the required prefix', async () => {
    expectAllowed(await guard({ service: apiKey({ keys, prefix: 'pk_live_' }) })({ 'x-api-key': KEY }), 'svc_live');
  });

  it('refuses a test key in production even when its hash is registered', async () => {
    const request = guard({ service: apiKey({ keys, prefix: 'pk_live_' }) });
    expectDenied(await request({ 'x-api-key': TEST_KEY }), 401, 'authn.key_wrong_environment', INVALID);
  });

  it('does not even look a wrong-environment key up', async () => {
    const resolve = vi.fn(async () => ({ principal: 'svc_test' }));
    const request = guard({ service: apiKey({ resolve, prefix: 'pk_live_' }) });
    expectDenied(await request({ 'x-api-key': TEST_KEY }), 401, 'authn.key_wrong_environment', INVALID);
    expect(resolve).not.toHaveBeenCalled();
  });
});

describe('apiKey() never reads the URL unless told to, loudly', () => {
  it.each(['api_key', 'apiKey', 'key', 'x-api-key', 'access_token'])('ignores a key in the query parameter %s', async (name) => {
    const request = guard({ service: service() });
    expectDenied(await request(undefined, `?${name}=${KEY}`), 401, 'authn.required', CHALLENGE);
  });

  it('reads the query parameter named by dangerouslyAllowQueryParam', async () => {
    const request = guard({ service: service({ dangerouslyAllowQueryParam: 'api_key' }) });
    expectAllowed(await request(undefined, `?api_key=${KEY}`), 'svc_reports');
    expectDenied(await request(undefined, `?key=${KEY}`), 401, 'authn.required', CHALLENGE);
  });

  it('prefers the header over the query parameter when both are given', async () => {
    const request = guard({ service: service({ dangerouslyAllowQueryParam: 'api_key' }) });
    expectDenied(await request({ 'x-api-key': OLD_KEY }, `?api_key=${KEY}`), 401, 'authn.key_unknown', INVALID);
  });
});

describe('apiKey() with an async resolver', () => {
  function setup(resolve: (hash: string) => Promise<ApiKeyRecord | undefined>, cacheTtl?: number) {
    const clock = { ms: NOW_MS };
    const resolver = vi.fn(resolve);
    return { clock, resolver, request: guard({ service: apiKey({ resolve: resolver, cacheTtl }) }, clock) };
  }

  it('looks a key up by its hash, never by the key itself', async () => {
    const { resolver, request } = setup(async (hash) => (hash === sha256(KEY) ? { principal: 'svc_db' } : undefined));
    expectAllowed(await request({ 'x-api-key': KEY }), 'svc_db');
    expect(resolver).toHaveBeenCalledWith(sha256(KEY));
    expect(JSON.stringify(resolver.mock.calls)).not.toContain(KEY);
  });

  it('caches a resolved record for cacheTtl seconds on the pinned clock', async () => {
    const { clock, resolver, request } = setup(async () => ({ principal: 'svc_db' }), 10);
    expectAllowed(await request({ 'x-api-key': KEY }), 'svc_db');
    clock.ms += 9_999;
    expectAllowed(await request({ 'x-api-key': KEY }), 'svc_db');
    expect(resolver).toHaveBeenCalledTimes(1);
    clock.ms = NOW_MS + 10_000;
    expectAllowed(await request({ 'x-api-key': KEY }), 'svc_db');
    expect(resolver).toHaveBeenCalledTimes(2);
  });

  it('caches for 30 seconds by default', async () => {
    const { clock, resolver, request } = setup(async () => ({ principal: 'svc_db' }));
    await request({ 'x-api-key': KEY });
    clock.ms += 29_000;
    await request({ 'x-api-key': KEY });
    expect(resolver).toHaveBeenCalledTimes(1);
    clock.ms += 1_000;
    await request({ 'x-api-key': KEY });
    expect(resolver).toHaveBeenCalledTimes(2);
  });

  it('sees a revocation once the cached record has expired', async () => {
    let revoked = false;
    const { clock, request } = setup(async () => ({ principal: 'svc_db', revoked }), 10);
    expectAllowed(await request({ 'x-api-key': KEY }), 'svc_db');
    revoked = true;
    clock.ms += 10_000;
    expectDenied(await request({ 'x-api-key': KEY }), 401, 'authn.key_revoked', INVALID);
  });

  it('checks a cached record’s expiry on every request', async () => {
    const { clock, request } = setup(async () => ({ principal: 'svc_db', expiresAt: new Date(NOW_MS + 5_000).toISOString() }), 60);
    expectAllowed(await request({ 'x-api-key': KEY }), 'svc_db');
    clock.ms += 5_000;
    expectDenied(await request({ 'x-api-key': KEY }), 401, 'authn.key_expired', INVALID);
  });

  it('fails closed with 503 when the resolver throws, and does not cache the failure', async () => {
    let down = true;
    const { resolver, request } = setup(async () => {
      if (down) throw new Error('database unreachable');
      return { principal: 'svc_db' };
    });
    expectDenied(await request({ 'x-api-key': KEY }), 503, 'authn.unavailable', CHALLENGE);
    down = false;
    expectAllowed(await request({ 'x-api-key': KEY }), 'svc_db');
    expect(resolver).toHaveBeenCalledTimes(2);
  });

  it('refuses an unknown key the resolver does not find', async () => {
    const { request } = setup(async () => undefined);
    expectDenied(await request({ 'x-api-key': KEY }), 401, 'authn.key_unknown', INVALID);
  });
});

describe('apiKey() definition-time errors', () => {
  it.each<{ name: string; options: Record<string, unknown>; path: string }>([
    { name: 'a clear key as a map key', options: { keys: { [KEY]: { principal: 'svc' } } }, path: `apiKey().keys[${JSON.stringify(KEY)}]` },
    { name: 'an uppercase hash', options: { keys: { [sha256(KEY).toUpperCase()]: { principal: 'svc' } } }, path: `apiKey().keys[${JSON.stringify(sha256(KEY).toUpperCase())}]` },
    { name: 'a truncated hash', options: { keys: { [sha256(KEY).slice(0, 63)]: { principal: 'svc' } } }, path: `apiKey().keys[${JSON.stringify(sha256(KEY).slice(0, 63))}]` },
    { name: 'a record without principal', options: { keys: { [sha256(KEY)]: {} } }, path: `apiKey().keys[${JSON.stringify(sha256(KEY))}].principal` },
    { name: 'an expiresAt that is not a date', options: { keys: { [sha256(KEY)]: { principal: 'svc', expiresAt: 'soon' } } }, path: `apiKey().keys[${JSON.stringify(sha256(KEY))}].expiresAt` },
    { name: 'both keys and resolve', options: { keys: {}, resolve: async () => undefined }, path: 'apiKey().keys' },
    { name: 'neither keys nor resolve', options: {}, path: 'apiKey().keys' },
    { name: 'the Authorization header', options: { keys: {}, header: 'Authorization' }, path: 'apiKey().header' },
    { name: 'the Cookie header', options: { keys: {}, header: 'cookie' }, path: 'apiKey().header' },
  ])('refuses $name', ({ options, path }) => {
    const error = policyErrorOf(() => apiKey(options as ApiKeyOptions));
    expect(error.path).toBe(path);
  });

});

describe('a route accepting a JWT or an API key', () => {
  const user = jwt({ jwks: jwksOf(es256), algorithms: ['ES256'], issuer: ISSUER, audience: AUDIENCE });

  it('authenticates as the service when a bad JWT comes with a good API key', async () => {
    const request = guard({ user, service: service() });
    const expired = await signToken(es256, { iat: NOW_SECONDS - 3600, exp: NOW_SECONDS - 60 });
    expectAllowed(await request({ authorization: `Bearer ${expired}`, 'x-api-key': KEY }), 'svc_reports', 'service');
  });

  it('authenticates as the user when the JWT is good', async () => {
    const request = guard({ user, service: service() });
    expectAllowed(await request({ authorization: `Bearer ${await signToken(es256)}`, 'x-api-key': KEY }), 'user_1', 'user');
  });

  it('reports the first failure and names both schemes when nothing succeeds', async () => {
    const request = guard({ user, service: service() });
    const expired = await signToken(es256, { iat: NOW_SECONDS - 3600, exp: NOW_SECONDS - 60 });
    expectDenied(
      await request({ authorization: `Bearer ${expired}`, 'x-api-key': OLD_KEY }),
      401,
      'authn.token_expired',
      `Bearer realm="api", error="invalid_token", ${CHALLENGE}`,
    );
  });

  it('challenges with both schemes and no error when no credential is given', async () => {
    expectDenied(await guard({ user, service: service() })(), 401, 'authn.required', `Bearer realm="api", ${CHALLENGE}`);
  });
});

describe("apiKey() with the runtime's own SHA-256 (env.crypto)", () => {
  const nativeGuard = (method: AuthnMethod) => {
    const engine = createEngine(
      definePolicy({ transport: { requireHttps: false }, authn: { service: method }, routes: { 'GET /me': { authn: ['service'], allow: 'authenticated' } } }),
      { now: () => NOW_MS, log: () => {}, crypto: nodeCrypto() },
    );
    return (key: string) => engine.evaluate(new Request('https://api.test/me', { headers: { 'x-api-key': key } }));
  };

  it('hashes the presented key without WebCrypto, to the same hash and key id', async () => {
    const digest = vi.spyOn(crypto.subtle, 'digest');
    const seen: string[] = [];
    const request = nativeGuard(apiKey({ resolve: async (hash) => (seen.push(hash), hash === sha256(KEY) ? { principal: 'svc_reports' } : undefined) }));
    const decision = await request(KEY);
    expectAllowed(decision, 'svc_reports');
    if (decision.kind === 'allow') expect(decision.principal.claims.keyId).toBe(sha256(KEY).slice(0, 16));
    expectDenied(await request(OLD_KEY), 401, 'authn.key_unknown', INVALID);
    expect(seen).toEqual([sha256(KEY), sha256(OLD_KEY)]);
    expect(digest).not.toHaveBeenCalled();
    digest.mockRestore();
  });

  it('finds a static map entry made by hashApiKey (WebCrypto)', async () => {
    const request = nativeGuard(apiKey({ keys: { [await hashApiKey(KEY)]: { principal: 'svc_reports' } } }));
    expectAllowed(await request(KEY), 'svc_reports');
    expectDenied(await request(`${KEY}x`), 401, 'authn.key_unknown', INVALID);
  });
});
