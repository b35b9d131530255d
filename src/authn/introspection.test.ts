/**
 * `oauth2Introspection()` against an RFC 7662 endpoint served by node:http on 127.0.0.1. The
 * endpoint here is a test double of the HTTP contract only (form in, JSON out); the real
 * authorization server (oidc-provider) is exercised in test/.
 */
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { makeTestPki } from '../../test/fixtures/certificates.ts';
import { NOW_MS, NOW_SECONDS } from '../../test/fixtures/keys.ts';
import type { Decision } from '../decision.ts';
import { createEngine } from '../engine.ts';
import { PolicyError } from '../errors.ts';
import { definePolicy } from '../policy/define.ts';
import { oauth2Introspection, type IntrospectionOptions } from './introspection.ts';

const CLIENT_ID = 'gateway';
const CLIENT_SECRET = 's3cr3t/with+symbols';
const CHALLENGE = 'Bearer realm="api"';
const INVALID_TOKEN = `${CHALLENGE}, error="invalid_token"`;

/** What the endpoint received, per request. */
interface Received {
  method: string;
  headers: IncomingHttpHeaders;
  form: URLSearchParams;
}

/** How the endpoint answers: an RFC 7662 JSON body for a token, or a failure mode. */
type Answer = Record<string, unknown> | 'error500' | 'hang' | 'not-json' | { raw: string };

