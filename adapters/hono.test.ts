/**
 * The Hono middleware: what the conformance suite cannot see from outside (body hand-over,
 * waitUntil, sub-apps, onError, handlers that never run).
 */
import { Hono } from 'hono';
import * as v from 'valibot';
import { describe, expect, it, vi } from 'vitest';
import { createEngine, definePolicy, problemResponse, type SecurityEvent } from '../src/index.ts';
import { portcullis, routeInput, type PortcullisEnv } from './hono.ts';

const loopback = () => ({ remote: { address: '127.0.0.1', addressType: 'IPv4' as const } });

const policy = definePolicy({
  transport: { requireHttps: true, allowLoopbackHttp: true },
  rateLimits: { login: { limit: 1, window: '1m', by: 'ip', count: 'failures', failureStatuses: [401] } },
  routes: {
    'GET /api/v1/items/:id': { authn: 'anonymous' },
    'POST /api/v1/items': { authn: 'anonymous', body: v.object({ name: v.string() }), unknownKeys: 'strip' },
    'POST /login': { authn: 'anonymous', rateLimit: ['login'] },
    'GET /boom': { authn: 'anonymous' },
  },
});

type Env = PortcullisEnv<typeof policy>;
const quiet = { log: (_event: SecurityEvent) => {} };

function app() {
  const api = new Hono<Env>()
    .get('/v1/items/:id', (c) => c.json({ id: c.req.param('id'), input: c.var.input }))
    .post('/v1/items', async (c) => c.json({ read: await c.req.json(), validated: routeInput(c, 'POST /api/v1/items').body }))
    // A Hono route the policy does not name.
    .get('/v1/secret', () => new Response('secret'));
  return new Hono<Env>()
    .use(portcullis(policy, { getConnInfo: loopback, env: quiet }))
    .route('/api', api)
    .post('/login', (c) => c.json({ ok: false }, 401))
    .get('/boom', () => {
      throw new Error('db password is hunter2');
    })
    .onError((_error, c) => problemResponse('internal.error', c.var.decision.requestId));
}

