import * as v from 'valibot';
import { describe, expect, it, test } from 'vitest';
import { AUDIENCE, es256, ISSUER, jwksOf, signToken } from '../../test/fixtures/keys.ts';
import { definePolicy } from '../../src/policy/define.ts';
import type { Policy } from '../../src/policy/types.ts';
import { createEngine } from '../../src/engine.ts';
import { jwt } from '../../src/authn/jwt.ts';
import { pathVariants } from './families/paths.ts';
import { lookalikes } from './families/cors.ts';
import { rotatedAddress } from './families/ratelimit.ts';
import { BudgetExhausted, ProbeSession, Unsendable } from './http.ts';
import { probe, redact, type ProbeSender } from './index.ts';
import { tamper } from './tokens.ts';

describe('what the probe sends', () => {
  test.each([
    ['encoded dot-dot (%2e%2e)', '/v1/users/portcullis-probe/%2e%2e/u_1'],
    ['dot-dot', '/v1/users/portcullis-probe/../u_1'],
    ['double slash', '/v1/users//u_1'],
    ['encoded slash (%2f)', '/v1/users%2fu_1'],
    ['backslash', '/v1/users\\u_1'],
    ['semicolon parameter (;x)', '/v1;x=portcullis-probe/users/u_1'],
    ['trailing slash', '/v1/users/u_1/'],
    ['NUL (%00)', '/v1/users/u_1%00'],
    ['case change', '/V1/users/u_1'],
  ])('spells /v1/users/u_1 with %s as %s', (label, target) => {
    expect(pathVariants('/v1/users/u_1')).toContainEqual({ label, target });
  });

  it('makes look-alikes of an allowed origin, never the origin itself', () => {
    expect(lookalikes('https://app.example.com')).toEqual([
      'https://app.example.com.portcullis-probe.invalid',
      'https://portcullis-probeapp.example.com',
      'https://portcullis-probe.app.example.com',
      'http://app.example.com',
      'https://app.example.com:8443',
      'https://appxexample.com',
    ]);
  });

  it('rotates through distinct addresses, then distinct IPv6 /64s', () => {
    const addresses = Array.from({ length: 1000 }, (_, i) => rotatedAddress(i));
    expect(new Set(addresses).size).toBe(1000);
    expect(addresses[0]).toBe('192.0.2.1');
    expect(addresses[999]).toMatch(/^2001:db8:/);
  });

  it('shows no more of a token than its first characters', () => {
    const token = 'eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ1X2FsaWNlIn0.c2lnbmF0dXJlLXNpZ25hdHVyZS1zaWduYXR1cmU';
    expect(redact(`Bearer ${token}`)).toBe(`Bearer eyJhbGciOiJF…(${token.length} chars)`);
    expect(redact('pk_live_0123456789abcdef0123456789')).toBe('pk_live_0123…(34 chars)');
  });

  it('tampers with the payload and keeps the header and signature', async () => {
    const honest = await signToken(es256, { iss: ISSUER, aud: AUDIENCE, sub: 'u_1', exp: 2_000_000_000 });
    const forged = tamper(honest, { sub: 'u_admin', roles: ['admin'] });
    const [h, p, s] = honest.split('.');
    const [fh, fp, fs] = forged.split('.');
    expect([fh, fs]).toEqual([h, s]);
    expect(fp).not.toBe(p);
    expect(JSON.parse(atob(fp!.replaceAll('-', '+').replaceAll('_', '/')))).toMatchObject({ sub: 'u_admin', roles: ['admin'], exp: 2_000_000_000 });
  });
});

