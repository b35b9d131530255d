/**
 * `jwt()` and `oauth2Introspection()` against a real authorization server: oidc-provider on
 * 127.0.0.1 issues access tokens through the client-credentials grant, as RFC 9068 JWTs for two
 * APIs and as opaque tokens for a third, publishes its JWKS, introspects and revokes.
 *
 * The provider stamps its tokens with the wall clock, so the suite fakes `Date` only (sockets and
 * timeouts stay real): the provider, jose and the engine all read the same pinned instant.
 */
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { afterAll, beforeAll, describe, expect, it, test, vi } from 'vitest';
import { createEngine, definePolicy, jwt, oauth2Introspection, type Decision, type IntrospectionOptions, type JwtOptions } from '../../src/index.ts';
import { NOW_MS, NOW_SECONDS } from '../fixtures/keys.ts';
import {
  GATEWAY,
  LEGACY_API,
  ORDERS_API,
  REPORTS_API,
  requestToken,
  revokeToken,
  SERVICE,
  startAuthorizationServer,
  TOKEN_TTL,
  type AuthorizationServer,
  type Discovery,
} from './server.ts';

const CHALLENGE = 'Bearer realm="api"';
const INVALID_TOKEN = `${CHALLENGE}, error="invalid_token"`;

let server: AuthorizationServer;
let discovery: Discovery;

beforeAll(async () => {
  vi.useFakeTimers({ toFake: ['Date'], now: NOW_MS });
  server = await startAuthorizationServer();
  discovery = server.discovery;
});

afterAll(async () => {
  await server?.stop();
  vi.useRealTimers();
});

const advance = (seconds: number) => vi.setSystemTime(Date.now() + seconds * 1000);

/**
 * An engine on the pinned clock and the real global fetch: `GET /orders` needs any authenticated
 * principal, `POST /orders` needs the `orders:write` scope (or `legacy:write` for opaque tokens).
 */
function guard(method: ReturnType<typeof jwt>) {
  const engine = createEngine(
    definePolicy({
      transport: { requireHttps: false },
      authn: { service: method },
      routes: {
        'GET /orders': { authn: ['service'], allow: 'authenticated' },
        'POST /orders': { authn: ['service'], allow: [{ scopes: ['orders:write'] }, { scopes: ['legacy:write'] }] },
      },
    }),
    { now: () => Date.now(), log: () => {} },
  );
  return (token: string, httpMethod = 'GET') =>
    engine.evaluate(new Request('https://api.test/orders', { method: httpMethod, headers: { authorization: `Bearer ${token}` } }));
}

/** `jwt()` as a resource server configures it from the provider's discovery document. */
const jwtPolicy = (options: Partial<JwtOptions> = {}) =>
  guard(
    jwt({
      jwksUrl: discovery.jwks_uri,
      algorithms: ['ES256', 'RS256'],
      issuer: discovery.issuer,
      audience: ORDERS_API,
      typ: 'at+jwt',
      scopesClaim: 'scope',
      ...options,
    }),
  );

/** `oauth2Introspection()` authenticating as the gateway client. */
const introspectionPolicy = (options: Partial<IntrospectionOptions> = {}) =>
  guard(
    oauth2Introspection({
      endpoint: discovery.introspection_endpoint,
      clientId: GATEWAY.id,
      clientSecret: GATEWAY.secret,
      issuer: discovery.issuer,
      audience: LEGACY_API,
      ...options,
    }),
  );

function expectAllowed(decision: Decision, scopes: readonly string[]) {
  expect(decision.kind === 'deny' ? decision.reason : 'allow').toBe('allow');
  if (decision.kind !== 'allow') return;
  expect({ id: decision.principal.id, method: decision.principal.method, scopes: [...decision.principal.scopes].sort() }).toEqual({
    id: SERVICE.id,
    method: 'service',
    scopes: [...scopes].sort(),
  });
}

function expectDenied(decision: Decision, status: number, reason: string, challenge?: string) {
  expect(decision.kind).toBe('deny');
  if (decision.kind !== 'deny') return;
  expect({ status: decision.status, reason: decision.reason }).toEqual({ status, reason });
  if (challenge !== undefined) expect(decision.headers.get('www-authenticate')).toBe(challenge);
}

/** The same token with its payload swapped for `claims`, header and signature kept. */
function withPayload(token: string, claims: Record<string, unknown>) {
  const [header, , signature] = token.split('.');
  return `${header}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${signature}`;
}

