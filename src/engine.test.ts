import * as v from 'valibot';
import { describe, expect, it, test } from 'vitest';
import { denialResponse, type Allow, type Decision } from './decision.ts';
import { createEngine, type EngineEnv, type EvaluateContext, type Handler } from './engine.ts';
import { PolicyError } from './errors.ts';
import type { SecurityEvent } from './log.ts';
import type { Policy } from './policy/types.ts';
import type { AuthnMethod, AuthnOutcome } from './stages/authn.ts';

const FIXED = Date.parse('2026-03-01T12:00:00Z');
const PEER: EvaluateContext = { peer: { address: '127.0.0.1' } };
const API = 'https://api.example.com';

const ALICE = { id: 'u_alice', roles: ['user'], scopes: [], claims: { sub: 'u_alice' } };

/** A bearer method: no Authorization → absent; `Bearer good` → alice; `Bearer expired` → expired; anything else → invalid. */
const user: AuthnMethod = {
  kind: 'test',
  challenge: 'Bearer realm="api"',
  authenticate: async (request): Promise<AuthnOutcome> => {
    const header = request.headers.get('authorization');
    if (header === null) return { kind: 'absent' };
    if (header === 'Bearer good') return { kind: 'success', principal: ALICE };
    if (header === 'Bearer expired') return { kind: 'failure', reason: 'authn.token_expired' };
    return { kind: 'failure', reason: 'authn.invalid' };
  },
};

/** An API-key method on `x-api-key`: absent, `k-good` → the reporting service, anything else → invalid. */
const service: AuthnMethod = {
  kind: 'test',
  challenge: 'ApiKey header="x-api-key"',
  authenticate: async (request): Promise<AuthnOutcome> => {
    const key = request.headers.get('x-api-key');
    if (key === null) return { kind: 'absent' };
    if (key === 'k-good') return { kind: 'success', principal: { id: 'svc_reports', roles: ['service'], scopes: [], claims: {} } };
    return { kind: 'failure', reason: 'authn.invalid' };
  },
};

const policy = {
  authn: { user, service },
  routes: {
    'GET /v1/health': { authn: 'anonymous' },
    'GET /v1/things/:id': { authn: ['user'], allow: 'authenticated' },
    'DELETE /v1/things/:id': { authn: ['user'], allow: 'authenticated' },
    'POST /v1/things': { authn: ['user'], allow: 'authenticated' },
    'GET /v1/reports': { authn: ['user', 'service'], allow: 'authenticated' },
    'GET /v1/feed': { authn: ['user', 'anonymous'], allow: 'authenticated' },
  },
} satisfies Policy;

function setup(overrides: Partial<Policy> = {}, env: EngineEnv = {}) {
  const events: SecurityEvent[] = [];
  const engine = createEngine({ ...policy, ...overrides }, { now: () => FIXED, randomId: () => 'req-1', log: (e) => events.push(e), ...env });
  const evaluate = (path: string, init: RequestInit = {}, context: EvaluateContext = PEER) =>
    engine.evaluate(new Request(`${API}${path}`, init), { rawTarget: path, ...context });
  return { engine, events, evaluate };
}

function expectAllow(decision: Decision): Allow {
  if (decision.kind !== 'allow') return expect.unreachable(`denied: ${decision.reason}`);
  return decision;
}

const problem = (reason: string, title: string, status: number) => ({
  type: `https://portcullis.dev/problems/${reason}`,
  title,
  status,
  code: reason,
  requestId: 'req-1',
});

describe('createEngine', () => {
  it('validates the policy: a malformed one fails at construction, not at request time', () => {
    expect(() => createEngine({ routes: { 'GET /v1/x': { authn: ['nobody'], allow: 'authenticated' } } })).toThrow(PolicyError);
  });
});