describe('the session', () => {
  const answer: ProbeSender = async () => ({ status: 200, headers: new Headers(), body: '' });

  it('stops at the request budget', async () => {
    const session = new ProbeSession({ baseUrl: 'https://api.test', send: answer, maxRequests: 2, timeoutMs: 1000 });
    await session.send({ method: 'GET', target: '/a' });
    await session.send({ method: 'GET', target: '/b' });
    await expect(session.send({ method: 'GET', target: '/c' })).rejects.toBeInstanceOf(BudgetExhausted);
  });

  it('sends a target a URL parser would rewrite only through a raw sender', async () => {
    const session = new ProbeSession({ baseUrl: 'https://api.test', send: answer, maxRequests: 10, timeoutMs: 1000 });
    expect(session.rewrites({ method: 'GET', target: '/a/../b' })).toBe(true);
    expect(session.rewrites({ method: 'GET', target: '/a/%2e%2e/b' })).toBe(true);
    expect(session.rewrites({ method: 'GET', target: '/a%2fb' })).toBe(false);
    await expect(session.send({ method: 'GET', target: '/a\\b' })).rejects.toBeInstanceOf(Unsendable);
  });

  it('reaches the origin of the base URL, below its path, and nothing else', async () => {
    const urls: string[] = [];
    const session = new ProbeSession({ baseUrl: 'https://api.test/gw/', send: async (url) => (urls.push(url), answer(url, {} as never)), maxRequests: 10, timeoutMs: 1000 });
    await session.send({ method: 'GET', target: '//evil.test/x' });
    await session.send({ method: 'GET', target: '/v1/health', plain: true });
    expect(urls).toEqual(['https://api.test/gw//evil.test/x', 'http://api.test/gw/v1/health']);
    expect(() => session.urlOf({ method: 'GET', target: 'https://evil.test/' })).toThrow(/starts with \//);
  });
});

describe('a probe run against an engine in process', () => {
  const LoginBody = v.strictObject({ username: v.pipe(v.string(), v.minLength(1)), password: v.pipe(v.string(), v.minLength(1)) });
  const UserPatch = v.strictObject({ name: v.optional(v.pipe(v.string(), v.minLength(2))) });
  const base = {
    authn: { user: jwt({ jwks: jwksOf(es256), algorithms: ['ES256'], issuer: ISSUER, audience: AUDIENCE }) },
    cors: { origins: ['https://app.example.com'], credentials: true },
    rateLimits: { login: { limit: 3, window: '15m', by: 'ip', count: 'failures', failureStatuses: [401] } },
    routes: {
      'GET /v1/health': { authn: 'anonymous' },
      'POST /v1/login': { authn: 'anonymous', rateLimit: ['login'], body: LoginBody },
      'GET /v1/users/:id': { authn: ['user'], allow: [{ roles: ['admin'] }, { owner: { param: 'id' } }] },
      'PATCH /v1/users/:id': { authn: ['user'], allow: [{ owner: { param: 'id' } }], body: UserPatch },
    },
  } satisfies Policy;

  /** The deployment: an engine (whose policy may differ from the one the probe reads) and an app that says yes. */
  function deployment(policy: Policy): ProbeSender {
    const engine = createEngine(policy, { log: () => {} });
    return async (url, init) => {
      const match = /^(https?):\/\/[^/]+(\/.*)$/.exec(url)!;
      const request = new Request(url, { method: init.method, headers: init.headers, body: init.body as BodyInit | undefined });
      const response = await engine.handle(request, { peer: { address: '203.0.113.9', scheme: match[1] as 'http' | 'https' }, rawTarget: match[2] }, (req) =>
        new URL(req.url).pathname === '/v1/login' ? new Response(null, { status: 401 }) : Response.json({ ok: true }),
      );
      return { status: response.status, headers: response.headers, body: await response.text() };
    };
  }

  const run = (policy: Policy, deployed: Policy = policy) =>
    probe(policy, {
      baseUrl: 'https://api.test',
      send: deployment(deployed),
      rawSend: deployment(deployed),
      credentials: { signingKey: es256.privateJwk, subject: 'u_alice' },
      otherId: 'u_bob',
    });

  it('finds nothing when the deployment enforces the policy', async () => {
    const report = await run(definePolicy(base));
    expect(report.findings).toEqual([]);
    expect(report.summary.inconclusive).toBe(0);
    for (const family of ['authn', 'jwt', 'bola', 'methods', 'paths', 'cors', 'bodies', 'transport', 'ratelimit', 'headers']) {
      expect(report.families.find((f) => f.family === family)?.passed, family).toBeGreaterThan(0);
    }
  });

  it('finds a BOLA when the deployment lost the owner rule, and nothing else', async () => {
    const policy = definePolicy(base);
    const deployed = definePolicy({ ...base, routes: { ...base.routes, 'GET /v1/users/:id': { authn: ['user'], allow: 'authenticated' } } });
    const report = await run(policy, deployed);
    expect(new Set(report.findings.map((f) => `${f.check} ${f.route} ${f.severity}`))).toEqual(
      new Set(['authz.bola GET /v1/users/:id error', 'authz.bola_case GET /v1/users/:id error']),
    );
    expect(report.findings[0]).toMatchObject({ request: { method: 'GET', target: '/v1/users/u_bob' }, expected: '403', actual: '200', owasp: { id: 'API1:2023' } });
    expect(report.findings[0]!.request.headers!.authorization).toMatch(/^Bearer eyJ.{9}…\(\d+ chars\)$/);
  });

  it('says what it could not send without a raw sender', async () => {
    const report = await probe(definePolicy(base), { baseUrl: 'https://api.test', send: deployment(definePolicy(base)) });
    expect(report.findings.filter((f) => f.severity === 'error')).toEqual([]);
    expect(report.inconclusive.some((r) => r.check === 'path.confusion' && /rewritten by the URL parser/.test(r.why!))).toBe(true);
    expect(report.notes.join('\n')).toMatch(/bola: skipped: the probe needs a user's token/);
  });
});
