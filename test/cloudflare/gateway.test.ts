/**
 * The Cloudflare Workers gateway on workerd (Miniflare), configured by wrangler.toml: the Worker of
 * README's snippet (policies/worker.ts) in front of a real origin on 127.0.0.1 that verifies the
 * identity assertion. The test stands where Cloudflare's edge stands and sets CF-Connecting-IP.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { es256, jwksOf, signToken } from '../fixtures/keys.ts';
import { generateApiKey, IDENTITY_HEADER } from '../../src/index.ts';
import { startOrigin, type RunningOrigin } from './origin.ts';
import { startWorkerd, type RawReply, type RunningWorker } from './workerd.ts';
import { clearOfWindowEdge } from '../wait.ts';

const IDENTITY_KEY = 'test-identity-key-0123456789abcdefghijklmnop';
const CLIENT = '203.0.113.7';
const service = await generateApiKey('pk_test_');
const API_KEYS = JSON.stringify({ [service.hash]: { principal: 'svc_reports', scopes: ['reports:read'] } });

/** wrangler.toml's JWKS_URL, answered by an outbound Worker (jwt() accepts https JWKS URLs only). */
const JWKS_WORKER = `export default {
  fetch(request, env) {
    if (request.url === env.JWKS_URL) return new Response(env.JWKS, { headers: { 'content-type': 'application/json' } });
    return fetch(request);
  },
};`;

/** A token of wrangler.toml's issuer and audience, valid now (workerd's clock is the real one). */
async function userToken(sub: string, roles: string[]) {
  const now = Math.floor(Date.now() / 1000);
  return signToken(es256, { iss: 'https://id.example.com', aud: 'api', sub, roles, iat: now, exp: now + 300 });
}

const json = (reply: RawReply) => JSON.parse(reply.body) as Record<string, unknown>;

it("README's Workers snippet is policies/worker.ts, character for character", () => {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  const source = readFileSync(new URL('../../policies/worker.ts', import.meta.url), 'utf8');
  // Without the file's opening comment, which says where it comes from.
  expect(readme).toContain(source.replace(/^\/\*\*[\s\S]*?\*\/\n\n/, '').trimEnd());
});