describe('routing', () => {
  it('answers an unknown path with 404', async () => {
    const { evaluate } = setup();
    const decision = await evaluate('/v1/nowhere');
    expect(decision).toMatchObject({ kind: 'deny', status: 404, reason: 'route.not_found', route: undefined });
  });

  test.each([
    ['PUT', '/v1/things/42', 'DELETE, GET'],
    ['PATCH', '/v1/things', 'POST'],
    ['DELETE', '/v1/health', 'GET'],
    ['HEAD', '/v1/health', 'GET'],
  ])('answers %s %s, a known path with an unknown method, with 405 and Allow: %s', async (method, path, allow) => {
    const { evaluate } = setup();
    const decision = await evaluate(path, { method });
    expect(decision).toMatchObject({ kind: 'deny', status: 405, reason: 'route.method_not_allowed' });
    expect(denialResponse(decision as never).headers.get('allow')).toBe(allow);
  });

  it('answers HEAD with the GET route when routing.headFromGet is on, and lists HEAD in Allow', async () => {
    const { evaluate } = setup({ routing: { headFromGet: true } });
    expect(expectAllow(await evaluate('/v1/health', { method: 'HEAD' })).route).toBe('GET /v1/health');
    const denied = await evaluate('/v1/health', { method: 'DELETE' });
    expect(denied.headers.get('allow')).toBe('GET, HEAD');
  });

  it('gives the handler the decoded path params', async () => {
    const { evaluate } = setup();
    const decision = expectAllow(await evaluate('/v1/things/caf%C3%A9', { headers: { authorization: 'Bearer good' } }));
    expect(decision.route).toBe('GET /v1/things/:id');
    expect({ ...decision.params }).toEqual({ id: 'café' });
  });

  it('matches a path to the param route of its method when a literal route names the path for another method only', async () => {
    const { evaluate } = setup({ routes: { 'GET /u/:id': { authn: 'anonymous' }, 'DELETE /u/me': { authn: 'anonymous' } } });
    expect(expectAllow(await evaluate('/u/me')).route).toBe('GET /u/:id');
    const denied = await evaluate('/u/me', { method: 'PUT' });
    expect(denied).toMatchObject({ kind: 'deny', status: 405 });
    expect(denied.headers.get('allow')).toBe('DELETE, GET');
  });

  it('answers a request the runtime could not parse with a logged 400', () => {
    const { engine, events } = setup();
    const decision = engine.reject({ ...PEER, method: 'GET' });
    expect(decision).toMatchObject({ kind: 'deny', status: 400, reason: 'request.malformed' });
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ reason: 'request.malformed', clientIp: '127.0.0.1', requestId: 'req-1' });
  });

  it('refuses an ambiguous request target with 400 before routing', async () => {
    const { evaluate } = setup();
    const decision = await evaluate('/v1/health/..%2f..%2fadmin');
    expect(decision).toMatchObject({ kind: 'deny', status: 400, reason: 'request.malformed_path' });
  });
});

describe('method override headers', () => {
  const OVERRIDES = ['X-HTTP-Method-Override', 'X-HTTP-Method', 'X-Method-Override'];

  test.each(OVERRIDES)('never change the method: a GET with %s: DELETE is the GET route', async (name) => {
    const { evaluate } = setup();
    const decision = expectAllow(await evaluate('/v1/things/42', { headers: { authorization: 'Bearer good', [name]: 'DELETE' } }));
    expect(decision.route).toBe('GET /v1/things/:id');
    expect(decision.request.method).toBe('GET');
  });

  test.each(OVERRIDES)('never make a route reachable: a POST with %s: GET to a GET-only path is 405', async (name) => {
    const { evaluate } = setup();
    const decision = await evaluate('/v1/health', { method: 'POST', headers: { [name]: 'GET' } });
    expect(decision).toMatchObject({ kind: 'deny', status: 405 });
  });

  test.each(OVERRIDES)('are stripped from decision.request (%s), other headers kept', async (name) => {
    const { evaluate } = setup();
    const decision = expectAllow(await evaluate('/v1/health', { headers: { [name]: 'DELETE', 'x-kept': 'yes' } }));
    expect(decision.request.headers.has(name)).toBe(false);
    expect(decision.request.headers.get('x-kept')).toBe('yes');
    expect(decision.request.url).toBe(`${API}/v1/health`);
  });

  it('are stripped from a request with a body, which reaches the handler intact', async () => {
    const { evaluate } = setup({
      routes: { 'POST /v1/things': { authn: 'anonymous', body: v.object({ name: v.string() }) } },
    });
    const decision = expectAllow(
      await evaluate('/v1/things', {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-http-method-override': 'DELETE' },
        body: '{"name":"widget"}',
      }),
    );
    expect(decision.route).toBe('POST /v1/things');
    expect(decision.request.method).toBe('POST');
    expect(decision.request.headers.has('x-http-method-override')).toBe(false);
    expect(await decision.request.json()).toEqual({ name: 'widget' });
  });

  it('are all stripped from the request engine.handle gives the handler', async () => {
    const { engine } = setup();
    let seen: Headers | undefined;
    const headers = Object.fromEntries(OVERRIDES.map((name) => [name, 'DELETE']));
    const response = await engine.handle(new Request(`${API}/v1/health`, { headers }), PEER, (request) => {
      seen = request.headers;
      return new Response('ok');
    });
    expect(response.status).toBe(200);
    expect(OVERRIDES.filter((name) => seen!.has(name))).toEqual([]);
  });
});