let server: Server;
let endpoint: string;
let received: Received[] = [];
let answers = new Map<string, Answer>();
/** How long the endpoint takes to answer. */
let delayMs = 0;

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk) => (body += chunk));
    req.on('end', () => {
      const form = new URLSearchParams(body);
      received.push({ method: req.method ?? '', headers: req.headers, form });
      const answer = answers.get(form.get('token') ?? '') ?? { active: false };
      // Taken now: a test may change the answer while this one is on its way.
      setTimeout(() => respond(res, answer), delayMs);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}/token/introspection`;
});

function respond(res: ServerResponse, answer: Answer) {
  if (answer === 'hang') return;
  if (answer === 'error500') {
    res.writeHead(500, { 'content-type': 'text/plain' }).end('internal error');
    return;
  }
  if (answer === 'not-json') {
    res.writeHead(200, { 'content-type': 'text/html' }).end('<html>login</html>');
    return;
  }
  res.writeHead(200, { 'content-type': 'application/json' }).end(typeof answer.raw === 'string' ? answer.raw : JSON.stringify(answer));
}

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

beforeEach(() => {
  received = [];
  answers = new Map();
  delayMs = 0;
});

/** An engine with `GET /me` accepting `opaque`, on a pinned clock the test may move. */
function guard(options: Partial<IntrospectionOptions> = {}, clock = { ms: NOW_MS }) {
  const opaque = oauth2Introspection({ endpoint, clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, audience: 'api', ...options });
  const engine = createEngine(
    definePolicy({
      transport: { requireHttps: false },
      authn: { opaque },
      routes: { 'GET /me': { authn: ['opaque'], allow: 'authenticated' } },
    }),
    { now: () => clock.ms, log: () => {} },
  );
  return (token?: string, certificate?: Uint8Array) =>
    engine.evaluate(new Request('https://api.test/me', { headers: token === undefined ? {} : { authorization: `Bearer ${token}` } }), {
      peer: { address: '192.0.2.1', scheme: 'https', certificate: certificate && { verified: true, der: certificate } },
    });
}

const active = (claims: Record<string, unknown> = {}) => ({
  active: true,
  token_type: 'Bearer',
  sub: 'user_1',
  client_id: 'spa',
  aud: 'api',
  scope: 'orders:read orders:write',
  exp: NOW_SECONDS + 600,
  iat: NOW_SECONDS,
  ...claims,
});

function expectDenied(decision: Decision, status: number, reason: string, challenge: string | null) {
  expect(decision.kind).toBe('deny');
  if (decision.kind !== 'deny') return;
  expect({ status: decision.status, reason: decision.reason }).toEqual({ status, reason });
  expect(decision.headers.get('www-authenticate')).toBe(challenge);
}

function expectAllowed(decision: Decision, id = 'user_1') {
  expect(decision.kind === 'deny' ? decision.reason : 'allow').toBe('allow');
  if (decision.kind === 'allow') expect(decision.principal).toMatchObject({ id, method: 'opaque' });
}

describe('oauth2Introspection()', () => {
  it('turns an active token into a principal with its scopes and roles', async () => {
    answers.set('tok_active', active({ roles: ['support'] }));
    const decision = await guard()('tok_active');
    expectAllowed(decision);
    if (decision.kind === 'allow') {
      expect(decision.principal).toMatchObject({ roles: ['support'], scopes: ['orders:read', 'orders:write'], claims: { client_id: 'spa' } });
    }
  });

  it('makes a client-credentials token (no sub) a principal of kind client, named by client_id', async () => {
    answers.set('tok_client', active({ sub: undefined, client_id: 'svc_reports' }));
    const decision = await guard()('tok_client');
    expectAllowed(decision, 'svc_reports');
    if (decision.kind === 'allow') expect(decision.principal.kind).toBe('client');
  });

  it('makes a token whose sub is its own client_id a client too, and a token for a user a user', async () => {
    answers.set('tok_self', active({ sub: 'svc_reports', client_id: 'svc_reports' }));
    answers.set('tok_user', active({ sub: 'user_1', client_id: 'spa' }));
    const request = guard();
    const [self, user] = [await request('tok_self'), await request('tok_user')];
    expect([self.kind === 'allow' && self.principal.kind, user.kind === 'allow' && user.principal.kind]).toEqual(['client', 'user']);
  });

  it('reads roles and scopes from configured claims', async () => {
    answers.set('tok', active({ realm_access: { roles: ['admin'] }, scp: ['a', 'b'] }));
    const decision = await guard({ rolesClaim: 'realm_access.roles', scopesClaim: 'scp' })('tok');
    expectAllowed(decision);
    if (decision.kind === 'allow') expect(decision.principal).toMatchObject({ roles: ['admin'], scopes: ['a', 'b'] });
  });

  it.each<{ name: string; answer: Record<string, unknown>; options?: Partial<IntrospectionOptions> }>([
    { name: 'an inactive token', answer: { active: false } },
    { name: 'an answer with active "true" as a string', answer: { ...active(), active: 'true' } },
    { name: 'an active answer whose exp has passed', answer: active({ exp: NOW_SECONDS }) },
    { name: 'an active answer not yet valid (nbf)', answer: active({ nbf: NOW_SECONDS + 60 }) },
    { name: 'an active answer from another issuer', answer: active({ iss: 'https://evil.example' }), options: { issuer: 'https://id.example' } },
    { name: 'an active answer for another audience', answer: active({ aud: ['other'] }), options: { audience: 'api' } },
    { name: 'an active answer without any audience', answer: active({ aud: undefined }) },
    { name: 'an active answer naming no subject or client', answer: active({ sub: undefined, client_id: undefined }) },
  ])('refuses $name as inactive', async ({ answer, options }) => {
    answers.set('tok', answer);
    expectDenied(await guard(options)('tok'), 401, 'authn.token_inactive', INVALID_TOKEN);
  });

  it.each([
    { name: 'a refresh token (token_type refresh_token)', claims: { token_type: 'refresh_token' }, reason: 'authn.wrong_token_type' },
    { name: 'a refresh token (token_type as a URN)', claims: { token_type: 'urn:ietf:params:oauth:token-type:refresh_token' }, reason: 'authn.wrong_token_type' },
    { name: 'an ID token (token_use id)', claims: { token_type: undefined, token_use: 'id' }, reason: 'authn.wrong_token_type' },
    { name: 'a refresh token (token_use refresh)', claims: { token_type: undefined, token_use: 'refresh' }, reason: 'authn.wrong_token_type' },
    { name: 'a Bearer token_type with a refresh token_use', claims: { token_use: 'refresh_token' }, reason: 'authn.wrong_token_type' },
    { name: 'an answer that names no token type', claims: { token_type: undefined }, reason: 'authn.wrong_token_type' },
    { name: 'a token_type that is not a string', claims: { token_type: ['Bearer'] }, reason: 'authn.wrong_token_type' },
    { name: 'a DPoP-bound token presented as a bearer token', claims: { token_type: 'DPoP', cnf: { jkt: 'abc' } }, reason: 'authn.sender_constrained' },
    { name: 'a token bound to a certificate and a key', claims: { cnf: { 'x5t#S256': 'A'.repeat(43), jkt: 'abc' } }, reason: 'authn.sender_constrained' },
    { name: 'a certificate-bound token without a certificate', claims: { cnf: { 'x5t#S256': 'A'.repeat(43) } }, reason: 'authn.bound_certificate_missing' },
  ])('refuses $name with $reason', async ({ claims, reason }) => {
    answers.set('tok', active(claims));
    expectDenied(await guard()('tok'), 401, reason, INVALID_TOKEN);
  });

  it.each([
    { name: 'token_type Bearer', claims: { token_type: 'Bearer' } },
    { name: 'token_type access_token', claims: { token_type: 'access_token' } },
    { name: 'the RFC 8693 access-token URN', claims: { token_type: 'urn:ietf:params:oauth:token-type:access_token' } },
    { name: 'token_use access (AWS)', claims: { token_type: undefined, token_use: 'access' } },
    { name: 'token_type Bearer with token_use access_token (Ory)', claims: { token_use: 'access_token' } },
  ])('accepts an access token typed by $name', async ({ claims }) => {
    answers.set('tok', active(claims));
    expectAllowed(await guard()('tok'));
  });

  it('accepts an untyped answer only with acceptUntypedTokens', async () => {
    answers.set('tok', active({ token_type: undefined }));
    expectAllowed(await guard({ acceptUntypedTokens: true })('tok'));
  });

  it.each([
    { name: 'a string exp', claims: { exp: String(NOW_SECONDS + 600) } },
    { name: 'a null exp', claims: { exp: null } },
    { name: 'an exp of 1e400 (Infinity)', raw: `{"active":true,"token_type":"Bearer","sub":"user_1","aud":"api","exp":1e400}` },
    { name: 'a string nbf', claims: { nbf: String(NOW_SECONDS - 60) } },
    { name: 'a string iat', claims: { iat: 'yesterday' } },
  ])('refuses an answer with $name as inactive (fails closed)', async ({ claims, raw }) => {
    answers.set('tok', raw === undefined ? active(claims) : { raw });
    expectDenied(await guard()('tok'), 401, 'authn.token_inactive', INVALID_TOKEN);
  });

  it('accepts audience: false: tokens for any audience', async () => {
    answers.set('tok', active({ aud: 'another-api' }));
    expectAllowed(await guard({ audience: false })('tok'));
  });

  it('accepts an answer whose aud contains the required audience', async () => {
    answers.set('tok', active({ aud: ['api', 'other'], iss: 'https://id.example' }));
    expectAllowed(await guard({ audience: 'api', issuer: 'https://id.example' })('tok'));
  });

  it('answers a request without a token with a challenge and no error code, without calling the endpoint', async () => {
    expectDenied(await guard()(), 401, 'authn.required', CHALLENGE);
    expect(received).toHaveLength(0);
  });

  it.each<{ name: string; answer: Answer; options?: Partial<IntrospectionOptions> }>([
    { name: 'a 500 from the endpoint', answer: 'error500' },
    { name: 'an answer that is not JSON', answer: 'not-json' },
    { name: 'an endpoint that does not answer in time', answer: 'hang', options: { timeoutMs: 200 } },
  ])('fails closed with 503 on $name', async ({ answer, options }) => {
    answers.set('tok', answer);
    expectDenied(await guard(options)('tok'), 503, 'authn.unavailable', CHALLENGE);
  });

  it('fails closed with 503 when the endpoint is unreachable', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    expectDenied(await guard({ endpoint: `http://127.0.0.1:${port}/introspect` })('tok'), 503, 'authn.unavailable', CHALLENGE);
  });

  it('does not cache a failure: the next request asks again', async () => {
    answers.set('tok', 'error500');
    const request = guard();
    expectDenied(await request('tok'), 503, 'authn.unavailable', CHALLENGE);
    answers.set('tok', active());
    expectAllowed(await request('tok'));
    expect(received).toHaveLength(2);
  });
});

