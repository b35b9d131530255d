/**
 * `forwardTo`'s header allow-list: the origin hears standard end-to-end headers, what the options
 * name, and the credential that authenticated the request when asked — never a client's claim to
 * an identity, and never a credential nobody verified.
 */
import { describe, expect, it } from 'vitest';
import { es256, ISSUER, AUDIENCE, jwksOf, NOW_MS, signToken } from '../test/fixtures/keys.ts';
import { apiKey, hashApiKey } from './authn/api-key.ts';
import { jwt } from './authn/jwt.ts';
import { createEngine } from './engine.ts';
import { definePolicy } from './policy/define.ts';
import { forwardTo, FORWARDED_BY_DEFAULT, type ForwardOptions } from './proxy.ts';

const API_KEY = 'pk_test_forward_0123456789abcdef';
const policy = definePolicy({
  authn: {
    user: jwt({ jwks: jwksOf(es256), algorithms: ['ES256'], issuer: ISSUER, audience: AUDIENCE }),
    service: apiKey({ header: 'x-api-key', keys: { [await hashApiKey(API_KEY)]: { principal: 'svc_a' } } }),
  },
  routes: {
    'GET /v1/public': { authn: 'anonymous' },
    'GET /v1/me': { authn: ['user'], allow: 'authenticated' },
    'GET /v1/reports': { authn: ['service', 'user'], allow: 'authenticated' },
  },
});
const engine = createEngine(policy, { now: () => NOW_MS, randomId: () => 'req-1', log: () => {} });

/** The headers the origin received for `path` with `headers`, through `forwardTo(options)`. */
async function atOrigin(path: string, headers: Record<string, string>, options: ForwardOptions = {}): Promise<Headers> {
  let received: Headers | undefined;
  const forward = forwardTo('http://origin.test', {
    ...options,
    fetch: async (_input, init) => {
      received = new Headers(init.headers);
      return new Response('ok');
    },
  });
  const response = await engine.handle(new Request(`https://api.test${path}`, { headers }), { peer: { address: '198.51.100.4' } }, forward);
  expect(response.status).toBe(200);
  return received!;
}

/** Identity and routing headers that some proxy in the world sets and some origin believes. */
const IDENTITY_HEADERS: Record<string, string> = {
  'cf-access-authenticated-user-email': 'admin@example.com',
  'cf-access-jwt-assertion': 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJhZG1pbiJ9.',
  'x-goog-authenticated-user-email': 'accounts.google.com:admin@example.com',
  'x-goog-iap-jwt-assertion': 'forged',
  'x-amzn-oidc-identity': 'admin',
  'x-amzn-oidc-data': 'forged',
  'x-ms-client-principal': 'eyJ1c2VySWQiOiJhZG1pbiJ9',
  'x-ms-client-principal-name': 'admin@example.com',
  'x-webauth-user': 'admin',
  'ssl-client-cert': '-----BEGIN CERTIFICATE-----',
  'x-ssl-client-s-dn': 'CN=admin',
  'x-client-cert': 'forged',
  'x-envoy-original-path': '/v1/admin',
  'x-original-method': 'DELETE',
  'x-host': 'internal.example.com',
  'x-user-id': 'u_admin',
  'x-remote-user': 'admin',
  'x-portcullis-identity': 'forged',
  forwarded: 'for=203.0.113.1;proto=https',
  'x-real-ip': '203.0.113.1',
  'x-http-method-override': 'DELETE',
  baggage: 'user.id=u_admin',
};