describe('denials', () => {
  test.each([
    ['a 404', '/v1/nowhere', {}, problem('route.not_found', 'Not found', 404)],
    ['a 405', '/v1/health', { method: 'DELETE' }, problem('route.method_not_allowed', 'Method not allowed', 405)],
    ['a 401', '/v1/things/42', {}, problem('authn.required', 'Unauthorized', 401)],
    ['a 400', '/v1/%00', {}, problem('request.malformed_path', 'Bad request', 400)],
  ] as const)('are problem+json: %s carries type, title, status, code and requestId, and nothing else', async (_what, path, init, body) => {
    const { evaluate } = setup();
    const decision = await evaluate(path, init);
    if (decision.kind !== 'deny') return expect.unreachable('allowed');
    const response = denialResponse(decision);
    expect(response.status).toBe(body.status);
    expect(response.headers.get('content-type')).toBe('application/problem+json');
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect(response.headers.get('x-request-id')).toBe('req-1');
    expect(await response.json()).toStrictEqual(body);
  });

  it('show the decision trace to the caller in dev mode only', async () => {
    const { evaluate } = setup({ dev: true });
    const decision = await evaluate('/v1/things/42');
    if (decision.kind !== 'deny') return expect.unreachable('allowed');
    const body = (await denialResponse(decision).json()) as { trace?: { stage: string }[] };
    expect(body.trace?.map((entry) => entry.stage)).toEqual(expect.arrayContaining(['route', 'authn']));
  });

  it('give the allowed request an X-Request-Id too', async () => {
    const { evaluate } = setup();
    expect(expectAllow(await evaluate('/v1/health')).headers.get('x-request-id')).toBe('req-1');
  });
});

describe('security events', () => {
  it('logs exactly one event per denial with the request id, reason, route and client IP', async () => {
    const { evaluate, events } = setup();
    await evaluate('/v1/things/42', { headers: { authorization: 'Bearer forged' } });
    expect(events).toEqual([
      {
        time: '2026-03-01T12:00:00.000Z',
        event: 'portcullis.deny',
        requestId: 'req-1',
        reason: 'authn.invalid',
        status: 401,
        method: 'GET',
        path: '/v1/things/42',
        route: 'GET /v1/things/:id',
        clientIp: '127.0.0.1',
      },
    ]);
  });

  it('logs a 404 with a null route', async () => {
    const { evaluate, events } = setup();
    await evaluate('/v1/nowhere');
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ reason: 'route.not_found', status: 404, route: null, path: '/v1/nowhere' });
  });

  it('logs the client a trusted proxy reported, in canonical form', async () => {
    const { evaluate, events } = setup({ clientIp: { trustedProxies: ['10.0.0.0/8'] } });
    await evaluate('/v1/nowhere', { headers: { 'x-forwarded-for': '198.51.100.1, ::ffff:203.0.113.9', 'x-forwarded-proto': 'https' } }, { peer: { address: '10.0.0.7' } });
    expect(events[0]?.clientIp).toBe('203.0.113.9');
  });

  it('logs nothing for an allowed request', async () => {
    const { evaluate, events } = setup();
    expectAllow(await evaluate('/v1/health'));
    expect(events).toEqual([]);
  });

  test.each([
    ['a 401', '/v1/things/42'],
    ['a 404', '/v1/nowhere'],
    ['a 405', '/v1/health'],
  ])('never hold the Authorization header, cookies, API key or query string (%s)', async (_what, path) => {
    const { engine, events } = setup();
    const request = new Request(`${API}${path}?api_key=sekrit-query-789&token=sekrit-query-790`, {
      method: path === '/v1/health' ? 'DELETE' : 'GET',
      headers: { authorization: 'Bearer sekrit-token-123', cookie: 'session=sekrit-cookie-456', 'x-api-key': 'sekrit-key-000' },
    });
    const decision = await engine.evaluate(request, PEER);
    expect(decision.kind).toBe('deny');
    expect(events).toHaveLength(1);
    const line = JSON.stringify(events);
    for (const secret of ['sekrit', 'api_key', 'token=', 'session', '?']) expect(line).not.toContain(secret);
  });
});