describe('oauth2Introspection() principals and owner rules', () => {
  /** `GET /users/:id`: the user it names, or an admin. */
  function ownerGuard(options: Partial<IntrospectionOptions> = {}) {
    const opaque = oauth2Introspection({ endpoint, clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, audience: 'api', ...options });
    const engine = createEngine(
      definePolicy({
        transport: { requireHttps: false },
        authn: { opaque },
        routes: { 'GET /users/:id': { authn: ['opaque'], allow: [{ roles: ['admin'] }, { owner: { param: 'id' } }] } },
      }),
      { now: () => NOW_MS, log: () => {} },
    );
    return (path: string, token: string) => engine.evaluate(new Request(`https://api.test${path}`, { headers: { authorization: `Bearer ${token}` } }));
  }

  it('lets a user token own its user, but never a client-credentials token whose client_id is the path id', async () => {
    answers.set('tok_user', active({ sub: 'u_alice' }));
    answers.set('tok_client', active({ sub: undefined, client_id: 'u_alice' }));
    const request = ownerGuard();
    expect((await request('/users/u_alice', 'tok_user')).kind).toBe('allow');
    const decision = await request('/users/u_alice', 'tok_client');
    expect(decision.kind === 'deny' && [decision.status, decision.reasons]).toEqual([403, ['allow[0]: authz.role_missing', 'allow[1]: authz.not_owner']]);
  });

  it("maps client tokens to users only when clientTokens: 'user' says so", async () => {
    answers.set('tok_client', active({ sub: undefined, client_id: 'u_alice' }));
    const decision = await ownerGuard({ clientTokens: 'user' })('/users/u_alice', 'tok_client');
    expect(decision.kind === 'allow' && decision.principal).toMatchObject({ id: 'u_alice', kind: 'user' });
  });
});