describe('policies/worker.ts on workerd', () => {
  let origin: RunningOrigin;
  let worker: RunningWorker;

  beforeAll(async () => {
    origin = await startOrigin(IDENTITY_KEY);
    worker = await startWorkerd({
      bindings: { ORIGIN_URL: origin.url, PORTCULLIS_IDENTITY_KEY: IDENTITY_KEY, API_KEYS },
      outbound: { script: JWKS_WORKER, bindings: { JWKS_URL: 'https://id.example.com/.well-known/jwks.json', JWKS: JSON.stringify(jwksOf(es256)) } },
    });
  }, 30_000);

  afterAll(async () => {
    await worker?.stop();
    await origin?.close();
  });

  /** Sends through the Worker and returns the reply and what the origin received for it (if anything). */
  async function through(target: string, headers: Record<string, string> = {}) {
    const before = origin.received.length;
    const reply = await worker.send({ target, headers }, CLIENT);
    return { reply, atOrigin: origin.received.slice(before) };
  }

  it('strips the client-sent forwarding and identity headers before the origin sees the request', async () => {
    const spoofed = {
      'x-forwarded-for': '10.0.0.1',
      'x-forwarded-proto': 'http',
      'x-forwarded-host': 'internal.example.com',
      'x-forwarded-user': 'admin',
      forwarded: 'for=10.0.0.1;proto=http',
      'x-real-ip': '10.0.0.1',
      'true-client-ip': '10.0.0.1',
      'x-user-id': 'u_admin',
      'x-original-url': '/admin',
      // Identity that some proxy in the world sets and some origin believes: none is on a list.
      'cf-access-authenticated-user-email': 'admin@example.com',
      'cf-access-jwt-assertion': 'forged',
      'x-goog-authenticated-user-email': 'accounts.google.com:admin@example.com',
      'x-amzn-oidc-identity': 'admin',
      'x-ms-client-principal': 'forged',
      'x-webauth-user': 'admin',
      'ssl-client-cert': 'forged',
      'x-ssl-client-s-dn': 'CN=admin',
      'x-envoy-original-path': '/admin',
      'x-original-method': 'DELETE',
      'x-host': 'internal.example.com',
      authorization: 'Bearer unverified.on.an.anonymous.route',
      [IDENTITY_HEADER]: 'forged',
    };
    const { reply, atOrigin } = await through('/v1/health', spoofed);
    expect(reply.status).toBe(200);
    expect(atOrigin).toHaveLength(1);
    const seen = atOrigin[0]!.headers;
    const gatewaySets = ['x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', IDENTITY_HEADER];
    for (const name of Object.keys(spoofed).filter((name) => !gatewaySets.includes(name))) expect(seen[name], name).toBeUndefined();
    // The gateway's own values: the client is CF-Connecting-IP, the scheme and host what the edge saw.
    expect([seen['x-forwarded-for'], seen['x-forwarded-proto'], seen['x-forwarded-host']]).toEqual([CLIENT, 'https', 'api.example.com']);
    expect(seen[IDENTITY_HEADER]).not.toBe('forged');
    expect(atOrigin[0]!.identity).toMatchObject({ ok: true, identity: { sub: 'anonymous', client_ip: CLIENT } });
  });

  it.each([
    ['an API key', '/v1/reports', () => ({ 'x-api-key': service.key }), { sub: 'svc_reports', authn: 'service', scopes: ['reports:read'], roles: [] }],
    ['a JWT', '/v1/users/u_alice', async () => ({ authorization: `Bearer ${await userToken('u_alice', ['user'])}` }), { sub: 'u_alice', authn: 'user', roles: ['user'] }],
  ])('passes the principal of %s to the origin in an assertion it verifies', async (_, target, headers, principal) => {
    const { reply, atOrigin } = await through(target, await headers());
    expect(reply.status).toBe(200);
    expect(atOrigin[0]!.identity).toMatchObject({
      ok: true,
      identity: { ...principal, iss: 'portcullis', aud: origin.url, jti: reply.headers.get('x-request-id'), req_method: 'GET', req_target: target, client_ip: CLIENT },
    });
    // The origin's answer comes back through the gateway.
    expect(json(reply)).toMatchObject({ identity: { sub: principal.sub } });
  });

  describe('a forged identity does not reach the origin', () => {
    const forged = async () => ({
      // A well-formed assertion claiming an admin, signed with the attacker's guess at the key, and the usual suspects.
      [IDENTITY_HEADER]: await signToken({ alg: 'HS256', secret: new TextEncoder().encode('attacker-guess-0123456789abcdefghijklmn') }, { sub: 'u_admin', roles: ['admin'] }, { header: { typ: 'portcullis-identity+jwt' } }),
      'x-user-id': 'u_admin',
      'x-forwarded-user': 'admin',
    });

    it('without credentials: 401 at the edge, nothing forwarded', async () => {
      const { reply, atOrigin } = await through('/v1/reports', await forged());
      expect(reply.status).toBe(401);
      expect(json(reply)).toMatchObject({ code: 'authn.required' });
      expect(atOrigin).toHaveLength(0);
    });

    it('with a valid but weaker credential: the origin hears the real principal, not the claimed one', async () => {
      const { reply, atOrigin } = await through('/v1/users/u_bob', { ...(await forged()), authorization: `Bearer ${await userToken('u_bob', ['user'])}` });
      expect(reply.status).toBe(200);
      expect(atOrigin[0]!.identity).toMatchObject({ ok: true, identity: { sub: 'u_bob', roles: ['user'] } });
    });

    it("with someone else's resource: 403 at the edge, whatever the headers claim", async () => {
      const { reply, atOrigin } = await through('/v1/users/u_alice', { ...(await forged()), authorization: `Bearer ${await userToken('u_bob', ['user'])}` });
      expect(reply.status).toBe(403);
      expect(atOrigin).toHaveLength(0);
    });

    it('around the Worker: the origin refuses a request without a valid assertion', async () => {
      const direct = await fetch(`${origin.url}/v1/reports`, { headers: await forged() });
      expect(direct.status).toBe(403);
      expect(await direct.json()).toEqual({ error: 'identity.invalid' });
      expect((await fetch(`${origin.url}/v1/reports`)).status).toBe(403);
    });

    it('replayed: an assertion the origin once accepted does not open another route', async () => {
      const { atOrigin } = await through('/v1/health');
      const captured = atOrigin[0]!.headers[IDENTITY_HEADER]!;
      const replay = await fetch(`${origin.url}/v1/reports`, { headers: { [IDENTITY_HEADER]: captured } });
      expect(await replay.json()).toEqual({ error: 'identity.wrong_request' });
    });
  });

  it('logs each denial as one JSON line with the CF-Connecting-IP client', async () => {
    const { reply } = await through('/v1/nowhere');
    expect(reply.status).toBe(404);
    const requestId = reply.headers.get('x-request-id');
    await expect.poll(() => worker.logs.map((line) => JSON.parse(line) as Record<string, unknown>).find((event) => event.requestId === requestId)).toMatchObject({
      event: 'portcullis.deny',
      reason: 'route.not_found',
      clientIp: CLIENT,
    });
  });
});

