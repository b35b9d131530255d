/**
 * The demo's tokens, API key, authentication, authorization and validation, over real HTTP.
 */
import { request as httpRequest } from 'node:http';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDemo } from '../../policies/demo-gateway.ts';
import { DEMO_AUDIENCE, DEMO_ISSUER } from '../../policies/demo-origin.ts';

const API_KEY = 'pk_demo_test_0123456789abcdefghijklmnop';
let demo: Awaited<ReturnType<typeof startDemo>>;
let signingKey: CryptoKey;
let alice: string;
let bob: string;

async function login(username: string, password: string) {
  return fetch(`${demo.url}/v1/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password }),
  });
}

const as = (token: string, init: RequestInit = {}) => ({ ...init, headers: { ...(init.headers as object), authorization: `Bearer ${token}` } });

beforeAll(async () => {
  const pair = await generateKeyPair('ES256', { extractable: true });
  signingKey = pair.privateKey;
  const jwk = { ...(await exportJWK(pair.privateKey)), kid: 'test-key' };
  demo = await startDemo({ env: { DEMO_SIGNING_KEY: JSON.stringify(jwk), DEMO_API_KEY: API_KEY }, port: 0, log: () => {} });
  alice = ((await (await login('alice', 'correct horse battery staple')).json()) as { token: string }).token;
  bob = ((await (await login('bob', 'hunter2 hunter2 hunter2')).json()) as { token: string }).token;
});
afterAll(() => demo.close());

describe('login and tokens', () => {
  it('issues an ES256 token with the demo issuer, audience, subject and roles for 15 minutes', async () => {
    const [header, payload] = alice.split('.').slice(0, 2).map((part) => JSON.parse(Buffer.from(part, 'base64url').toString()));
    expect(header).toMatchObject({ alg: 'ES256', kid: 'test-key' });
    expect(payload).toMatchObject({ iss: DEMO_ISSUER, aud: DEMO_AUDIENCE, sub: 'u_alice', roles: ['user'] });
    expect(payload.exp - payload.iat).toBe(15 * 60);
  });

  it('answers bad credentials with 401', async () => {
    expect((await login('alice', 'wrong')).status).toBe(401);
    expect((await login('mallory', 'whatever')).status).toBe(401);
  });
});

describe('authentication', () => {
  it('answers a request without credentials with 401, WWW-Authenticate and problem+json', async () => {
    const res = await fetch(`${demo.url}/v1/users/u_alice`);
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe('Bearer realm="api", DPoP realm="api", algs="ES256"');
    expect(res.headers.get('content-type')).toBe('application/problem+json');
  });

  it.each([
    ['a tampered token', () => alice.slice(0, -4) + (alice.endsWith('AAAA') ? 'BBBB' : 'AAAA')],
    ['garbage', () => 'not-a-token'],
    ['a token signed by another key', async () => {
      const other = await generateKeyPair('ES256');
      return new SignJWT({ roles: ['admin'] }).setProtectedHeader({ alg: 'ES256', kid: 'test-key' }).setIssuer(DEMO_ISSUER).setAudience(DEMO_AUDIENCE).setSubject('u_alice').setIssuedAt().setExpirationTime('5m').sign(other.privateKey);
    }],
    ['an expired token', () =>
      new SignJWT({ roles: ['user'] }).setProtectedHeader({ alg: 'ES256', kid: 'test-key' }).setIssuer(DEMO_ISSUER).setAudience(DEMO_AUDIENCE).setSubject('u_alice').setIssuedAt(Math.floor(Date.now() / 1000) - 3600).setExpirationTime(Math.floor(Date.now() / 1000) - 1800).sign(signingKey)],
  ])('answers %s with 401 invalid_token', async (_, make) => {
    const res = await fetch(`${demo.url}/v1/users/u_alice`, as(await make()));
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toContain('error="invalid_token"');
    const body = await res.text();
    expect(body).not.toContain('ES256');
  });
});

describe('authorization', () => {
  it.each([
    ['alice reads herself', () => alice, 'GET', '/v1/users/u_alice', 200],
    ['alice reads bob (BOLA)', () => alice, 'GET', '/v1/users/u_bob', 403],
    ['bob (admin) reads alice', () => bob, 'GET', '/v1/users/u_alice', 200],
    ['alice deletes bob', () => alice, 'DELETE', '/v1/users/u_bob', 403],
    ['alice reads reports', () => alice, 'GET', '/v1/reports', 403],
    ['bob reads reports', () => bob, 'GET', '/v1/reports', 200],
  ])('%s → %i', async (_, token, method, path, status) => {
    const res = await fetch(`${demo.url}${path}`, as(token(), { method }));
    expect(res.status).toBe(status);
    if (status === 403) expect(await res.json()).toMatchObject({ code: 'authz.denied', title: 'Forbidden' });
  });

  it('lets the demo API key read reports, and refuses a wrong key', async () => {
    expect((await fetch(`${demo.url}/v1/reports`, { headers: { 'x-api-key': API_KEY } })).status).toBe(200);
    const wrong = await fetch(`${demo.url}/v1/reports`, { headers: { 'x-api-key': 'pk_demo_wrong_0123456789abcdefghij' } });
    expect(wrong.status).toBe(401);
  });

  it('lets an admin delete a user (204)', async () => {
    const res = await fetch(`${demo.url}/v1/users/u_alice`, as(bob, { method: 'DELETE' }));
    expect(res.status).toBe(204);
  });
});

describe('input validation on PATCH /v1/users/:id', () => {
  const patch = (body: string, headers: Record<string, string> = { 'content-type': 'application/json' }) =>
    fetch(`${demo.url}/v1/users/u_bob`, as(bob, { method: 'PATCH', headers, body }));

  it('applies a valid update and returns the user', async () => {
    const res = await patch(JSON.stringify({ name: 'Robert' }));
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ id: 'u_bob', name: 'Robert' });
  });

  it('refuses an unknown key (mass assignment of role) with 422 and the issue path', async () => {
    const res = await patch(JSON.stringify({ name: 'Robert', role: 'admin' }));
    expect(res.status).toBe(422);
    const problem = (await res.json()) as { errors: { in: string; pointer: string }[] };
    expect(problem.errors).toContainEqual(expect.objectContaining({ in: 'body', pointer: '/role' }));
  });

  it.each([
    ['a name too short', JSON.stringify({ name: 'R' }), 422],
    ['a bad email', JSON.stringify({ email: 'not-an-email' }), 422],
    ['malformed JSON', '{"name": ', 400],
    ['a prototype-pollution payload', '{"__proto__": {"isAdmin": true}}', 400],
  ])('answers %s with %i', async (_, body, status) => {
    expect((await patch(body)).status).toBe(status);
  });

  it('answers text/plain carrying JSON with 415', async () => {
    expect((await patch(JSON.stringify({ name: 'Robert' }), { 'content-type': 'text/plain' })).status).toBe(415);
  });

  it('answers a body over 64 KiB with 413', async () => {
    expect((await patch(JSON.stringify({ name: 'x'.repeat(70 * 1024) }))).status).toBe(413);
  });

  it('answers a chunked body over 64 KiB without Content-Length with 413', async () => {
    const url = new URL(`${demo.url}/v1/users/u_bob`);
    const status = await new Promise<number>((resolve, reject) => {
      const req = httpRequest(
        { host: url.hostname, port: url.port, path: url.pathname, method: 'PATCH', headers: { authorization: `Bearer ${bob}`, 'content-type': 'application/json', 'transfer-encoding': 'chunked' } },
        (res) => {
          res.resume();
          resolve(res.statusCode!);
        },
      );
      req.on('error', reject);
      req.write('{"name":"');
      for (let i = 0; i < 80; i++) req.write('x'.repeat(1024));
      req.end('"}');
    });
    expect(status).toBe(413);
  });
});

describe('versioning', () => {
  it('serves /v0 as v1 plus Deprecation, Sunset and Link headers', async () => {
    const res = await fetch(`${demo.url}/v0/users/u_bob`, as(bob));
    expect(res.status).toBe(200);
    expect(res.headers.get('deprecation')).toMatch(/^@\d+$/);
    expect(res.headers.get('sunset')).toBe('Tue, 01 Jun 2027 00:00:00 GMT');
    expect(res.headers.get('link')).toContain('rel="deprecation"');
  });
});