describe('oauth2Introspection() request to the endpoint', () => {
  it('POSTs the token as a form with client_secret_basic authentication', async () => {
    answers.set('tok_active', active());
    await guard()('tok_active');
    expect(received).toHaveLength(1);
    const [request] = received;
    expect(request!.method).toBe('POST');
    expect(request!.headers['content-type']).toBe('application/x-www-form-urlencoded');
    const basic = Buffer.from(`${encodeURIComponent(CLIENT_ID)}:${encodeURIComponent(CLIENT_SECRET)}`).toString('base64');
    expect(request!.headers.authorization).toBe(`Basic ${basic}`);
    expect(Object.fromEntries(request!.form)).toEqual({ token: 'tok_active', token_type_hint: 'access_token' });
  });

  it('sends client_id and client_secret in the form with client_secret_post, and no Authorization', async () => {
    answers.set('tok_active', active());
    await guard({ clientAuth: 'client_secret_post' })('tok_active');
    const [request] = received;
    expect(request!.headers.authorization).toBeUndefined();
    expect(Object.fromEntries(request!.form)).toEqual({ token: 'tok_active', token_type_hint: 'access_token', client_id: CLIENT_ID, client_secret: CLIENT_SECRET });
  });

});

describe('oauth2Introspection() answer cache', () => {
  function setup(options: Partial<IntrospectionOptions> = {}) {
    const clock = { ms: NOW_MS };
    return { clock, request: guard(options, clock) };
  }

  it('reuses an answer for cacheTtl when the token lives longer', async () => {
    answers.set('tok', active({ exp: NOW_SECONDS + 600 }));
    const { clock, request } = setup({ cacheTtl: 60 });
    expectAllowed(await request('tok'));
    clock.ms = NOW_MS + 59_999;
    expectAllowed(await request('tok'));
    expect(received).toHaveLength(1);
    clock.ms = NOW_MS + 60_000;
    expectAllowed(await request('tok'));
    expect(received).toHaveLength(2);
  });

  it('reuses an answer no longer than the token’s exp', async () => {
    answers.set('tok', active({ exp: NOW_SECONDS + 30 }));
    const { clock, request } = setup({ cacheTtl: 60 });
    expectAllowed(await request('tok'));
    clock.ms = NOW_MS + 29_999;
    expectAllowed(await request('tok'));
    expect(received).toHaveLength(1);
    clock.ms = NOW_MS + 30_000;
    expectDenied(await request('tok'), 401, 'authn.token_inactive', INVALID_TOKEN);
    expect(received).toHaveLength(2);
  });

  it('uses a 60-second cache by default', async () => {
    answers.set('tok', active({ exp: NOW_SECONDS + 600 }));
    const { clock, request } = setup();
    await request('tok');
    clock.ms = NOW_MS + 59_000;
    await request('tok');
    expect(received).toHaveLength(1);
    clock.ms = NOW_MS + 60_000;
    await request('tok');
    expect(received).toHaveLength(2);
  });

  it('sees a revocation once the cached answer has expired', async () => {
    answers.set('tok', active());
    const { clock, request } = setup({ cacheTtl: 10 });
    expectAllowed(await request('tok'));
    answers.set('tok', { active: false });
    clock.ms = NOW_MS + 10_000;
    expectDenied(await request('tok'), 401, 'authn.token_inactive', INVALID_TOKEN);
  });

  it('keeps answers per token', async () => {
    answers.set('tok_a', active({ sub: 'a' }));
    answers.set('tok_b', active({ sub: 'b' }));
    const { request } = setup();
    expectAllowed(await request('tok_a'), 'a');
    expectAllowed(await request('tok_b'), 'b');
    expectAllowed(await request('tok_a'), 'a');
    expect(received).toHaveLength(2);
  });
});