describe('store writes go to ctx.waitUntil', () => {
  let origin: RunningOrigin;
  let worker: RunningWorker;

  /** Store writes in flight land once this is released. */
  let release: () => void;
  const held = new Promise<void>((resolve) => (release = resolve));

  beforeAll(async () => {
    origin = await startOrigin(IDENTITY_KEY, async ({ target }) => {
      if (target === '/__hold') await held;
      return target === '/v1/login' ? { status: 401, body: { error: 'bad credentials' } } : undefined;
    });
    worker = await startWorkerd({ entry: 'test/cloudflare/worker.ts', bindings: { ORIGIN_URL: origin.url, PORTCULLIS_IDENTITY_KEY: IDENTITY_KEY } });
  }, 30_000);

  afterAll(async () => {
    await worker?.stop();
    await origin?.close();
  });

  const waited = () => origin.received.filter(({ target }) => target === '/__waited').map(({ body }) => new URL(body).pathname);

  it('the write of a take lands after the response, through waitUntil', async () => {
    const reply = await worker.send({ target: '/v1/things' }, CLIENT);
    expect(reply.status).toBe(200);
    // The response is out; the write is still in flight.
    expect(waited()).toEqual([]);
    release();
    await expect.poll(waited).toEqual(['/v1/things']);
  });

  it('a failure-only bucket is settled after the response, through waitUntil, and counts', async () => {
    // The login bucket's window is a minute of the real clock: both attempts inside one.
    await clearOfWindowEdge(60_000, 5_000);
    const first = await worker.send({ method: 'POST', target: '/v1/login', body: '' }, CLIENT);
    expect(first.status).toBe(401);
    await expect.poll(waited).toContain('/v1/login');
    const second = await worker.send({ method: 'POST', target: '/v1/login', body: '' }, CLIENT);
    expect(second.status).toBe(429);
  });
});

describe('a missing or unusable binding fails closed at the first request', () => {
  let origin: RunningOrigin;
  beforeAll(async () => {
    origin = await startOrigin(IDENTITY_KEY);
  });
  afterAll(() => origin?.close());

  it.each([
    ['ORIGIN_URL unset', { ORIGIN_URL: undefined }, 'BindingError: binding ORIGIN_URL is not set'],
    ['ORIGIN_URL with a path', { ORIGIN_URL: 'https://origin.example.com/api' }, 'BindingError: binding ORIGIN_URL is not an origin URL'],
    ['PORTCULLIS_IDENTITY_KEY unset', { PORTCULLIS_IDENTITY_KEY: undefined }, 'BindingError: binding PORTCULLIS_IDENTITY_KEY is not set'],
    ['PORTCULLIS_IDENTITY_KEY too short', { PORTCULLIS_IDENTITY_KEY: 'short' }, 'BindingError: binding PORTCULLIS_IDENTITY_KEY is unusable: identity.key: at least 32 bytes'],
    ['API_KEYS unset (read by the policy factory)', { API_KEYS: undefined }, 'BindingError: binding API_KEYS is not set'],
  ])('%s: 500 problem, and a log line naming the binding', async (_, bindings, logged) => {
    const worker = await startWorkerd({ bindings: { ORIGIN_URL: origin.url, PORTCULLIS_IDENTITY_KEY: IDENTITY_KEY, API_KEYS, ...bindings } });
    try {
      for (const target of ['/v1/health', '/v1/reports']) {
        const before = origin.received.length;
        const reply = await worker.send({ target }, CLIENT);
        expect(reply.status).toBe(500);
        expect(reply.headers.get('content-type')).toBe('application/problem+json');
        const problem = json(reply);
        expect(problem).toEqual({ type: 'https://portcullis.dev/problems/gateway.misconfigured', title: 'Internal server error', status: 500, code: 'gateway.misconfigured', requestId: expect.any(String) });
        // Nothing about the binding goes to the caller; the log says which one.
        expect(reply.body).not.toMatch(/ORIGIN_URL|IDENTITY|API_KEYS/);
        expect(origin.received.length).toBe(before);
        await expect
          .poll(() => worker.logs.map((line) => JSON.parse(line) as Record<string, unknown>).find((event) => event.requestId === problem.requestId))
          .toMatchObject({ event: 'portcullis.error', reason: 'gateway.misconfigured', status: 500, error: expect.stringContaining(logged) });
      }
    } finally {
      await worker.stop();
    }
  });
});
