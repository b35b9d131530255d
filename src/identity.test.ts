/**
 * The identity assertion between gateway and origin: what `forwardTo({ identity })` signs and what
 * `identityVerifier` accepts — the right principal for the right request, nothing forged, replayed
 * elsewhere, expired, or signed with another key.
 */
import { SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { NOW_MS, NOW_SECONDS } from '../test/fixtures/keys.ts';
import { hashApiKey } from './authn/api-key.ts';
import { apiKey } from './authn/api-key.ts';
import { createEngine } from './engine.ts';
import { IDENTITY_HEADER, IDENTITY_TYP, identityHeaderVerifier, identityVerifier, memoryReplayCache, type IdentityOptions } from './identity.ts';
import { definePolicy } from './policy/define.ts';
import { forwardTo } from './proxy.ts';
import { PolicyError } from './errors.ts';
/** The PolicyError a factory throws, from its message (`path: problem`). */
function policyError(message: string): PolicyError {
  const at = message.indexOf(': ');
  return new PolicyError([{ path: message.slice(0, at), message: message.slice(at + 2) }]);
}

const KEY = 'k3y-0f-the-gateway-and-its-origin-32b+';
const ORIGIN = 'https://origin.test';
const API_KEY = 'pk_test_identity_0123456789abcdef';

/** The requests the origin received through a gateway guarding `GET /v1/things/:id` (API key) and `GET /v1/health`. */
async function gateway(identity: Partial<IdentityOptions> = {}) {
  const received: Request[] = [];
  const engine = createEngine(
    definePolicy({
      authn: { service: apiKey({ keys: { [await hashApiKey(API_KEY)]: { principal: 'svc_a', scopes: ['things:read'], roles: ['reader'] } } }) },
      routes: {
        'GET /v1/health': { authn: 'anonymous' },
        'GET /v1/things/:id': { authn: ['service'], allow: [{ scopes: ['things:read'] }] },
      },
    }),
    { now: () => NOW_MS, randomId: () => 'req-1', log: () => {} },
  );
  const forward = forwardTo(ORIGIN, {
    identity: { key: KEY, now: () => NOW_MS, ...identity },
    fetch: async (input, init) => {
      received.push(new Request(input, init));
      return new Response('ok');
    },
  });
  const send = (path: string, headers: Record<string, string> = {}) =>
    engine.handle(new Request(`https://api.test${path}`, { headers }), { peer: { address: '198.51.100.4' } }, forward);
  return { send, received };
}

const verifier = (options: { now?: number; audience?: string; key?: string } = {}) =>
  identityVerifier({ key: options.key ?? KEY, audience: options.audience ?? false, now: () => options.now ?? NOW_MS });

describe('the gateway signs', () => {
  it('the principal, request id, client, method, target and origin, valid for 60 seconds', async () => {
    const { send, received } = await gateway();
    await send('/v1/things/7?view=full', { 'x-api-key': API_KEY });
    const result = await verifier({ audience: ORIGIN })(received[0]!);
    expect(result).toEqual({
      ok: true,
      identity: {
        iss: 'portcullis',
        aud: ORIGIN,
        sub: 'svc_a',
        authn: 'service',
        roles: ['reader'],
        scopes: ['things:read'],
        client_ip: '198.51.100.4',
        jti: 'req-1',
        req_method: 'GET',
        req_target: '/v1/things/7?view=full',
        iat: NOW_SECONDS,
        exp: NOW_SECONDS + 60,
      },
    });
  });

  it('an assertion for anonymous routes too: the origin still knows the request came through the gateway', async () => {
    const { send, received } = await gateway();
    await send('/v1/health');
    const result = await verifier()(received[0]!);
    expect(result.ok && [result.identity.sub, result.identity.authn]).toEqual(['anonymous', 'anonymous']);
  });

  it('in the configured header, replacing one the client sent', async () => {
    const { send, received } = await gateway({ header: 'x-edge-identity' });
    await send('/v1/health', { 'x-edge-identity': 'forged', [IDENTITY_HEADER]: 'forged' });
    expect(received[0]!.headers.get('x-edge-identity')).not.toBe('forged');
    expect(received[0]!.headers.has(IDENTITY_HEADER)).toBe(false);
    expect((await identityVerifier({ key: KEY, audience: false, header: 'x-edge-identity', now: () => NOW_MS })(received[0]!)).ok).toBe(true);
  });

  it.each([
    ['a short string key', { key: 'x'.repeat(31) }, 'identity.key: at least 32 bytes are required, got 31'],
    ['a ttl of 0', { ttlSeconds: 0 }, 'identity.ttlSeconds: a whole number of seconds from 1 to 3600, got 0'],
    ['a ttl over an hour', { ttlSeconds: 3601 }, 'identity.ttlSeconds: a whole number of seconds from 1 to 3600, got 3601'],
  ])('refuses %s at construction', (_, options, message) => {
    expect(() => forwardTo(ORIGIN, { identity: { key: KEY, ...options } })).toThrow(policyError(message));
  });
});

describe('the origin refuses', () => {
  /** A request to the origin as the gateway would send it, with `token` as the assertion. */
  const at = (token: string | null, path = '/v1/health', method = 'GET') =>
    new Request(`${ORIGIN}${path}`, { method, headers: token === null ? {} : { [IDENTITY_HEADER]: token } });

  async function honest(path = '/v1/health') {
    const { send, received } = await gateway();
    await send(path, path.startsWith('/v1/things') ? { 'x-api-key': API_KEY } : {});
    return received[0]!.headers.get(IDENTITY_HEADER)!;
  }

  const forge = (claims: Record<string, unknown>, key: string = KEY, typ = IDENTITY_TYP) =>
    new SignJWT({ authn: 'user', roles: ['admin'], scopes: [], client_ip: '203.0.113.1', req_method: 'GET', req_target: '/v1/health', ...claims })
      .setProtectedHeader({ alg: 'HS256', typ })
      .setIssuer('portcullis')
      .setAudience(ORIGIN)
      .setSubject('u_admin')
      .setJti('forged')
      .setIssuedAt(NOW_SECONDS)
      .setExpirationTime(NOW_SECONDS + 60)
      .sign(new TextEncoder().encode(key));

  it('a request without an assertion (it did not come through the gateway)', async () => {
    expect(await verifier()(at(null))).toEqual({ ok: false, reason: 'identity.missing' });
  });

  it('two assertions', async () => {
    const token = await honest();
    const request = new Request(`${ORIGIN}/v1/health`, { headers: [[IDENTITY_HEADER, token], [IDENTITY_HEADER, token]] });
    expect(await verifier()(request)).toEqual({ ok: false, reason: 'identity.missing' });
  });

  it.each([
    ['signed with another key', () => forge({}, 'an-attackers-guess-at-the-key-0123456789')],
    ['of another type', () => forge({}, KEY, 'JWT')],
    ['unsigned', async () => `${(await honest()).split('.').slice(0, 2).join('.')}.`],
    ['with a changed principal', async () => {
      const [header, payload, signature] = (await honest()).split('.');
      const claims = JSON.parse(Buffer.from(payload!, 'base64url').toString()) as Record<string, unknown>;
      return [header, Buffer.from(JSON.stringify({ ...claims, sub: 'u_admin' })).toString('base64url'), signature].join('.');
    }],
    ['that is not a JWT', async () => 'admin'],
  ])('an assertion %s', async (_, token) => {
    expect(await verifier()(at(await token()))).toEqual({ ok: false, reason: 'identity.invalid' });
  });

  it('an assertion for another origin when the audience is checked', async () => {
    expect(await verifier({ audience: 'https://billing.test' })(at(await honest()))).toEqual({ ok: false, reason: 'identity.invalid' });
  });

  it('an assertion replayed on another target or method', async () => {
    const token = await honest('/v1/things/7');
    expect(await verifier()(at(token, '/v1/things/7'))).toMatchObject({ ok: true });
    expect(await verifier()(at(token, '/v1/things/8'))).toEqual({ ok: false, reason: 'identity.wrong_request' });
    expect(await verifier()(at(token, '/v1/things/7?admin=1'))).toEqual({ ok: false, reason: 'identity.wrong_request' });
    expect(await verifier()(at(token, '/v1/things/7', 'DELETE'))).toEqual({ ok: false, reason: 'identity.wrong_request' });
  });

  it.each([
    ['after 60 seconds (and 5 of tolerance)', NOW_MS + 66_000],
    ['issued in the future', NOW_MS - 10_000],
  ])('an assertion %s', async (_, now) => {
    const token = await honest();
    expect(await verifier({ now: NOW_MS + 64_000 })(at(token))).toMatchObject({ ok: true });
    expect(await verifier({ now })(at(token))).toEqual({ ok: false, reason: 'identity.expired' });
  });

  it('the same assertion twice, with a replay cache: after the first use, even for its own request', async () => {
    const token = await honest();
    const verify = identityVerifier({ key: KEY, audience: false, now: () => NOW_MS, replayCache: memoryReplayCache({ now: () => NOW_MS }) });
    expect(await verify(at(token))).toMatchObject({ ok: true });
    expect(await verify(at(token))).toEqual({ ok: false, reason: 'identity.replayed' });
  });

  it('nothing that failed another check takes a place in the replay cache', async () => {
    const token = await honest();
    const verify = identityVerifier({ key: KEY, audience: false, now: () => NOW_MS, replayCache: memoryReplayCache({ now: () => NOW_MS, maxEntries: 1 }) });
    expect(await verify(at(token, '/v1/other'))).toEqual({ ok: false, reason: 'identity.wrong_request' });
    expect(await verify(at(await forge({}, 'an-attackers-guess-at-the-key-0123456789')))).toEqual({ ok: false, reason: 'identity.invalid' });
    expect(await verify(at(token))).toMatchObject({ ok: true });
  });

  it('a new assertion when the replay cache is full of valid ones (fail closed), and not once they expired', async () => {
    let now = NOW_MS;
    const cache = memoryReplayCache({ maxEntries: 2, now: () => now });
    expect([cache.firstUse('a', NOW_MS + 65_000), cache.firstUse('b', NOW_MS + 65_000), cache.firstUse('c', NOW_MS + 65_000)]).toEqual([true, true, false]);
    now = NOW_MS + 65_000;
    expect([cache.firstUse('c', now + 65_000), cache.firstUse('a', now + 65_000)]).toEqual([true, true]);
  });

  it('to start with a short key', () => {
    expect(() => identityVerifier({ key: 'short', audience: false })).toThrow(policyError('identity.key: at least 32 bytes are required, got 5'));
  });

  it('to start without an audience: one gateway signs for all its origins with one key', () => {
    // Untyped callers (JavaScript, a config object) can still leave it out.
    const options = { key: KEY } as unknown as Parameters<typeof identityVerifier>[0];
    expect(() => identityVerifier(options)).toThrow(/identity\.audience: required/);
    expect(() => identityHeaderVerifier({ ...options, audience: '' })).toThrow(/identity\.audience: required/);
  });
});

describe('the origin without a Fetch Request (node:http, Express) verifies the header value', () => {
  const verify = identityHeaderVerifier({ key: KEY, audience: ORIGIN, now: () => NOW_MS });

  async function assertion() {
    const { send, received } = await gateway();
    await send('/v1/things/7?view=full', { 'x-api-key': API_KEY });
    return received[0]!.headers.get(IDENTITY_HEADER)!;
  }

  it('for the method and target it was issued for, as req.method and req.url give them', async () => {
    const result = await verify(await assertion(), 'GET', '/v1/things/7?view=full');
    expect(result).toMatchObject({ ok: true, identity: { sub: 'svc_a', roles: ['reader'], req_target: '/v1/things/7?view=full' } });
    // node:http gives a header it received once as a string; an array of one is the same.
    expect(await verify([await assertion()], 'GET', '/v1/things/7?view=full')).toMatchObject({ ok: true });
  });

  it.each<[string, (token: string) => Parameters<typeof verify>]>([
    ['no header', () => [undefined, 'GET', '/v1/things/7?view=full']],
    ['two headers, as an array', (token) => [[token, token], 'GET', '/v1/things/7?view=full']],
    ['two headers, joined by node:http', (token) => [`${token}, ${token}`, 'GET', '/v1/things/7?view=full']],
  ])('refuses %s as missing', async (_, args) => {
    expect(await verify(...args(await assertion()))).toEqual({ ok: false, reason: 'identity.missing' });
  });

  it('refuses it on another target or method', async () => {
    const token = await assertion();
    expect(await verify(token, 'GET', '/v1/things/8?view=full')).toEqual({ ok: false, reason: 'identity.wrong_request' });
    expect(await verify(token, 'DELETE', '/v1/things/7?view=full')).toEqual({ ok: false, reason: 'identity.wrong_request' });
  });
});