/** The same token with the first byte of its signature changed. */
function withFlippedSignature(token: string) {
  const [header, payload, signature] = token.split('.') as [string, string, string];
  const bytes = Buffer.from(signature, 'base64url');
  bytes[0] = bytes[0]! ^ 0xff;
  return `${header}.${payload}.${bytes.toString('base64url')}`;
}

describe('the provider', () => {
  it('serves discovery on its 127.0.0.1 issuer with the endpoints the policies use', () => {
    expect(discovery.issuer).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    for (const url of [discovery.jwks_uri, discovery.token_endpoint, discovery.introspection_endpoint, discovery.revocation_endpoint]) {
      expect(url.startsWith(`${discovery.issuer}/`)).toBe(true);
    }
  });
});

describe('JWT access tokens (RFC 9068) from the client-credentials grant', () => {
  it('issues an at+jwt token signed with a key of the published JWKS, whose sub is the client', async () => {
    const issued = await requestToken(discovery, ORDERS_API, 'orders:read orders:write');
    expect({ token_type: issued.token_type, expires_in: issued.expires_in, scope: issued.scope }).toEqual({
      token_type: 'Bearer',
      expires_in: TOKEN_TTL,
      scope: 'orders:read orders:write',
    });
    const header = decodeProtectedHeader(issued.access_token);
    const jwks = (await (await fetch(discovery.jwks_uri)).json()) as { keys: { kid: string; alg: string }[] };
    expect(header).toMatchObject({ typ: 'at+jwt', alg: 'ES256' });
    expect(jwks.keys.map((key) => key.kid)).toContain(header.kid);
    expect(decodeJwt(issued.access_token)).toMatchObject({
      iss: discovery.issuer,
      aud: ORDERS_API,
      sub: SERVICE.id,
      client_id: SERVICE.id,
      scope: 'orders:read orders:write',
      iat: NOW_SECONDS,
      exp: NOW_SECONDS + TOKEN_TTL,
    });
  });

  test.each([
    { api: ORDERS_API, alg: 'ES256', scope: 'orders:read orders:write' },
    { api: REPORTS_API, alg: 'RS256', scope: 'reports:read' },
  ] as const)('accepts the $alg token for $api with the granted scopes as the principal', async ({ api, alg, scope }) => {
    const { access_token: token } = await requestToken(discovery, api, scope);
    expect(decodeProtectedHeader(token).alg).toBe(alg);
    const decision = await jwtPolicy({ audience: api, algorithms: [alg] })(token);
    expectAllowed(decision, scope.split(' '));
    if (decision.kind === 'allow') expect(decision.principal.claims).toMatchObject({ iss: discovery.issuer, aud: api, client_id: SERVICE.id });
  });

  it('grants only the scopes the provider granted: a read-only token cannot write', async () => {
    const { access_token: token } = await requestToken(discovery, ORDERS_API, 'orders:read');
    const request = jwtPolicy();
    expectAllowed(await request(token), ['orders:read']);
    const decision = await request(token, 'POST');
    expect(decision.kind === 'deny' ? decision.status : 200).toBe(403);
  });

  it('refuses the token where the policy expects another audience', async () => {
    const { access_token: token } = await requestToken(discovery, ORDERS_API, 'orders:read');
    expectDenied(await jwtPolicy({ audience: 'https://billing.api.test' })(token), 401, 'authn.wrong_audience', INVALID_TOKEN);
  });

  it('refuses a token the same provider issued for another API', async () => {
    const { access_token: token } = await requestToken(discovery, REPORTS_API, 'reports:read');
    expectDenied(await jwtPolicy()(token), 401, 'authn.wrong_audience', INVALID_TOKEN);
  });

  it('refuses a copy whose payload was changed (more scopes, another subject)', async () => {
    const { access_token: token } = await requestToken(discovery, ORDERS_API, 'orders:read');
    const request = jwtPolicy();
    expectAllowed(await request(token), ['orders:read']);
    const forged = withPayload(token, { ...decodeJwt(token), sub: 'admin-service', scope: 'orders:read orders:write' });
    expectDenied(await request(forged), 401, 'authn.bad_signature', INVALID_TOKEN);
  });

  it('refuses a copy whose signature was changed', async () => {
    const { access_token: token } = await requestToken(discovery, ORDERS_API, 'orders:read');
    expectDenied(await jwtPolicy()(withFlippedSignature(token)), 401, 'authn.bad_signature', INVALID_TOKEN);
  });

  it('refuses the token once it expired', async () => {
    const { access_token: token } = await requestToken(discovery, ORDERS_API, 'orders:read');
    const request = jwtPolicy({ clockTolerance: 0 });
    expectAllowed(await request(token), ['orders:read']);
    advance(TOKEN_TTL);
    try {
      expectDenied(await request(token), 401, 'authn.token_expired', INVALID_TOKEN);
    } finally {
      advance(-TOKEN_TTL);
    }
  });

  it('refuses an opaque token of the same provider as a malformed JWT', async () => {
    const { access_token: token } = await requestToken(discovery, LEGACY_API, 'legacy:read');
    expectDenied(await jwtPolicy()(token), 401, 'authn.malformed_token', INVALID_TOKEN);
  });
});