describe('portcullis() for Hono', () => {
  it('guards routes of a sub-app mounted with app.route(), by their full path', async () => {
    const response = await app().request('/api/v1/items/42');
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ id: '42', input: { route: 'GET /api/v1/items/:id', params: { id: '42' } } });
    expect(response.headers.get('x-content-type-options')).toBe('nosniff');
  });

  it('guards a sub-app that mounts the middleware itself, by the full path', async () => {
    const api = new Hono<Env>().use(portcullis(policy, { getConnInfo: loopback, env: quiet })).get('/v1/items/:id', (c) => c.json(c.var.input.params));
    const root = new Hono().route('/api', api);
    expect(await (await root.request('/api/v1/items/7')).json()).toEqual({ id: '7' });
    expect((await root.request('/api/v1/items/7', { method: 'DELETE' })).status).toBe(405);
  });

  it('answers 404 for a Hono route the policy does not name; the handler never runs', async () => {
    const response = await app().request('/api/v1/secret');
    expect(response.status).toBe(404);
    expect(await response.json()).toMatchObject({ code: 'route.not_found' });
  });

  it('hands the handler the body the policy validated: c.req.json() works and reads the schema output', async () => {
    const response = await app().request('/api/v1/items', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'bolt', isAdmin: true }),
    });
    expect(response.status).toBe(200);
    // unknownKeys: 'strip' dropped isAdmin: the handler cannot read what the policy did not check.
    expect(await response.json()).toEqual({ read: { name: 'bolt' }, validated: { name: 'bolt' } });
  });

  it('applies the policy headers to responses made by app.onError, and leaks nothing', async () => {
    const response = await app().request('/boom');
    expect(response.status).toBe(500);
    expect(response.headers.get('x-frame-options')).toBe('DENY');
    expect(response.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    expect(await response.text()).not.toContain('hunter2');
  });

  it('removes headers the handler leaks, even those set with c.header()', async () => {
    const leaky = new Hono()
      .use(portcullis(policy, { getConnInfo: loopback, env: quiet }))
      .get('/api/v1/items/:id', (c) => {
        c.header('x-powered-by', 'Hono');
        c.header('access-control-allow-origin', '*');
        return c.text('ok');
      });
    const response = await leaky.request('/api/v1/items/1');
    expect(response.status).toBe(200);
    expect(response.headers.get('x-powered-by')).toBeNull();
    expect(response.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('settles failure buckets with the final status through executionCtx.waitUntil when there is one', async () => {
    const waitUntil = vi.fn();
    const executionCtx = { waitUntil, passThroughOnException() {}, props: {} };
    const target = app();
    expect((await target.request('/login', { method: 'POST' }, undefined, executionCtx)).status).toBe(401);
    expect(waitUntil).toHaveBeenCalled();
    await Promise.all(waitUntil.mock.calls.map(([promise]) => promise));
    // The one allowed failure is spent.
    expect((await target.request('/login', { method: 'POST' }, undefined, executionCtx)).status).toBe(429);
  });

  it('without conn info the client address is unknown, so the loopback HTTP exemption does not apply', async () => {
    const events: SecurityEvent[] = [];
    const blind = new Hono().use(portcullis(policy, { env: { log: (event) => void events.push(event) } })).get('*', (c) => c.text('ok'));
    const response = await blind.request('http://127.0.0.1/api/v1/items/1');
    expect(response.status).toBe(308);
    expect(events[0]).toMatchObject({ clientIp: 'unknown', reason: 'transport.https_redirect' });
  });

  it.each([
    { trustedProxies: ['cloudflare'], clientIp: '198.51.100.7' },
    { trustedProxies: [], clientIp: 'unknown' },
  ])('on Workers, CF-Connecting-IP is the client only when the policy trusts cloudflare ($trustedProxies)', async ({ trustedProxies, clientIp }) => {
    const events: SecurityEvent[] = [];
    const edge = definePolicy({ clientIp: { trustedProxies }, routes: { 'GET /v1/health': { authn: 'anonymous' } } });
    const worker = new Hono().use(portcullis(edge, { platform: 'cloudflare', env: { log: (event) => void events.push(event) } }));
    await worker.request('https://api.example.com/v1/nope', { headers: { 'cf-connecting-ip': '198.51.100.7' } });
    expect(events[0]).toMatchObject({ reason: 'route.not_found', clientIp });
  });

  describe('when the app and the policy route a request differently', () => {
    const files = definePolicy({
      transport: { requireHttps: false },
      authn: { user: { kind: 'test', challenge: 'Bearer', authenticate: async () => ({ kind: 'absent' as const }) } },
      routes: {
        'GET /v1/files/public': { authn: 'anonymous' },
        'GET /v1/files/:id': { authn: ['user'], allow: [{ roles: ['admin'] }] },
        'GET /v1/notes/:id': { authn: 'anonymous' },
      },
    });
    const adminHandler = vi.fn((c) => c.json({ admin: c.req.param('id') }));
    const errors: Error[] = [];
    const misordered = new Hono()
      .use(portcullis(files, { env: quiet }))
      // Registered first, so Hono runs it for /v1/files/public, which the policy allowed as the public literal.
      .get('/v1/files/:id', adminHandler)
      .get('/v1/files/public', (c) => c.json({ public: true }))
      // The policy binds `id`; this handler reads `noteId`, which the policy never checked.
      .get('/v1/notes/:noteId', (c) => c.json({ note: c.req.param('noteId') }))
      .onError((error, c) => {
        errors.push(error);
        return c.json({ error: 'misconfigured' }, 500);
      });

    it('refuses to run a handler whose params the policy did not bind, and says why', async () => {
      const response = await misordered.request('/v1/files/public');
      expect(response.status).toBe(500);
      expect(adminHandler).not.toHaveBeenCalled();
      expect(errors.at(-1)).toMatchObject({ name: 'RouteMismatchError', code: 'ERR_ROUTE_MISMATCH' });
      expect(errors.at(-1)!.message).toMatch(/GET \/v1\/files\/:id would run with params \{"id":"public"\}.*"GET \/v1\/files\/public"/);
    });

    it('refuses a handler that names a param differently from the policy', async () => {
      const response = await misordered.request('/v1/notes/n1');
      expect(response.status).toBe(500);
      expect(errors.at(-1)!.message).toMatch(/noteId/);
    });

    it('checks the handlers of a sub-app that has its own onError (app.route wraps them)', async () => {
      const subAdmin = vi.fn((c) => c.json({ admin: c.req.param('id') }));
      const sub = new Hono()
        .get('/files/:id', subAdmin)
        .get('/files/public', (c) => c.json({ public: true }))
        .onError((error, c) => c.json({ error: error.name }, 500));
      const mounted = new Hono().use(portcullis(files, { env: quiet })).route('/v1', sub);
      const response = await mounted.request('/v1/files/public');
      // Thrown by the root app's middleware: the root app's error handler answers.
      expect(response.status).toBe(500);
      expect(subAdmin).not.toHaveBeenCalled();
    });

    it('checks an answering handler declared with a next parameter it never calls', async () => {
      const answering = vi.fn(async (c, _next) => c.json({ admin: c.req.param('id') }));
      const app = new Hono()
        .use(portcullis(files, { env: quiet }))
        .get('/v1/files/:id', answering)
        .get('/v1/files/public', (c) => c.json({ public: true }))
        .onError((error, c) => c.json({ error: error.name }, 500));
      await app.request('/v1/files/public');
      expect(answering).not.toHaveBeenCalled();
    });

    it('in report-only mode, lets a request no policy route matched reach its handler (it was logged as unrouted)', async () => {
      const rollout = definePolicy({ mode: 'report', transport: { requireHttps: false }, routes: { 'GET /v1/health': { authn: 'anonymous' } } });
      const observed = new Hono().use(portcullis(rollout, { env: quiet })).get('/v1/things/:id', (c) => c.json({ id: c.req.param('id') }));
      const response = await observed.request('/v1/things/7');
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual({ id: '7' });
    });

    it('lets a handler run whose params the policy bound with the same values', async () => {
      const agreeing = new Hono().use(portcullis(files, { env: quiet })).get('/v1/notes/:id', (c) => c.json({ note: c.req.param('id') }));
      expect(await (await agreeing.request('/v1/notes/n1')).json()).toEqual({ note: 'n1' });
    });
  });

  it('refuses a request whose URL has a fragment: Hono would route, and hand the handler, a path the policy never checked', async () => {
    const wildcard = definePolicy({ transport: { requireHttps: false }, routes: { 'GET /v1/health': { authn: 'anonymous' } } });
    const served = vi.fn((c) => c.json({ path: c.req.path }));
    const app = new Hono().use(portcullis(wildcard, { env: quiet })).get('/v1/*', served);
    const response = await app.request('http://127.0.0.1/v1/health#/../users/u_bob');
    expect(response.status).toBe(400);
    expect(served).not.toHaveBeenCalled();
  });

  it('takes the scheme from the server, not from an absolute URL: https in the URL alone is still plain HTTP', async () => {
    const strict = new Hono().use(portcullis(definePolicy({ routes: { 'GET /x': { authn: 'anonymous' } } }), { env: quiet })).get('*', (c) => c.text('ok'));
    expect((await strict.request('https://api.example.com/x')).status).toBe(308);
    const tls = new Hono().use(portcullis(definePolicy({ routes: { 'GET /x': { authn: 'anonymous' } } }), { env: quiet, scheme: 'https' })).get('*', (c) => c.text('ok'));
    expect((await tls.request('https://api.example.com/x')).status).toBe(200);
  });

  it('accepts a compiled engine', async () => {
    const engine = createEngine(policy, quiet);
    const shared = new Hono().use(portcullis(engine, { getConnInfo: loopback })).get('*', (c) => c.text('ok'));
    expect((await shared.request('/api/v1/items/1')).status).toBe(200);
  });
});