describe('engine.handle', () => {
  it('calls the handler for an allowed request and adds the policy headers to its response', async () => {
    const { engine } = setup();
    const response = await engine.handle(new Request(`${API}/v1/things/42`, { headers: { authorization: 'Bearer good' } }), PEER, (request, decision) =>
      Response.json({ id: decision.params.id, who: decision.principal.id, method: request.method }, { status: 201 }),
    );
    expect(response.status).toBe(201);
    expect(await response.json()).toEqual({ id: '42', who: 'u_alice', method: 'GET' });
    expect(response.headers.get('x-request-id')).toBe('req-1');
    expect(response.headers.get('x-content-type-options')).toBe('nosniff');
  });

  it('never calls the handler for a denied request', async () => {
    const { engine } = setup();
    let called = false;
    const response = await engine.handle(new Request(`${API}/v1/things/42`), PEER, () => {
      called = true;
      return new Response('secret');
    });
    expect(response.status).toBe(401);
    expect(called).toBe(false);
  });

  it('accepts a handler response with immutable headers, as fetch() returns', async () => {
    const { engine } = setup();
    const response = await engine.handle(new Request(`${API}/v1/health`), PEER, () => Response.redirect('https://api.example.com/v1/elsewhere', 302));
    expect(response.status).toBe(302);
    expect(response.headers.get('location')).toBe('https://api.example.com/v1/elsewhere');
    expect(response.headers.get('x-frame-options')).toBe('DENY');
  });

  test.each([
    ['throws', () => {
      throw new Error('connect ECONNREFUSED db-7.internal:5432 as app_rw');
    }],
    ['rejects', async () => {
      throw new Error('connect ECONNREFUSED db-7.internal:5432 as app_rw');
    }],
    ['throws a string', () => {
      throw 'connect ECONNREFUSED db-7.internal:5432 as app_rw';
    }],
  ])('answers a handler that %s with a generic 500 problem and keeps the detail in the log', async (_what, handler) => {
    const { engine, events } = setup();
    const response = await engine.handle(new Request(`${API}/v1/health`), PEER, handler as Handler);
    expect(response.status).toBe(500);
    expect(response.headers.get('content-type')).toBe('application/problem+json');
    const text = await response.text();
    expect(JSON.parse(text)).toStrictEqual(problem('internal.error', 'Internal server error', 500));
    expect(text).not.toMatch(/ECONNREFUSED|db-7|app_rw|Error/);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ event: 'portcullis.error', reason: 'internal.error', status: 500, requestId: 'req-1', route: 'GET /v1/health' });
    expect(events[0]?.error).toContain('ECONNREFUSED db-7.internal:5432');
  });

  it('keeps the handler error out of the body even in dev mode', async () => {
    const { engine } = setup({ dev: true });
    const response = await engine.handle(new Request(`${API}/v1/health`), PEER, () => {
      throw new Error('connect ECONNREFUSED db-7.internal:5432');
    });
    expect(response.status).toBe(500);
    expect(await response.text()).not.toContain('ECONNREFUSED');
  });
});

describe('a broken log sink', () => {
  const throwing = () => {
    throw new Error('log shipper down');
  };

  it('does not change a denial', async () => {
    const { evaluate } = setup({}, { log: throwing });
    expect(await evaluate('/v1/things/42')).toMatchObject({ kind: 'deny', status: 401, reason: 'authn.required' });
    expect(await evaluate('/v1/nowhere')).toMatchObject({ kind: 'deny', status: 404 });
  });

  it('does not turn a handler error into a crash', async () => {
    const { engine } = setup({}, { log: throwing });
    const response = await engine.handle(new Request(`${API}/v1/health`), PEER, throwing);
    expect(response.status).toBe(500);
  });

  it('does not leave an unhandled rejection behind when the sink is async', async () => {
    // On Node an unhandled rejection ends the process: one failed log write would stop the gateway.
    const unhandled: unknown[] = [];
    const record = (reason: unknown) => unhandled.push(reason);
    const others = process.listeners('unhandledRejection');
    process.removeAllListeners('unhandledRejection');
    process.on('unhandledRejection', record);
    try {
      const { evaluate } = setup({}, { log: async () => throwing() });
      expect(await evaluate('/v1/nowhere')).toMatchObject({ kind: 'deny', status: 404 });
      await new Promise((resolve) => setTimeout(resolve, 20));
    } finally {
      process.off('unhandledRejection', record);
      for (const listener of others) process.on('unhandledRejection', listener);
    }
    expect(unhandled).toEqual([]);
  });
});