describe('forwardTo forwards an allow-list of headers', () => {
  it('and none of the identity or routing headers a client sends', async () => {
    const received = await atOrigin('/v1/public', IDENTITY_HEADERS);
    expect(Object.keys(IDENTITY_HEADERS).filter((name) => received.has(name))).toEqual([]);
  });

  it('but the standard end-to-end ones, as sent', async () => {
    const sent = {
      accept: 'application/json',
      'accept-language': 'de',
      'if-none-match': '"v1"',
      range: 'bytes=0-99',
      'cache-control': 'no-cache',
      'user-agent': 'curl/8',
      traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
    };
    const received = await atOrigin('/v1/public', sent);
    expect(Object.fromEntries(Object.keys(sent).map((name) => [name, received.get(name)]))).toEqual(sent);
    expect(FORWARDED_BY_DEFAULT).toEqual(expect.arrayContaining(Object.keys(sent)));
  });

  it('and only what it sets itself among the forwarding headers', async () => {
    const received = await atOrigin('/v1/public', { 'x-request-id': 'mine', 'accept-encoding': 'gzip' });
    expect([...received.keys()].sort()).toEqual(['accept-encoding', 'x-forwarded-for', 'x-forwarded-host', 'x-forwarded-proto', 'x-request-id']);
    expect([received.get('x-request-id'), received.get('accept-encoding')]).toEqual(['req-1', 'identity']);
  });

  it('keeps cookies from the origin unless forwardHeaders names them', async () => {
    expect((await atOrigin('/v1/public', { cookie: 'session=other-user' })).has('cookie')).toBe(false);
    expect((await atOrigin('/v1/public', { cookie: 'session=mine' }, { forwardHeaders: ['Cookie'] })).get('cookie')).toBe('session=mine');
  });

  it('adds the headers forwardHeaders names, in any case', async () => {
    const received = await atOrigin('/v1/public', { 'idempotency-key': 'k1', 'x-tenant-id': 't1', 'x-other': 'no' }, { forwardHeaders: ['Idempotency-Key', 'x-tenant-id'] });
    expect([received.get('idempotency-key'), received.get('x-tenant-id'), received.has('x-other')]).toEqual(['k1', 't1', false]);
  });

  it('drops an allowed header the client names in Connection (hop-by-hop for this message)', async () => {
    const received = await atOrigin('/v1/public', { connection: 'user-agent', 'user-agent': 'curl/8' });
    expect(received.has('user-agent')).toBe(false);
  });

  it.each([
    ['authorization', /forwardCredential/],
    ['Proxy-Authorization', /never for the origin/],
    ['x-forwarded-for', /the gateway sets it/],
    ['X-Request-Id', /the gateway sets it/],
    ['host', /the gateway sets it/],
    ['x-portcullis-identity', /the gateway sets it/],
    ['Transfer-Encoding', /one connection/],
  ])('refuses forwardHeaders naming %s at construction', (name, message) => {
    expect(() => forwardTo('http://origin.test', { forwardHeaders: ['accept', name] })).toThrow(TypeError);
    expect(() => forwardTo('http://origin.test', { forwardHeaders: ['accept', name] })).toThrow(new RegExp(`forwardHeaders\\[1\\]: "${name}".*`));
    expect(() => forwardTo('http://origin.test', { forwardHeaders: ['accept', name] })).toThrow(message);
  });
});

describe('forwardTo forwards a credential only when it authenticated the request and the options ask', () => {
  const bearer = async (sub = 'u_alice') => `Bearer ${await signToken(es256, { sub })}`;

  it('never by default', async () => {
    expect((await atOrigin('/v1/me', { authorization: await bearer() })).has('authorization')).toBe(false);
    expect((await atOrigin('/v1/reports', { 'x-api-key': API_KEY })).has('x-api-key')).toBe(false);
  });

  it('the verified token with forwardCredential: true', async () => {
    const token = await bearer();
    expect((await atOrigin('/v1/me', { authorization: token }, { forwardCredential: true })).get('authorization')).toBe(token);
  });

  it('the verified API key with forwardCredential: true', async () => {
    expect((await atOrigin('/v1/reports', { 'x-api-key': API_KEY }, { forwardCredential: true })).get('x-api-key')).toBe(API_KEY);
  });

  it('never an Authorization on an anonymous route', async () => {
    const received = await atOrigin('/v1/public', { authorization: 'Bearer forged.unverified.token' }, { forwardCredential: true });
    expect(received.has('authorization')).toBe(false);
  });

  it('never an Authorization that failed beside an API key that succeeded', async () => {
    const received = await atOrigin('/v1/reports', { 'x-api-key': API_KEY, authorization: 'Bearer forged.unverified.token' }, { forwardCredential: true });
    expect([received.get('x-api-key'), received.has('authorization')]).toEqual([API_KEY, false]);
  });

  it('never an API key beside the token that authenticated', async () => {
    const token = await bearer();
    const received = await atOrigin('/v1/reports', { authorization: token, 'x-api-key': 'pk_test_not_checked_0000000000' }, { forwardCredential: true });
    expect([received.get('authorization'), received.has('x-api-key')]).toEqual([token, false]);
  });

  it('only for the methods named', async () => {
    const token = await bearer();
    expect((await atOrigin('/v1/me', { authorization: token }, { forwardCredential: ['user'] })).get('authorization')).toBe(token);
    expect((await atOrigin('/v1/reports', { 'x-api-key': API_KEY }, { forwardCredential: ['user'] })).has('x-api-key')).toBe(false);
  });

  it('not when stripHeaders names it', async () => {
    expect((await atOrigin('/v1/me', { authorization: await bearer() }, { forwardCredential: true, stripHeaders: ['Authorization'] })).has('authorization')).toBe(false);
  });
});
