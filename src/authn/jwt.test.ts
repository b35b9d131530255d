/**
 * `jwt()` driven through a real engine: the JWT attack corpus, the claims jose leaves to its
 * caller, principals, definition-time errors and the verified-token cache (local keys; the remote
 * JWKS and its rotation are in test/authn/jwks-rotation.test.ts).
 */
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { ENGINE_CRYPTO, spyOnVerify } from '../../test/fixtures/engine-crypto.ts';
import {
  AUDIENCE,
  es256,
  handmadeToken,
  hmacWithPublicKey,
  hs256,
  impostorEs256,
  ISSUER,
  jwksOf,
  NOW_MS,
  NOW_SECONDS,
  rs256,
  signRawPayload,
  signToken,
  standardClaims,
  withPayload,
  type TestKey,
} from '../../test/fixtures/keys.ts';
import type { Decision } from '../decision.ts';
import { createEngine, type EngineEnv } from '../engine.ts';
import { PolicyError } from '../errors.ts';
import { definePolicy } from '../policy/define.ts';
import type { AuthnMethod } from '../stages/authn.ts';
import { jwt, type JwtOptions } from './jwt.ts';

const INVALID_TOKEN = 'Bearer realm="api", error="invalid_token"';
const INVALID_REQUEST = 'Bearer realm="api", error="invalid_request"';

/** The engine's crypto in the suite running now: each suite runs with WebCrypto alone and with the runtime's own. */
let engineCrypto: Pick<EngineEnv, 'crypto'> = {};

/** A pinned clock the test may move. */
function clockAt(ms = NOW_MS) {
  return { ms, advance(seconds: number) { this.ms += seconds * 1000; } };
}

