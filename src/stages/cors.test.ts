import { describe, expect, it, test } from 'vitest';
import { denialResponse } from '../decision.ts';
import { createEngine } from '../engine.ts';
import type { SecurityEvent } from '../log.ts';
import type { CorsPolicy, Policy } from '../policy/types.ts';
import type { AuthnMethod } from './authn.ts';
import { compileCors } from './cors.ts';

const FIXED = Date.parse('2026-03-01T12:00:00Z');
const APP = 'https://app.example.com';

/** A policy whose authenticated routes can never authenticate, so anything answered there came before authn. */
function setup(cors: CorsPolicy = { origins: [APP], credentials: true, maxAge: 86400 }) {
  const events: SecurityEvent[] = [];
  let authnCalls = 0;
  const user: AuthnMethod = {
    kind: 'test',
    challenge: 'Bearer',
    authenticate: async () => {
      authnCalls++;
      return { kind: 'absent' };
    },
  };
  const policy: Policy = {
    authn: { user },
    cors,
    routes: {
      'GET /v1/things/:id': { authn: ['user'], allow: 'authenticated' },
      'DELETE /v1/things/:id': { authn: ['user'], allow: 'authenticated' },
      'POST /v1/things': { authn: ['user'], allow: 'authenticated' },
      'GET /v1/health': { authn: 'anonymous' },
    },
  };
  const engine = createEngine(policy, { now: () => FIXED, randomId: () => 'req-1', log: (e) => events.push(e) });

  /** The response the caller sees for `url`: the denial, or an allowed request's headers on a 200. */
  async function send(url: string, init: RequestInit = {}, rawTarget?: string) {
    const request = new Request(url, init);
    const decision = await engine.evaluate(request, { peer: { address: '127.0.0.1' }, rawTarget: rawTarget ?? new URL(url).pathname });
    const response = decision.kind === 'deny' ? denialResponse(decision) : new Response('ok', { headers: [...decision.headers] });
    return { decision, response };
  }

  function preflight(path: string, origin: string, method: string, requestHeaders?: string) {
    const headers = new Headers({ origin, 'access-control-request-method': method });
    if (requestHeaders !== undefined) headers.set('access-control-request-headers', requestHeaders);
    return send(`https://api.example.com${path}`, { method: 'OPTIONS', headers });
  }

  return { engine, events, send, preflight, authnCalls: () => authnCalls };
}

/** The `Access-Control-*` header names of a response. */
const corsHeaderNames = (response: Response) => [...response.headers.keys()].filter((name) => name.startsWith('access-control-'));

/** The tokens of `Vary`, lowercased. */
const varyTokens = (response: Response) =>
  (response.headers.get('vary') ?? '')
    .split(',')
    .map((token) => token.trim().toLowerCase())
    .filter(Boolean);

const LOOK_ALIKES = [
  ['a suffix look-alike', 'https://app.example.com.evil.test'],
  ['a prefix look-alike', 'https://evilapp.example.com'],
  ['the same host over http', 'http://app.example.com'],
  ['the origin in upper case', 'HTTPS://APP.EXAMPLE.COM'],
  ['the null origin', 'null'],
  ['two origins in one header', 'https://app.example.com, https://evil.test'],
  ['the origin with a trailing slash', 'https://app.example.com/'],
  ['the origin with its default port', 'https://app.example.com:443'],
  ['another port', 'https://app.example.com:8443'],
  ['a shorter host', 'https://app.example.co'],
  ['an unrelated origin', 'https://evil.test'],
] as const;

const ADMIN = 'https://admin.example.com';

/** `Origin` values that hold two allowed origins, or one with whitespace inside: a browser sends none of them. */
const LISTS = [
  ['a comma-separated list of allowed origins', `${APP}, ${ADMIN}`],
  ['a list without a space', `${APP},${ADMIN}`],
  ['a space-separated list', `${APP} ${ADMIN}`],
  ['a tab-separated list', `${APP}\t${ADMIN}`],
  ['an allowed origin with a trailing comma', `${APP},`],
  ['an allowed origin with a space inside', 'https://app.example.com /'],
] as const;