describe('oauth2Introspection() concurrent requests', () => {
  it('asks the endpoint once for 50 concurrent requests with one new token', async () => {
    answers.set('tok', active());
    delayMs = 50;
    const request = guard();
    const decisions = await Promise.all(Array.from({ length: 50 }, () => request('tok')));
    expect(decisions.map((decision) => decision.kind)).toEqual(Array(50).fill('allow'));
    expect(received).toHaveLength(1);
  });

  it('asks once per token, not once for all tokens', async () => {
    answers.set('tok_a', active({ sub: 'a' }));
    answers.set('tok_b', active({ sub: 'b' }));
    delayMs = 50;
    const request = guard();
    const decisions = await Promise.all(Array.from({ length: 20 }, (_, i) => request(i % 2 ? 'tok_a' : 'tok_b')));
    expect(decisions.map((decision) => decision.kind === 'allow' && decision.principal.id)).toEqual(Array.from({ length: 20 }, (_, i) => (i % 2 ? 'a' : 'b')));
    expect(received.map((r) => r.form.get('token')).sort()).toEqual(['tok_a', 'tok_b']);
  });

  it('shares a failure with the requests of that call only: the next request asks again', async () => {
    answers.set('tok', 'error500');
    delayMs = 50;
    const request = guard();
    const decisions = await Promise.all(Array.from({ length: 10 }, () => request('tok')));
    expect(decisions.map((decision) => decision.kind === 'deny' && decision.reason)).toEqual(Array(10).fill('authn.unavailable'));
    expect(received).toHaveLength(1);
    answers.set('tok', active());
    expectAllowed(await request('tok'));
    expect(received).toHaveLength(2);
  });
});

describe('oauth2Introspection() with certificate-bound tokens (RFC 8705)', () => {
  const pki = makeTestPki();
  afterAll(() => pki.remove());

  it('accepts a bound token only with its certificate, on every request, the answer cached or not', async () => {
    answers.set('tok_bound', active({ cnf: { 'x5t#S256': pki.billing.x5tS256 } }));
    const request = guard();
    expectAllowed(await request('tok_bound', pki.billing.der));
    expectDenied(await request('tok_bound', pki.reports.der), 401, 'authn.bound_certificate_mismatch', INVALID_TOKEN);
    expectDenied(await request('tok_bound'), 401, 'authn.bound_certificate_missing', INVALID_TOKEN);
    expectAllowed(await request('tok_bound', pki.billing.der));
    expect(received).toHaveLength(1);
  });

  it('refuses a confirmation claim it cannot read', async () => {
    answers.set('tok_odd', active({ cnf: { 'x5t#S256': 'not-a-thumbprint' } }));
    expectDenied(await guard()('tok_odd', pki.billing.der), 401, 'authn.claim_invalid', INVALID_TOKEN);
  });
});

describe('oauth2Introspection() definition-time errors', () => {
  it.each<{ name: string; options: Record<string, unknown>; path: string }>([
    { name: 'an http endpoint on a remote host', options: { endpoint: 'http://id.example/token/introspection' }, path: 'oauth2Introspection().endpoint' },
    { name: 'an http endpoint on a host that merely starts with 127.0.0.1', options: { endpoint: 'http://127.0.0.1.evil.example/introspect' }, path: 'oauth2Introspection().endpoint' },
    { name: 'an endpoint that is not a URL', options: { endpoint: 'introspect' }, path: 'oauth2Introspection().endpoint' },
    { name: 'an ftp endpoint', options: { endpoint: 'ftp://id.example/introspect' }, path: 'oauth2Introspection().endpoint' },
    { name: 'no clientId', options: { clientId: '' }, path: 'oauth2Introspection().clientId' },
    { name: 'no clientSecret', options: { clientSecret: undefined }, path: 'oauth2Introspection().clientSecret' },
    { name: 'no audience', options: { audience: undefined }, path: 'oauth2Introspection().audience' },
    { name: 'an empty audience', options: { audience: '' }, path: 'oauth2Introspection().audience' },
    { name: 'audience: true', options: { audience: true }, path: 'oauth2Introspection().audience' },
    { name: 'an unknown clientTokens', options: { clientTokens: 'admin' }, path: 'oauth2Introspection().clientTokens' },
  ])('refuses $name', ({ options, path }) => {
    let error: unknown;
    try {
      oauth2Introspection({ endpoint: 'https://id.example/token/introspection', clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, audience: 'api', ...options } as IntrospectionOptions);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(PolicyError);
    expect((error as PolicyError).path).toBe(path);
  });

  it.each(['https://id.example/token/introspection', 'http://127.0.0.1:9000/introspect', 'http://localhost:9000/introspect', 'http://[::1]:9000/introspect'])(
    'accepts the endpoint %s',
    (url) => {
      expect(() => oauth2Introspection({ endpoint: url, clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, audience: 'api' })).not.toThrow();
    },
  );
});