/** An engine with one route, `GET /me`, accepting `user`; returns a request function. */
function guard(user: AuthnMethod, clock = clockAt()) {
  const engine = createEngine(
    definePolicy({
      transport: { requireHttps: false },
      authn: { user },
      routes: { 'GET /me': { authn: ['user'], allow: 'authenticated' } },
    }),
    { now: () => clock.ms, log: () => {}, ...engineCrypto },
  );
  return (headers?: HeadersInit) => engine.evaluate(new Request('https://api.test/me', { headers }));
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

/** jwt() for ES256 tokens from the local `es256` key, plus overrides. */
const esUser = (options: Partial<JwtOptions> = {}) =>
  jwt({ jwks: jwksOf(es256), algorithms: ['ES256'], issuer: ISSUER, audience: AUDIENCE, ...options });
const rsUser = (options: Partial<JwtOptions> = {}) =>
  jwt({ jwks: jwksOf(rs256), algorithms: ['RS256'], issuer: ISSUER, audience: AUDIENCE, ...options });

function expectDenied(decision: Decision, status: number, reason: string, challenge: string | null) {
  expect(decision.kind).toBe('deny');
  if (decision.kind !== 'deny') return;
  expect({ status: decision.status, reason: decision.reason }).toEqual({ status, reason });
  expect(decision.headers.get('www-authenticate')).toBe(challenge);
  expect(decision.problem?.code).toBe(reason);
}

function expectAllowed(decision: Decision, id = 'user_1') {
  expect(decision.kind === 'deny' ? decision.reason : 'allow').toBe('allow');
  if (decision.kind === 'allow') expect(decision.principal).toMatchObject({ id, method: 'user' });
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

afterEach(() => {
  vi.restoreAllMocks();
});

describe.each(ENGINE_CRYPTO)('with $name', ({ crypto: native }) => {
  beforeAll(() => {
    engineCrypto = { crypto: native };
  });

  describe('jwt() accepts honest tokens', () => {
    it.each([
      { name: 'an ES256 token from the local JWKS', user: () => esUser(), sign: () => signToken(es256) },
      { name: 'an RS256 token from the local JWKS', user: () => rsUser(), sign: () => signToken(rs256) },
      {
        name: 'an HS256 token from the shared secret',
        user: () => jwt({ secret: hs256.secret, algorithms: ['HS256'], issuer: ISSUER, audience: AUDIENCE }),
        sign: () => signToken(hs256),
      },
      { name: 'a token given as a single JWK rather than a set', user: () => esUser({ jwks: es256.publicJwk }), sign: () => signToken(es256) },
      { name: 'a token whose aud is an array containing the audience', user: () => esUser(), sign: () => signToken(es256, { aud: ['other', AUDIENCE] }) },
      { name: 'a token expired by less than the clock tolerance', user: () => esUser(), sign: () => signToken(es256, { exp: NOW_SECONDS - 4 }) },
    ])('accepts $name', async ({ user, sign }) => {
      expectAllowed(await guard(user())(bearer(await sign())));
    });
  });

  describe('jwt() and client-credentials tokens', () => {
    const owned = (user: AuthnMethod) => {
      const engine = createEngine(
        definePolicy({ transport: { requireHttps: false }, authn: { user }, routes: { 'GET /v1/users/:id': { authn: ['user'], allow: [{ owner: { param: 'id' } }] } } }),
        { now: () => NOW_MS, log: () => {}, ...engineCrypto },
      );
      return (id: string, token: string) => engine.evaluate(new Request(`https://api.test/v1/users/${id}`, { headers: bearer(token) }));
    };

    it('makes a token whose subject is its own client (RFC 9068 client credentials) a client, which owns nothing', async () => {
      const get = owned(esUser());
      const decision = await get('svc_reports', await signToken(es256, { sub: 'svc_reports', client_id: 'svc_reports' }));
      expectDenied(decision, 403, 'authz.denied', null);
    });

    it('keeps a user token issued to a client a user, who owns their own id', async () => {
      const get = owned(esUser());
      const decision = await get('user_1', await signToken(es256, { sub: 'user_1', client_id: 'web_app' }));
      expectAllowed(decision);
      expect(decision.kind === 'allow' && decision.principal.kind).toBeUndefined();
    });
  });

  describe('jwt() with a shared secret', () => {
    const hsUser = (secret: Uint8Array = hs256.secret) =>
      jwt({ secret, algorithms: ['HS256', 'HS384', 'HS512'], issuer: ISSUER, audience: AUDIENCE });
    const signHs = (alg: string, claims: Record<string, unknown> = {}) => signToken(hs256, claims, { header: { alg } });

    it('verifies HS256, HS384 and HS512 tokens, importing the secret once per algorithm', async () => {
      const importKey = vi.spyOn(crypto.subtle, 'importKey');
      const request = guard(hsUser());
      for (let i = 0; i < 3; i++) {
        for (const alg of ['HS256', 'HS384', 'HS512']) expectAllowed(await request(bearer(await signHs(alg, { jti: `${alg}-${i}` }))));
      }
      // (Signing the tokens imports the secret too, for 'sign'.)
      expect(importKey.mock.calls.filter((call) => call[0] === 'raw' && (call[4] as string[]).includes('verify'))).toHaveLength(3);
    });

    it.each([
      { name: 'a token signed with another secret', token: () => signToken({ alg: 'HS256', secret: new Uint8Array(32).fill(7) }) },
      {
        name: 'an HS384 signature under a header relabelled HS256',
        token: async () => {
          const [, payload, signature] = (await signHs('HS384')).split('.');
          return `${(await signHs('HS256')).split('.')[0]}.${payload}.${signature}`;
        },
      },
    ])('refuses $name', async ({ token }) => {
      const request = guard(hsUser());
      expectAllowed(await request(bearer(await signHs('HS256'))));
      expectDenied(await request(bearer(await token())), 401, 'authn.bad_signature', INVALID_TOKEN);
    });
  });

  describe('jwt() attack corpus', () => {
    const claims = standardClaims();
    const cases: { name: string; token: () => Promise<string> | string; user?: () => AuthnMethod; reason: string }[] = [
      { name: 'alg "none" with an empty signature', token: () => handmadeToken({ alg: 'none', typ: 'JWT' }, claims), reason: 'authn.malformed_token' },
      { name: 'alg "none" with a signature part', token: () => handmadeToken({ alg: 'none', typ: 'JWT' }, claims, 'AAAA'), reason: 'authn.alg_not_allowed' },
      { name: 'alg "None" (case variant)', token: () => handmadeToken({ alg: 'None', typ: 'JWT' }, claims, 'AAAA'), reason: 'authn.alg_not_allowed' },
      {
        name: 'an RS256-route token signed as HS256 with the RSA public key (PEM)',
        user: () => rsUser(),
        token: () => hmacWithPublicKey(rs256.spkiPem, { kid: rs256.kid }, claims),
        reason: 'authn.alg_not_allowed',
      },
      {
        name: 'an RS256-route token signed as HS256 with the RSA public JWK',
        user: () => rsUser(),
        token: () => hmacWithPublicKey(JSON.stringify(rs256.publicJwk), { kid: rs256.kid }, claims),
        reason: 'authn.alg_not_allowed',
      },
      {
        name: 'an ES256-route token signed as HS256 with the EC public key (PEM)',
        token: () => hmacWithPublicKey(es256.spkiPem, { kid: es256.kid }, claims),
        reason: 'authn.alg_not_allowed',
      },
      { name: 'an RS256 token on an ES256-only route', token: () => signToken(rs256, {}, { header: { kid: es256.kid } }), reason: 'authn.alg_not_allowed' },
      { name: 'an expired token', token: () => signToken(es256, { iat: NOW_SECONDS - 3600, exp: NOW_SECONDS - 60 }), reason: 'authn.token_expired' },
      { name: 'a token not yet valid (nbf)', token: () => signToken(es256, { nbf: NOW_SECONDS + 60 }), reason: 'authn.token_not_yet_valid' },
      { name: 'a token issued in the future (iat)', token: () => signToken(es256, { iat: NOW_SECONDS + 60, exp: NOW_SECONDS + 600 }), reason: 'authn.token_issued_in_future' },
      { name: 'a token from another issuer', token: () => signToken(es256, { iss: 'https://evil.example' }), reason: 'authn.wrong_issuer' },
      { name: 'a token for another audience', token: () => signToken(es256, { aud: 'other-api' }), reason: 'authn.wrong_audience' },
      { name: 'a token without aud', token: () => signToken(es256, { aud: undefined }), reason: 'authn.wrong_audience' },
      { name: 'a token without iss', token: () => signToken(es256, { iss: undefined }), reason: 'authn.wrong_issuer' },
      { name: 'a token without exp', token: () => signToken(es256, { exp: undefined }), reason: 'authn.claim_invalid' },
      {
        name: 'a signed exp of 1e400 (parses as Infinity)',
        token: () => signRawPayload(es256, `{"iss":"${ISSUER}","aud":"${AUDIENCE}","sub":"user_1","exp":1e400}`),
        reason: 'authn.claim_invalid',
      },
      {
        name: 'a signed exp of 1e400 with an iat',
        token: () => signRawPayload(es256, `{"iss":"${ISSUER}","aud":"${AUDIENCE}","sub":"user_1","iat":${NOW_SECONDS},"exp":1e400}`),
        reason: 'authn.claim_invalid',
      },
      {
        name: 'a signed nbf of -1e400',
        token: () => signRawPayload(es256, `{"iss":"${ISSUER}","aud":"${AUDIENCE}","sub":"user_1","nbf":-1e400,"exp":${NOW_SECONDS + 600}}`),
        reason: 'authn.claim_invalid',
      },
      { name: 'an exp given as a string', token: () => signToken(es256, { exp: String(NOW_SECONDS + 600) }), reason: 'authn.claim_invalid' },
      {
        name: 'a lifetime (exp - iat) over the default maxLifetime of a day',
        token: () => signToken(es256, { iat: NOW_SECONDS - 10, exp: NOW_SECONDS - 10 + 86_401 }),
        reason: 'authn.lifetime_too_long',
      },
      {
        name: 'a lifetime over a configured maxLifetime',
        user: () => esUser({ maxLifetime: 300 }),
        token: () => signToken(es256, { iat: NOW_SECONDS, exp: NOW_SECONDS + 301 }),
        reason: 'authn.lifetime_too_long',
      },
      {
        // Without iat the lifetime cannot be computed from the token; its exp is still ten years out.
        name: 'a token without iat whose exp lies further ahead than maxLifetime',
        token: () => signToken(es256, { iat: undefined, exp: NOW_SECONDS + 10 * 365 * 86_400 }),
        reason: 'authn.lifetime_too_long',
      },
      { name: 'a tampered payload (sub changed, signature kept)', token: async () => withPayload(await signToken(es256), { ...claims, sub: 'admin' }), reason: 'authn.bad_signature' },
      { name: 'a token signed by another key under the same kid', token: () => signToken(impostorEs256), reason: 'authn.bad_signature' },
      { name: 'a token naming an unknown kid', token: () => signToken(es256, {}, { header: { kid: 'nobody' } }), reason: 'authn.unknown_key' },
      {
        name: 'a jku header pointing at the attacker’s key set',
        token: () => signToken(es256, {}, { header: { jku: 'https://evil.example/jwks.json' } }),
        reason: 'authn.forbidden_header',
      },
      { name: 'an x5u header', token: () => signToken(es256, {}, { header: { x5u: 'https://evil.example/cert.pem' } }), reason: 'authn.forbidden_header' },
      {
        name: 'an embedded jwk header carrying the attacker’s own key',
        token: () => signToken(impostorEs256, {}, { header: { jwk: impostorEs256.publicJwk } }),
        reason: 'authn.forbidden_header',
      },
      {
        name: 'an embedded jwk header on a token the real key signed',
        token: () => signToken(es256, {}, { header: { jwk: es256.publicJwk } }),
        reason: 'authn.forbidden_header',
      },
      { name: 'an x5c header', token: () => signToken(es256, {}, { header: { x5c: ['MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA'] } }), reason: 'authn.forbidden_header' },
      {
        name: 'a jku header on a token whose algorithm is not allowed (the header is reported first)',
        token: () => handmadeToken({ alg: 'HS256', jku: 'https://evil.example/jwks.json' }, claims, 'AAAA'),
        reason: 'authn.forbidden_header',
      },
      {
        name: 'a jwk header on a tampered token (the header is reported first)',
        token: async () => withPayload(await signToken(es256, {}, { header: { jwk: es256.publicJwk } }), { ...claims, sub: 'admin' }),
        reason: 'authn.forbidden_header',
      },
      {
        name: 'a jku header on an expired token (the header is reported first)',
        token: () => signToken(es256, { iat: NOW_SECONDS - 3600, exp: NOW_SECONDS - 60 }, { header: { jku: 'https://evil.example/jwks.json' } }),
        reason: 'authn.forbidden_header',
      },
      {
        name: 'a crit header naming an unknown extension',
        token: () => signToken(es256, {}, { header: { crit: ['urn:example:must-understand'], 'urn:example:must-understand': true }, crit: { 'urn:example:must-understand': true } }),
        reason: 'authn.invalid_token',
      },
      { name: 'a token over maxTokenBytes', user: () => esUser({ maxTokenBytes: 64 }), token: () => signToken(es256), reason: 'authn.token_too_large' },
      { name: 'a token without sub', token: () => signToken(es256, { sub: undefined }), reason: 'authn.claim_invalid' },
      { name: 'a token with an empty sub', token: () => signToken(es256, { sub: '' }), reason: 'authn.claim_invalid' },
      { name: 'a token with a numeric sub', token: () => signToken(es256, { sub: 42 }), reason: 'authn.claim_invalid' },
      { name: 'a token with four parts', token: async () => `${await signToken(es256)}.AAAA`, reason: 'authn.malformed_token' },
      { name: 'a token whose header is not JSON', token: async () => `bm90anNvbg.${(await signToken(es256)).split('.').slice(1).join('.')}`, reason: 'authn.malformed_token' },
      { name: 'a token with a trailing "="', token: async () => `${await signToken(es256)}=`, reason: 'authn.malformed_token' },
      { name: 'a token with trailing "=="', token: async () => `${await signToken(es256)}==`, reason: 'authn.malformed_token' },
      { name: 'a token with garbage appended to its signature', token: async () => `${await signToken(es256)}AAAA`, reason: 'authn.bad_signature' },
    ];

    it.each(cases)('rejects $name', async ({ token, user, reason }) => {
      const decision = await guard((user ?? esUser)())(bearer(await token()));
      expectDenied(decision, 401, reason, INVALID_TOKEN);
    });
  });

  describe('jwt() time claims with maxTokenAge', () => {
    it.each([
      { name: 'an iat older than maxTokenAge', iat: NOW_SECONDS - 400, reason: 'authn.token_too_old' },
      { name: 'an iat in the future', iat: NOW_SECONDS + 60, reason: 'authn.token_issued_in_future' },
    ])('rejects $name with its own reason code', async ({ iat, reason }) => {
      const request = guard(esUser({ maxTokenAge: 300 }));
      expectDenied(await request(bearer(await signToken(es256, { iat, exp: NOW_SECONDS + 600 }))), 401, reason, INVALID_TOKEN);
    });

    it('rejects a token without iat when maxTokenAge is set', async () => {
      const request = guard(esUser({ maxTokenAge: 300 }));
      expectDenied(await request(bearer(await signToken(es256, { iat: undefined }))), 401, 'authn.claim_invalid', INVALID_TOKEN);
    });

    it('accepts an iat within maxTokenAge', async () => {
      const request = guard(esUser({ maxTokenAge: 300 }));
      expectAllowed(await request(bearer(await signToken(es256, { iat: NOW_SECONDS - 299 }))));
    });
  });

  describe('jwt() reads the Authorization header strictly', () => {
    it('answers a request without credentials with a challenge and no error code', async () => {
      expectDenied(await guard(esUser())(), 401, 'authn.required', 'Bearer realm="api"');
    });

    it('treats another scheme as no bearer credential at all', async () => {
      expectDenied(await guard(esUser())({ authorization: 'Basic dXNlcjpwYXNz' }), 401, 'authn.required', 'Bearer realm="api"');
    });

    it.each(['bearer', 'BEARER', 'Bearer', 'bEaReR'])('accepts the scheme spelled %s (schemes are case-insensitive)', async (scheme) => {
      expectAllowed(await guard(esUser())({ authorization: `${scheme} ${await signToken(es256)}` }));
    });

    it('rejects two Authorization headers as an invalid request instead of picking one', async () => {
      const headers = new Headers();
      headers.append('authorization', `Bearer ${await signToken(es256)}`);
      headers.append('authorization', `Bearer ${await signToken(es256, { sub: 'admin' })}`);
      expectDenied(await guard(esUser())(headers), 400, 'authn.invalid_request', INVALID_REQUEST);
    });

    it('rejects two Authorization headers even when both carry the same valid token', async () => {
      const token = await signToken(es256);
      const headers = new Headers();
      headers.append('authorization', `Bearer ${token}`);
      headers.append('authorization', `Bearer ${token}`);
      expectDenied(await guard(esUser())(headers), 400, 'authn.invalid_request', INVALID_REQUEST);
    });

    it.each([
      { name: 'the scheme alone', value: () => 'Bearer' },
      { name: 'two spaces before the token', value: async () => `Bearer  ${await signToken(es256)}` },
      { name: 'a space and garbage after the token', value: async () => `Bearer ${await signToken(es256)} x` },
      { name: 'a comma-joined second token', value: async () => `Bearer ${await signToken(es256)},${await signToken(es256)}` },
    ])('rejects $name as an invalid request', async ({ value }) => {
      expectDenied(await guard(esUser())({ authorization: await value() }), 400, 'authn.invalid_request', INVALID_REQUEST);
    });

    it('sees the same token, and one identity, when Fetch trims a trailing space from the header', async () => {
      const verify = spyOnVerify(native);
      const token = await signToken(es256);
      const request = guard(esUser());
      expectAllowed(await request({ authorization: `Bearer ${token}` }));
      expectAllowed(await request({ authorization: `Bearer ${token} ` }));
      expect(verify).toHaveBeenCalledTimes(1);
    });

    it('rejects a token longer than maxTokenBytes before decoding it, and accepts one exactly at the cap', async () => {
      const token = await signToken(es256);
      expectAllowed(await guard(esUser({ maxTokenBytes: token.length }))(bearer(token)));
      expectDenied(await guard(esUser({ maxTokenBytes: token.length - 1 }))(bearer(token)), 401, 'authn.token_too_large', INVALID_TOKEN);
    });

    it('rejects an oversize token of garbage with the size reason, not a parse error', async () => {
      expectDenied(await guard(esUser())(bearer(`${'A'.repeat(9000)}.B.C`)), 401, 'authn.token_too_large', INVALID_TOKEN);
    });
  });

  describe('jwt() options', () => {
    it('accepts a token without exp only with dangerouslyAllowMissingExp', async () => {
      const token = await signToken(es256, { exp: undefined });
      expectDenied(await guard(esUser())(bearer(token)), 401, 'authn.claim_invalid', INVALID_TOKEN);
      expectAllowed(await guard(esUser({ dangerouslyAllowMissingExp: true }))(bearer(token)));
    });

    it.each([
      { name: 'typ "at+jwt"', typ: 'at+jwt', allowed: true },
      { name: 'typ "application/at+jwt"', typ: 'application/at+jwt', allowed: true },
      { name: 'typ "AT+JWT"', typ: 'AT+JWT', allowed: true },
      { name: 'typ "JWT"', typ: 'JWT', allowed: false },
      { name: 'no typ', typ: undefined, allowed: false },
    ])('with typ "at+jwt" required, a token with $name is accepted: $allowed', async ({ typ, allowed }) => {
      const decision = await guard(esUser({ typ: 'at+jwt' }))(bearer(await signToken(es256, {}, { header: { typ } })));
      if (allowed) expectAllowed(decision);
      else expectDenied(decision, 401, 'authn.wrong_type', INVALID_TOKEN);
    });

    it('requires requiredClaims to be present', async () => {
      const request = guard(esUser({ requiredClaims: ['tenant'] }));
      expectDenied(await request(bearer(await signToken(es256))), 401, 'authn.claim_invalid', INVALID_TOKEN);
      expectAllowed(await request(bearer(await signToken(es256, { tenant: 'acme' }))));
    });

    it('honours clockTolerance for exp and nbf', async () => {
      const request = guard(esUser({ clockTolerance: 30 }));
      expectAllowed(await request(bearer(await signToken(es256, { exp: NOW_SECONDS - 29 }))));
      expectAllowed(await request(bearer(await signToken(es256, { nbf: NOW_SECONDS + 29 }))));
      expectDenied(await request(bearer(await signToken(es256, { exp: NOW_SECONDS - 30 }))), 401, 'authn.token_expired', INVALID_TOKEN);
      expectDenied(await request(bearer(await signToken(es256, { nbf: NOW_SECONDS + 31 }))), 401, 'authn.token_not_yet_valid', INVALID_TOKEN);
    });
  });

  describe('jwt() time claims at the edge of the clock tolerance', () => {
    it.each([
      { name: 'exp', claims: (at: number) => ({ exp: at }), ok: NOW_SECONDS - 4, refused: NOW_SECONDS - 5, reason: 'authn.token_expired' },
      { name: 'nbf', claims: (at: number) => ({ nbf: at }), ok: NOW_SECONDS + 5, refused: NOW_SECONDS + 6, reason: 'authn.token_not_yet_valid' },
      { name: 'a future iat', claims: (at: number) => ({ iat: at, exp: NOW_SECONDS + 600 }), ok: NOW_SECONDS + 5, refused: NOW_SECONDS + 6, reason: 'authn.token_issued_in_future' },
    ])('$name: accepted just inside the 5 s tolerance, refused just outside, with and without maxTokenAge', async ({ claims, ok, refused, reason }) => {
      for (const options of [{}, { maxTokenAge: 300 }]) {
        expectAllowed(await guard(esUser(options))(bearer(await signToken(es256, claims(ok)))));
        expectDenied(await guard(esUser(options))(bearer(await signToken(es256, claims(refused)))), 401, reason, INVALID_TOKEN);
      }
    });
  });

  describe('jwt() principals', () => {
    async function principalOf(options: Partial<JwtOptions>, claims: Record<string, unknown>) {
      const decision = await guard(esUser(options))(bearer(await signToken(es256, claims)));
      expectAllowed(decision);
      return decision.kind === 'allow' ? decision.principal : undefined;
    }

    it.each([
      { name: 'roles from "roles"', options: {}, claims: { roles: ['admin', 'support'] }, roles: ['admin', 'support'], scopes: [] },
      {
        name: 'roles from "realm_access.roles"',
        options: { rolesClaim: 'realm_access.roles' },
        claims: { realm_access: { roles: ['admin'] }, roles: ['ignored'] },
        roles: ['admin'],
        scopes: [],
      },
      { name: 'scopes from a space-delimited "scope"', options: {}, claims: { scope: 'orders:read  orders:write' }, roles: [], scopes: ['orders:read', 'orders:write'] },
      { name: 'scopes from an "scp" array', options: { scopesClaim: 'scp' }, claims: { scp: ['orders:read', 'orders:write'] }, roles: [], scopes: ['orders:read', 'orders:write'] },
      { name: 'no roles when the claim is missing', options: { rolesClaim: 'realm_access.roles' }, claims: { roles: ['admin'] }, roles: [], scopes: [] },
      { name: 'no roles from inherited properties', options: { rolesClaim: 'constructor' }, claims: {}, roles: [], scopes: [] },
      { name: 'only the string members of a roles array', options: {}, claims: { roles: ['admin', 7, { x: 1 }] }, roles: ['admin'], scopes: [] },
    ])('reads $name', async ({ options, claims, roles, scopes }) => {
      const principal = await principalOf(options, claims);
      expect(principal).toMatchObject({ id: 'user_1', method: 'user', roles, scopes });
    });

    it('carries the verified claims, frozen', async () => {
      const principal = await principalOf({}, { tenant: 'acme' });
      expect(principal?.claims).toMatchObject({ sub: 'user_1', iss: ISSUER, tenant: 'acme' });
      expect(Object.isFrozen(principal?.claims)).toBe(true);
    });
  });

  describe('jwt() requireMfa', () => {
    it.each([
      { name: 'amr with otp', requireMfa: true, claims: { amr: ['pwd', 'otp'] }, allowed: true },
      { name: 'amr with mfa', requireMfa: true, claims: { amr: ['mfa'] }, allowed: true },
      { name: 'amr with only pwd', requireMfa: true, claims: { amr: ['pwd'] }, allowed: false },
      { name: 'no amr', requireMfa: true, claims: {}, allowed: false },
      { name: 'an amr string rather than an array', requireMfa: true, claims: { amr: 'pwd' }, allowed: false },
      { name: 'a listed acr', requireMfa: { acr: ['urn:example:loa:2'] }, claims: { acr: 'urn:example:loa:2' }, allowed: true },
      { name: 'another acr', requireMfa: { acr: ['urn:example:loa:2'] }, claims: { acr: 'urn:example:loa:1' }, allowed: false },
      { name: 'a listed amr', requireMfa: { amr: ['hwk'] }, claims: { amr: ['hwk'] }, allowed: true },
      { name: 'an amr not in the list', requireMfa: { amr: ['hwk'] }, claims: { amr: ['otp'] }, allowed: false },
    ])('with $name the token is accepted: $allowed', async ({ requireMfa, claims, allowed }) => {
      const decision = await guard(esUser({ requireMfa }))(bearer(await signToken(es256, claims)));
      if (allowed) expectAllowed(decision);
      else expectDenied(decision, 401, 'authn.mfa_required', 'Bearer realm="api", error="insufficient_user_authentication"');
    });
  });

  describe('jwt() definition-time errors', () => {
    const base = { jwks: jwksOf(es256), algorithms: ['ES256'], issuer: ISSUER, audience: AUDIENCE } as JwtOptions;
    const secret = 'a-shared-secret-of-32-bytes-long';

    it.each<{ name: string; options: Record<string, unknown>; path: string | RegExp }>([
      { name: 'no algorithms', options: { ...base, algorithms: undefined }, path: 'jwt().algorithms' },
      { name: 'an empty algorithm list', options: { ...base, algorithms: [] }, path: 'jwt().algorithms' },
      { name: 'alg "none"', options: { ...base, algorithms: ['none'] }, path: 'jwt().algorithms' },
      { name: 'HS256 mixed with RS256', options: { secret, algorithms: ['HS256', 'RS256'], issuer: ISSUER, audience: AUDIENCE }, path: 'jwt().algorithms' },
      { name: 'a secret shorter than 32 bytes', options: { secret: 'x'.repeat(31), algorithms: ['HS256'], issuer: ISSUER, audience: AUDIENCE }, path: 'jwt().secret' },
      { name: 'a secret with RS256', options: { secret, algorithms: ['RS256'], issuer: ISSUER, audience: AUDIENCE }, path: 'jwt().secret' },
      { name: 'HS256 with public keys', options: { ...base, algorithms: ['HS256'] }, path: 'jwt().algorithms' },
      { name: 'a secret and a JWKS', options: { ...base, secret }, path: /^jwt\(\)\.(secret|jwks)$/ },
      { name: 'a JWKS and a JWKS URL', options: { ...base, jwksUrl: 'https://id.example/jwks.json' }, path: /^jwt\(\)\.(jwks|jwksUrl)$/ },
      { name: 'no key source', options: { ...base, jwks: undefined }, path: /^jwt\(\)\.(secret|jwks|jwksUrl)$/ },
      { name: 'a missing issuer', options: { ...base, issuer: undefined }, path: 'jwt().issuer' },
      { name: 'an empty issuer', options: { ...base, issuer: '' }, path: 'jwt().issuer' },
      { name: 'an empty issuer list', options: { ...base, issuer: [] }, path: 'jwt().issuer' },
      { name: 'a missing audience', options: { ...base, audience: undefined }, path: 'jwt().audience' },
      { name: 'an empty audience list', options: { ...base, audience: [] }, path: 'jwt().audience' },
      { name: 'a private key in the JWKS', options: { ...base, jwks: { keys: [es256.privateJwk] } }, path: 'jwt().jwks.keys[0]' },
      { name: 'a private key given as the JWK', options: { ...base, jwks: rs256.privateJwk, algorithms: ['RS256'] }, path: 'jwt().jwks.keys[0]' },
      { name: 'a symmetric key in the JWKS', options: { ...base, jwks: { keys: [es256.publicJwk, { kty: 'oct', k: 'c2VjcmV0' }] } }, path: 'jwt().jwks.keys[1]' },
      { name: 'a JWKS URL that is not a URL', options: { ...base, jwks: undefined, jwksUrl: 'not a url' }, path: 'jwt().jwksUrl' },
      { name: 'a JWKS URL over plain http to a remote host', options: { ...base, jwks: undefined, jwksUrl: 'http://id.example/jwks.json' }, path: 'jwt().jwksUrl' },
      { name: 'a negative clockTolerance', options: { ...base, clockTolerance: -1 }, path: 'jwt().clockTolerance' },
      { name: 'a non-finite maxLifetime', options: { ...base, maxLifetime: Infinity }, path: 'jwt().maxLifetime' },
    ])('refuses $name', ({ options, path }) => {
      const error = policyErrorOf(() => jwt(options as unknown as JwtOptions));
      if (typeof path === 'string') expect(error.path).toBe(path);
      else expect(error.path).toMatch(path);
      expect(error.code).toBe('ERR_POLICY_INVALID');
    });

    it('names a misspelt option as an unknown key, not as a missing key source', () => {
      const { jwks, ...rest } = base;
      const error = policyErrorOf(() => jwt({ ...rest, jwk: jwks } as unknown as JwtOptions));
      expect(error.path).toBe('jwt().jwk');
      expect(error.message).toBe('jwt().jwk: unknown key (a typo, or an option this version does not have)');
    });

    it('accepts a 32-byte secret with HS256 and a loopback http JWKS URL', () => {
      expect(() => jwt({ secret, algorithms: ['HS256'], issuer: ISSUER, audience: AUDIENCE })).not.toThrow();
      expect(() => jwt({ ...base, jwks: undefined, jwksUrl: 'http://127.0.0.1:8080/jwks.json' })).not.toThrow();
    });
  });

  describe('jwt() verified-token cache', () => {
    async function setup(options: Partial<JwtOptions> = {}, key: TestKey = es256) {
      const verify = spyOnVerify(native);
      const clock = clockAt();
      const user = key === es256 ? esUser(options) : rsUser(options);
      return { verify, clock, request: guard(user, clock) };
    }

    it('verifies a repeated token once', async () => {
      const { verify, request } = await setup();
      const token = await signToken(es256);
      for (let i = 0; i < 3; i++) expectAllowed(await request(bearer(token)));
      expect(verify).toHaveBeenCalledTimes(1);
    });

    it('still expires a cached token exactly at exp', async () => {
      const { verify, clock, request } = await setup({ clockTolerance: 0 });
      const token = await signToken(es256, { exp: NOW_SECONDS + 600 });
      expectAllowed(await request(bearer(token)));
      clock.ms = (NOW_SECONDS + 600) * 1000 - 1;
      expectAllowed(await request(bearer(token)));
      expect(verify).toHaveBeenCalledTimes(1);
      clock.ms = (NOW_SECONDS + 600) * 1000;
      expectDenied(await request(bearer(token)), 401, 'authn.token_expired', INVALID_TOKEN);
    });

    it('expires a cached token at exp plus the tolerance, as an uncached verification would', async () => {
      const { clock, request } = await setup();
      const token = await signToken(es256, { exp: NOW_SECONDS + 600 });
      expectAllowed(await request(bearer(token)));
      clock.ms = (NOW_SECONDS + 604) * 1000;
      expectAllowed(await request(bearer(token)));
      clock.ms = (NOW_SECONDS + 605) * 1000;
      expectDenied(await request(bearer(token)), 401, 'authn.token_expired', INVALID_TOKEN);
      // And an uncached engine agrees on both instants.
      expectDenied(await guard(esUser(), clockAt((NOW_SECONDS + 605) * 1000))(bearer(token)), 401, 'authn.token_expired', INVALID_TOKEN);
      expectAllowed(await guard(esUser(), clockAt((NOW_SECONDS + 604) * 1000))(bearer(token)));
    });

    it('applies maxTokenAge on every cached hit', async () => {
      const { clock, request } = await setup({ maxTokenAge: 60, clockTolerance: 0 });
      const token = await signToken(es256);
      expectAllowed(await request(bearer(token)));
      clock.advance(61);
      expectDenied(await request(bearer(token)), 401, 'authn.token_too_old', INVALID_TOKEN);
    });

    it('does not remember a refused token as accepted', async () => {
      const { verify, clock, request } = await setup();
      const token = await signToken(es256, { nbf: NOW_SECONDS + 60 });
      expectDenied(await request(bearer(token)), 401, 'authn.token_not_yet_valid', INVALID_TOKEN);
      clock.advance(60);
      expectAllowed(await request(bearer(token)));
      expect(verify).toHaveBeenCalledTimes(2);
    });

    it('keeps a tampered twin of a cached token out (the cache is keyed by the whole token)', async () => {
      const { request } = await setup();
      const token = await signToken(es256);
      expectAllowed(await request(bearer(token)));
      expectDenied(await request(bearer(withPayload(token, { ...standardClaims(), sub: 'admin' }))), 401, 'authn.bad_signature', INVALID_TOKEN);
      expectDenied(await request(bearer(`${token}=`)), 401, 'authn.malformed_token', INVALID_TOKEN);
    });

    it('is bounded: with cacheSize 1, two alternating tokens are verified each time', async () => {
      const { verify, request } = await setup({ cacheSize: 1 });
      const a = await signToken(es256, { sub: 'a' });
      const b = await signToken(es256, { sub: 'b' });
      expectAllowed(await request(bearer(a)), 'a');
      expectAllowed(await request(bearer(b)), 'b');
      expectAllowed(await request(bearer(a)), 'a');
      expect(verify).toHaveBeenCalledTimes(3);
    });

    it('is off with cacheSize 0', async () => {
      const { verify, request } = await setup({ cacheSize: 0 });
      const token = await signToken(es256);
      expectAllowed(await request(bearer(token)));
      expectAllowed(await request(bearer(token)));
      expect(verify).toHaveBeenCalledTimes(2);
    });
  });
});