describe('CORS', () => {
  describe('preflight', () => {
    it('answers a preflight from an allowed origin with 204 and exact allow headers, before authentication', async () => {
      const { preflight, authnCalls, events } = setup();
      const { decision, response } = await preflight('/v1/things/42', APP, 'DELETE');

      expect(decision).toMatchObject({ kind: 'deny', status: 204, reason: 'cors.preflight' });
      expect(response.status).toBe(204);
      expect(response.body).toBeNull();
      expect(response.headers.get('access-control-allow-origin')).toBe(APP);
      expect(response.headers.get('access-control-allow-credentials')).toBe('true');
      expect(response.headers.get('access-control-allow-methods')).toBe('DELETE, GET');
      expect(response.headers.get('access-control-max-age')).toBe('86400');
      expect(varyTokens(response)).toContain('origin');
      expect(authnCalls()).toBe(0);
      expect(events).toEqual([]);
    });

    it('lists the methods of the preflighted path only', async () => {
      const { preflight } = setup();
      const { response } = await preflight('/v1/things', APP, 'POST');
      expect(response.status).toBe(204);
      expect(response.headers.get('access-control-allow-methods')).toBe('POST');
    });

    it('sends the default max-age of 600 seconds and no credentials header when the policy does not allow credentials', async () => {
      const { preflight } = setup({ origins: [APP] });
      const { response } = await preflight('/v1/things/42', APP, 'GET');
      expect(response.status).toBe(204);
      expect(response.headers.get('access-control-max-age')).toBe('600');
      expect(response.headers.has('access-control-allow-credentials')).toBe(false);
    });

    test.each(LOOK_ALIKES)('refuses a preflight from %s without any CORS header (%j)', async (_what, origin) => {
      const { preflight, authnCalls } = setup();
      const { decision, response } = await preflight('/v1/things/42', origin, 'DELETE', 'authorization');
      expect(decision).toMatchObject({ kind: 'deny', status: 403, reason: 'cors.origin_denied' });
      expect(response.status).toBe(403);
      expect(corsHeaderNames(response)).toEqual([]);
      expect(response.headers.get('content-type')).toBe('application/problem+json');
      expect(authnCalls()).toBe(0);
    });

    it('refuses a preflight that carries two Origin header fields', async () => {
      const { send } = setup();
      const headers = new Headers({ 'access-control-request-method': 'GET' });
      headers.append('origin', APP);
      headers.append('origin', 'https://evil.test');
      const { response } = await send('https://api.example.com/v1/things/42', { method: 'OPTIONS', headers });
      expect(response.status).toBe(403);
      expect(corsHeaderNames(response)).toEqual([]);
    });

    it('refuses a preflight for a method the path does not answer, without any CORS header', async () => {
      const { preflight } = setup();
      const { decision, response } = await preflight('/v1/things/42', APP, 'PUT');
      expect(decision).toMatchObject({ kind: 'deny', status: 403, reason: 'cors.method_denied' });
      expect(corsHeaderNames(response)).toEqual([]);
    });

    it('answers a preflight for a path with no route with 404 and no CORS header', async () => {
      const { preflight } = setup();
      const { decision, response } = await preflight('/v1/nowhere', APP, 'GET');
      expect(decision).toMatchObject({ kind: 'deny', status: 404, reason: 'route.not_found' });
      expect(corsHeaderNames(response)).toEqual([]);
    });

    test.each([
      ['authorization', 'authorization'],
      ['Authorization, Content-Type', 'authorization, content-type'],
      ['authorization, x-evil', 'authorization'],
      ['content-type,content-type', 'content-type'],
      ['x-evil', null],
      ['cookie', null],
      ['', null],
    ])('echoes only allowlisted requested headers: %j gives %j', async (requested, allowed) => {
      const { preflight } = setup();
      const { response } = await preflight('/v1/things/42', APP, 'GET', requested);
      expect(response.status).toBe(204);
      expect(response.headers.get('access-control-allow-headers')).toBe(allowed);
    });

    it('echoes the policy allowHeaders instead of the defaults when it sets them', async () => {
      const { preflight } = setup({ origins: [APP], allowHeaders: ['X-API-Key'] });
      const { response } = await preflight('/v1/things/42', APP, 'GET', 'x-api-key, authorization, content-type');
      expect(response.headers.get('access-control-allow-headers')).toBe('x-api-key');
    });

    it('treats an OPTIONS without Access-Control-Request-Method as an ordinary request (405 with Allow)', async () => {
      const { send } = setup();
      const { decision, response } = await send('https://api.example.com/v1/things/42', { method: 'OPTIONS', headers: { origin: APP } });
      expect(decision).toMatchObject({ kind: 'deny', status: 405, reason: 'route.method_not_allowed' });
      expect(response.headers.get('allow')).toBe('DELETE, GET');
      expect(response.headers.has('access-control-allow-methods')).toBe(false);
    });
  });

  describe('Vary: Origin', () => {
    test.each([
      ['an allowed request', 'GET', 'https://api.example.com/v1/health', {}, undefined, 200],
      ['an allowed request from an allowed origin', 'GET', 'https://api.example.com/v1/health', { origin: APP }, undefined, 200],
      ['a 404', 'GET', 'https://api.example.com/v1/nowhere', {}, undefined, 404],
      ['a 404 to an allowed origin', 'GET', 'https://api.example.com/v1/nowhere', { origin: APP }, undefined, 404],
      ['a 405', 'PUT', 'https://api.example.com/v1/things/42', { origin: APP }, undefined, 405],
      ['a 401', 'GET', 'https://api.example.com/v1/things/42', { origin: APP }, undefined, 401],
      ['a 400 for a malformed path', 'GET', 'https://api.example.com/admin', { origin: APP }, '/v1/../admin', 400],
      ['a 308 redirect to https', 'GET', 'http://api.example.com/v1/health', { origin: APP }, undefined, 308],
      ['a refused preflight', 'OPTIONS', 'https://api.example.com/v1/things/42', { origin: 'https://evil.test', 'access-control-request-method': 'GET' }, undefined, 403],
    ])('is on %s', async (_what, method, url, headers, rawTarget, status) => {
      const { send } = setup();
      const { response } = await send(url, { method, headers }, rawTarget);
      expect(response.status).toBe(status);
      expect(varyTokens(response)).toContain('origin');
    });

    it('is on the 400 of a request the runtime could not parse', () => {
      const { engine } = setup();
      const response = denialResponse(engine.reject({ peer: { address: '127.0.0.1' } }));
      expect(response.status).toBe(400);
      expect(varyTokens(response)).toContain('origin');
    });
  });

  describe('actual requests', () => {
    it('gives an allowed origin its exact origin and credentials on an allowed request', async () => {
      const { send } = setup({ origins: [APP, 'https://admin.example.com'], credentials: true });
      const { decision, response } = await send('https://api.example.com/v1/health', { headers: { origin: APP } });
      expect(decision.kind).toBe('allow');
      expect(response.headers.get('access-control-allow-origin')).toBe(APP);
      expect(response.headers.get('access-control-allow-credentials')).toBe('true');
    });

    it('gives an allowed origin its CORS headers on a 401, so the app can read the error', async () => {
      const { send } = setup();
      const { response } = await send('https://api.example.com/v1/things/42', { headers: { origin: APP } });
      expect(response.status).toBe(401);
      expect(response.headers.get('access-control-allow-origin')).toBe(APP);
      expect(response.headers.get('access-control-allow-credentials')).toBe('true');
    });

    test.each(LOOK_ALIKES)('gives %s no CORS header on an actual request (%j)', async (_what, origin) => {
      const { send } = setup();
      const { decision, response } = await send('https://api.example.com/v1/health', { headers: { origin } });
      expect(decision.kind).toBe('allow');
      expect(corsHeaderNames(response)).toEqual([]);
    });

    it('exposes the configured response headers, lowercased', async () => {
      const { send } = setup({ origins: [APP], exposeHeaders: ['X-Request-Id', 'ETag'] });
      const { response } = await send('https://api.example.com/v1/health', { headers: { origin: APP } });
      expect(response.headers.get('access-control-expose-headers')).toBe('x-request-id, etag');
    });

    it('answers every origin with "*" and no credentials under a public "*" policy', async () => {
      const { send } = setup({ origins: ['*'] });
      const { response } = await send('https://api.example.com/v1/health', { headers: { origin: 'https://anyone.test' } });
      expect(response.headers.get('access-control-allow-origin')).toBe('*');
      expect(response.headers.has('access-control-allow-credentials')).toBe(false);
    });

    it('sends no CORS header and no Vary when the policy has no CORS section', async () => {
      const engine = createEngine({ routes: { 'GET /v1/health': { authn: 'anonymous' } } }, { now: () => FIXED, randomId: () => 'req-1', log: () => {} });
      const decision = await engine.evaluate(new Request('https://api.example.com/v1/health', { headers: { origin: APP } }), {
        peer: { address: '127.0.0.1' },
      });
      expect(decision.kind).toBe('allow');
      expect([...decision.headers.keys()].filter((name) => name.startsWith('access-control-') || name === 'vary')).toEqual([]);
    });
  });

  describe('an Origin that is a list or holds whitespace', () => {
    test.each(LISTS)('refuses a preflight whose Origin is %s, without any CORS header (%j)', async (_what, origin) => {
      const { preflight } = setup({ origins: [APP, ADMIN], credentials: true });
      const { decision, response } = await preflight('/v1/things/42', origin, 'DELETE');
      expect(decision).toMatchObject({ kind: 'deny', status: 403, reason: 'cors.origin_denied' });
      expect(corsHeaderNames(response)).toEqual([]);
    });

    test.each(LISTS)('gives %s no CORS header on an actual request (%j)', async (_what, origin) => {
      const { send } = setup({ origins: [APP, ADMIN], credentials: true });
      const { decision, response } = await send('https://api.example.com/v1/health', { headers: { origin } });
      expect(decision.kind).toBe('allow');
      expect(corsHeaderNames(response)).toEqual([]);
    });

    test.each(LISTS)('gives %s no "*" under a public "*" policy (%j)', async (_what, origin) => {
      const { send } = setup({ origins: ['*'] });
      const { response } = await send('https://api.example.com/v1/health', { headers: { origin } });
      expect(corsHeaderNames(response)).toEqual([]);
    });

    it('reads an Origin with whitespace around it as the Fetch API hands it over: trimmed, so the exact origin', async () => {
      const { send } = setup({ origins: [APP] });
      const { response } = await send('https://api.example.com/v1/health', { headers: { origin: ` ${APP}\t` } });
      expect(response.headers.get('access-control-allow-origin')).toBe(APP);
    });

    test.each([` ${APP}`, `${APP} `, `\t${APP}`, `${APP}\n`])('does not match an untrimmed value handed to it directly (%j)', (origin) => {
      expect(compileCors({ origins: [APP] }).allowOrigin(origin)).toBeUndefined();
      expect(compileCors({ origins: ['*'] }).allowOrigin(origin)).toBeUndefined();
    });
  });

  describe('engine.handle', () => {
    /** An origin that sets its own (wrong) CORS headers and advertises its stack. */
    const leakyOrigin = () =>
      new Response('{"status":"ok"}', {
        headers: {
          'content-type': 'application/json',
          'access-control-allow-origin': '*',
          'access-control-allow-credentials': 'true',
          'access-control-allow-methods': 'GET, PUT, DELETE',
          'access-control-expose-headers': 'x-internal-token',
          'x-powered-by': 'Express',
          server: 'nginx/1.25.3',
          vary: 'Accept-Encoding',
        },
      });

    it("replaces the origin's own CORS headers with the policy's for an allowed origin", async () => {
      const { engine } = setup();
      const response = await engine.handle(new Request('https://api.example.com/v1/health', { headers: { origin: APP } }), { peer: { address: '127.0.0.1' } }, leakyOrigin);
      expect(response.status).toBe(200);
      expect(Object.fromEntries([...response.headers].filter(([name]) => name.startsWith('access-control-')))).toEqual({
        'access-control-allow-origin': APP,
        'access-control-allow-credentials': 'true',
      });
      expect(await response.text()).toBe('{"status":"ok"}');
    });

    test.each(LOOK_ALIKES)("strips the origin's CORS headers for %s (%j)", async (_what, origin) => {
      const { engine } = setup();
      const response = await engine.handle(new Request('https://api.example.com/v1/health', { headers: { origin } }), { peer: { address: '127.0.0.1' } }, leakyOrigin);
      expect(response.status).toBe(200);
      expect(corsHeaderNames(response)).toEqual([]);
    });

    it('strips X-Powered-By and Server, and keeps the origin Vary beside Origin', async () => {
      const { engine } = setup();
      const response = await engine.handle(new Request('https://api.example.com/v1/health'), { peer: { address: '127.0.0.1' } }, leakyOrigin);
      expect(response.headers.has('x-powered-by')).toBe(false);
      expect(response.headers.has('server')).toBe(false);
      expect(varyTokens(response)).toEqual(expect.arrayContaining(['accept-encoding', 'origin']));
    });
  });
});