describe('authentication', () => {
  it('answers 401 authn.required with WWW-Authenticate when no method finds credentials', async () => {
    const { evaluate } = setup();
    const decision = await evaluate('/v1/things/42');
    expect(decision).toMatchObject({ kind: 'deny', status: 401, reason: 'authn.required' });
    expect(decision.headers.get('www-authenticate')).toBe('Bearer realm="api"');
  });

  it('challenges with every accepted method when none finds credentials', async () => {
    const { evaluate } = setup();
    const decision = await evaluate('/v1/reports');
    expect(decision).toMatchObject({ status: 401, reason: 'authn.required' });
    expect(decision.headers.get('www-authenticate')).toBe('Bearer realm="api", ApiKey header="x-api-key"');
  });

  test.each([
    ['Bearer expired', 'authn.token_expired'],
    ['Bearer forged', 'authn.invalid'],
  ])('answers credentials %j that fail with 401 and the failure reason %s', async (authorization, reason) => {
    const { evaluate } = setup();
    const decision = await evaluate('/v1/things/42', { headers: { authorization } });
    if (decision.kind !== 'deny') return expect.unreachable('allowed');
    expect(decision).toMatchObject({ status: 401, reason });
    expect(decision.headers.get('www-authenticate')).toBe('Bearer realm="api", error="invalid_token"');
    expect(await denialResponse(decision).json()).toStrictEqual(problem(reason, 'Unauthorized', 401));
  });

  it('allows valid credentials with the principal and the name of the method', async () => {
    const { evaluate } = setup();
    const decision = expectAllow(await evaluate('/v1/reports', { headers: { 'x-api-key': 'k-good' } }));
    expect(decision.principal).toMatchObject({ id: 'svc_reports', method: 'service', roles: ['service'] });
  });

  it('admits an anonymous caller on ["user", "anonymous"] when there are no credentials', async () => {
    const { evaluate } = setup();
    const decision = expectAllow(await evaluate('/v1/feed'));
    expect(decision.principal).toMatchObject({ id: 'anonymous', method: 'anonymous', roles: [] });
  });

  it('refuses bad credentials on ["user", "anonymous"] instead of falling back to anonymous', async () => {
    const { evaluate } = setup();
    const decision = await evaluate('/v1/feed', { headers: { authorization: 'Bearer forged' } });
    expect(decision).toMatchObject({ kind: 'deny', status: 401, reason: 'authn.invalid' });
  });

  it('authenticates good credentials on ["user", "anonymous"] as the user', async () => {
    const { evaluate } = setup();
    const decision = expectAllow(await evaluate('/v1/feed', { headers: { authorization: 'Bearer good' } }));
    expect(decision.principal).toMatchObject({ id: 'u_alice', method: 'user' });
  });

  it('fails closed with a generic 500 when an authentication method throws, and logs why', async () => {
    const broken: AuthnMethod = {
      kind: 'test',
      challenge: 'Bearer',
      authenticate: async () => {
        throw new Error('JWKS parse failure at https://id.internal/keys');
      },
    };
    const { evaluate, events } = setup({ authn: { user: broken, service }, routes: { 'GET /v1/x': { authn: ['user'], allow: 'authenticated' } } });
    const decision = await evaluate('/v1/x', { headers: { authorization: 'Bearer good' } });
    if (decision.kind !== 'deny') return expect.unreachable('allowed');
    expect(decision).toMatchObject({ status: 500, reason: 'internal.error' });
    expect(decision.headers.has('www-authenticate')).toBe(false);
    expect(JSON.stringify(decision.problem)).not.toContain('JWKS');
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ event: 'portcullis.error', reason: 'internal.error' });
    expect(events[0]?.error).toContain('JWKS parse failure');
  });
});

describe('a client that leaves while the handler works', () => {
  it('is a client.aborted denial, not an internal error, when the handler fails because the request signal aborted', async () => {
    const { engine, events } = setup();
    const controller = new AbortController();
    const handler: Handler = async (request) => {
      controller.abort(); // the client hangs up while the handler waits on the origin…
      request.signal.throwIfAborted(); // …and the handler's fetch, bound to the signal, rejects
      return new Response('never');
    };
    const response = await engine.handle(new Request(`${API}/v1/health`, { signal: controller.signal }), PEER, handler);
    expect(response.status).toBe(400);
    expect(events).toEqual([expect.objectContaining({ event: 'portcullis.deny', reason: 'client.aborted', status: 400, route: 'GET /v1/health' })]);
    expect(events[0]?.error).toBeUndefined();
  });

  it('is still an internal error when the handler fails and the client is still there', async () => {
    const { engine, events } = setup();
    const response = await engine.handle(new Request(`${API}/v1/health`, { signal: new AbortController().signal }), PEER, () => {
      throw new DOMException('the handler aborted its own work', 'AbortError');
    });
    expect(response.status).toBe(500);
    expect(events[0]).toMatchObject({ event: 'portcullis.error', reason: 'internal.error' });
  });
});