describe('opaque access tokens through the introspection endpoint (RFC 7662)', () => {
  it('issues an opaque token for the API whose resource server asks for one', async () => {
    const issued = await requestToken(discovery, LEGACY_API, 'legacy:read legacy:write');
    expect(issued.access_token.split('.')).toHaveLength(1);
    expect(issued.scope).toBe('legacy:read legacy:write');
  });

  it('accepts the token: the principal is the client (no sub for client credentials), with its scopes', async () => {
    const { access_token: token } = await requestToken(discovery, LEGACY_API, 'legacy:read legacy:write');
    const request = introspectionPolicy();
    const decision = await request(token);
    expectAllowed(decision, ['legacy:read', 'legacy:write']);
    if (decision.kind === 'allow') {
      expect(decision.principal.claims).toMatchObject({ active: true, client_id: SERVICE.id, iss: discovery.issuer, aud: LEGACY_API });
      expect(decision.principal.claims.sub).toBeUndefined();
    }
    expect((await request(token, 'POST')).kind).toBe('allow');
  });

  it('grants only the scopes the provider granted', async () => {
    const { access_token: token } = await requestToken(discovery, LEGACY_API, 'legacy:read');
    const request = introspectionPolicy();
    expectAllowed(await request(token), ['legacy:read']);
    const decision = await request(token, 'POST');
    expect(decision.kind === 'deny' ? decision.status : 200).toBe(403);
  });

  it('makes the client-credentials principal a client, which no owner rule matches', async () => {
    const { access_token: token } = await requestToken(discovery, LEGACY_API, 'legacy:read');
    const engine = createEngine(
      definePolicy({
        transport: { requireHttps: false },
        authn: {
          service: oauth2Introspection({ endpoint: discovery.introspection_endpoint, clientId: GATEWAY.id, clientSecret: GATEWAY.secret, issuer: discovery.issuer, audience: LEGACY_API }),
        },
        routes: { 'GET /owners/:id': { authn: ['service'], allow: [{ owner: { param: 'id' } }] } },
      }),
      { now: () => Date.now(), log: () => {} },
    );
    const decision = await engine.evaluate(new Request(`https://api.test/owners/${SERVICE.id}`, { headers: { authorization: `Bearer ${token}` } }));
    expect(decision.kind === 'deny' && [decision.status, decision.reasons]).toEqual([403, ['allow[0]: authz.not_owner']]);
    const allowed = await introspectionPolicy()(token);
    expect(allowed.kind === 'allow' && allowed.principal).toMatchObject({ id: SERVICE.id, kind: 'client' });
  });

  it('answers active for a refresh token, which the gateway refuses as the wrong token type', async () => {
    const refresh = await server.issueRefreshToken('u_alice');
    const answer = await fetch(discovery.introspection_endpoint, {
      method: 'POST',
      headers: { authorization: `Basic ${btoa(`${GATEWAY.id}:${GATEWAY.secret}`)}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: refresh, token_type_hint: 'access_token' }),
    });
    expect(await answer.json()).toMatchObject({ active: true, sub: 'u_alice', client_id: SERVICE.id });
    expectDenied(await introspectionPolicy()(refresh), 401, 'authn.wrong_token_type', INVALID_TOKEN);
    expectDenied(await introspectionPolicy({ audience: false })(refresh), 401, 'authn.wrong_token_type', INVALID_TOKEN);
  });

  it('asks the provider once for 50 concurrent requests with one new token', async () => {
    const { access_token: token } = await requestToken(discovery, LEGACY_API, 'legacy:read');
    let calls = 0;
    const engine = createEngine(
      definePolicy({
        transport: { requireHttps: false },
        authn: {
          service: oauth2Introspection({ endpoint: discovery.introspection_endpoint, clientId: GATEWAY.id, clientSecret: GATEWAY.secret, issuer: discovery.issuer, audience: LEGACY_API }),
        },
        routes: { 'GET /orders': { authn: ['service'], allow: 'authenticated' } },
      }),
      { now: () => Date.now(), log: () => {}, fetch: (input, init) => (calls++, fetch(input, init)) },
    );
    const decisions = await Promise.all(
      Array.from({ length: 50 }, () => engine.evaluate(new Request('https://api.test/orders', { headers: { authorization: `Bearer ${token}` } }))),
    );
    expect(decisions.map((decision) => decision.kind)).toEqual(Array(50).fill('allow'));
    expect(calls).toBe(1);
  });

  it('refuses a token the provider never issued as inactive', async () => {
    expectDenied(await introspectionPolicy()('b4Jx0u9Zq1nR7yW2cT5vE8kL3mP6sA0dF4gH7jK2lQ9'), 401, 'authn.token_inactive', INVALID_TOKEN);
  });

  it('refuses a token issued for another API when the policy names its audience', async () => {
    const { access_token: token } = await requestToken(discovery, LEGACY_API, 'legacy:read');
    expectDenied(await introspectionPolicy({ audience: ORDERS_API })(token), 401, 'authn.token_inactive', INVALID_TOKEN);
  });

  it('refuses a revoked token at once without a cache (cacheTtl: 0)', async () => {
    const { access_token: token } = await requestToken(discovery, LEGACY_API, 'legacy:read');
    const request = introspectionPolicy({ cacheTtl: 0 });
    expectAllowed(await request(token), ['legacy:read']);
    await revokeToken(discovery, token);
    expectDenied(await request(token), 401, 'authn.token_inactive', INVALID_TOKEN);
  });

  it('refuses a revoked token once the cached answer is older than cacheTtl', async () => {
    const { access_token: token } = await requestToken(discovery, LEGACY_API, 'legacy:read');
    const request = introspectionPolicy({ cacheTtl: 60 });
    expectAllowed(await request(token), ['legacy:read']);
    await revokeToken(discovery, token);
    advance(59);
    expectAllowed(await request(token), ['legacy:read']);
    advance(1);
    expectDenied(await request(token), 401, 'authn.token_inactive', INVALID_TOKEN);
  });

  it('fails closed (503) when the provider refuses the gateway credentials', async () => {
    const { access_token: token } = await requestToken(discovery, LEGACY_API, 'legacy:read');
    expectDenied(await introspectionPolicy({ clientSecret: 'not-the-secret' })(token), 503, 'authn.unavailable', CHALLENGE);
  });
});

describe('after the provider is stopped', () => {
  const UNKNOWN = 'b4Jx0u9Zq1nR7yW2cT5vE8kL3mP6sA0dF4gH7jK2lQ9';
  let opaque: string;
  let signed: string;
  let warmed: ReturnType<typeof introspectionPolicy>;

  beforeAll(async () => {
    ({ access_token: opaque } = await requestToken(discovery, LEGACY_API, 'legacy:read'));
    ({ access_token: signed } = await requestToken(discovery, ORDERS_API, 'orders:read'));
    warmed = introspectionPolicy({ cacheTtl: 60 });
    expectAllowed(await warmed(opaque), ['legacy:read']);
    await server.stop();
    await expect(fetch(discovery.jwks_uri)).rejects.toThrow();
  });

  it('refuses every opaque token with 503 authn.unavailable: nothing is accepted unchecked', async () => {
    const request = introspectionPolicy({ cacheTtl: 0 });
    expectDenied(await request(opaque), 503, 'authn.unavailable', CHALLENGE);
    expectDenied(await request(UNKNOWN), 503, 'authn.unavailable', CHALLENGE);
  });

  it('refuses a JWT with 503 authn.keys_unavailable when the JWKS was never fetched', async () => {
    expectDenied(await jwtPolicy()(signed), 503, 'authn.keys_unavailable', CHALLENGE);
  });

  it('keeps an introspection answer only until cacheTtl, then fails closed', async () => {
    expectAllowed(await warmed(opaque), ['legacy:read']);
    advance(60);
    expectDenied(await warmed(opaque), 503, 'authn.unavailable', CHALLENGE);
  });
});
