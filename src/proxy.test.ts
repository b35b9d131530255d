/**
 * `forwardTo`: what the origin hears. Headers a client could forge to claim an address, a scheme,
 * an identity or another path never pass; the gateway's own values replace them.
 */
import { describe, expect, it } from 'vitest';
import { NOW_MS } from '../test/fixtures/keys.ts';
import { createEngine } from './engine.ts';
import { definePolicy } from './policy/define.ts';
import { forwardTo, type ForwardOptions, type ForwardTransport, type OriginAnswer, type OriginRequest } from './proxy.ts';

/** Sends `headers` through a gateway (peer 198.51.100.4, public route) and returns what the origin received. */
async function forwarded(headers: Record<string, string>, options: ForwardOptions = {}) {
  return (await exchange(headers, options)).request;
}

/** The request the origin received and the response the client got, for an origin answering `answer`. */
async function exchange(headers: Record<string, string>, options: ForwardOptions = {}, answer = () => new Response('ok')) {
  const received: Request[] = [];
  const engine = createEngine(definePolicy({ routes: { 'GET /v1/things': { authn: 'anonymous' } } }), {
    now: () => NOW_MS,
    randomId: () => 'req-1',
    log: () => {},
  });
  const forward = forwardTo('http://origin.test', {
    ...options,
    fetch: async (input, init) => {
      received.push(new Request(input, init));
      return answer();
    },
  });
  const response = await engine.handle(new Request('https://api.test/v1/things?x=1', { headers }), { peer: { address: '198.51.100.4' } }, forward);
  return { request: received[0]!, response };
}

describe('forwardTo drops what the client says about itself', () => {
  it.each([
    ['forwarded', 'for=203.0.113.1;proto=https'],
    ['x-forwarded-user', 'admin'],
    ['x-forwarded-email', 'admin@example.com'],
    ['x-forwarded-prefix', '/admin'],
    ['x-forwarded-server', 'internal'],
    ['x-real-ip', '203.0.113.1'],
    ['true-client-ip', '203.0.113.1'],
    ['cf-connecting-ip', '203.0.113.1'],
    ['x-client-ip', '203.0.113.1'],
    ['x-portcullis-identity', 'forged'],
    ['x-user-id', 'u_admin'],
    ['x-remote-user', 'admin'],
    ['remote-user', 'admin'],
    ['x-authenticated-user', 'admin'],
    ['x-auth-request-user', 'admin'],
    ['x-auth-request-email', 'admin@example.com'],
    ['x-original-url', '/admin'],
    ['x-rewrite-url', '/admin'],
  ])('%s', async (name, value) => {
    const request = await forwarded({ [name]: value });
    expect(request.headers.has(name)).toBe(false);
  });

  it('and sets its own X-Forwarded-For, -Proto, -Host and X-Request-Id', async () => {
    const request = await forwarded({ 'x-forwarded-for': '203.0.113.1', 'x-forwarded-proto': 'http', 'x-forwarded-host': 'evil.test', 'x-request-id': 'mine' });
    expect(Object.fromEntries(['x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'x-request-id'].map((name) => [name, request.headers.get(name)]))).toEqual({
      'x-forwarded-for': '198.51.100.4',
      'x-forwarded-proto': 'https',
      'x-forwarded-host': 'api.test',
      'x-request-id': 'req-1',
    });
    expect(request.url).toBe('http://origin.test/v1/things?x=1');
  });

  it('and the headers named in stripHeaders, in any case, even allowed ones', async () => {
    const request = await forwarded({ 'x-tenant-id': 't_other', referer: 'https://app.test/secret-page', accept: 'application/json' }, {
      forwardHeaders: ['x-tenant-id'],
      stripHeaders: ['X-Tenant-Id', 'Referer'],
    });
    expect([request.headers.has('x-tenant-id'), request.headers.has('referer'), request.headers.get('accept')]).toEqual([false, false, 'application/json']);
  });

  it('while the configured headers (a shared secret) replace inbound ones', async () => {
    const request = await forwarded({ 'x-gateway-secret': 'guess' }, { headers: { 'x-gateway-secret': 's3cret' } });
    expect(request.headers.get('x-gateway-secret')).toBe('s3cret');
  });
});

describe('forwardTo says nothing of an origin error', () => {
  const leaky = (status: number, headers: Record<string, string> = {}) => () =>
    new Response('Error: connect ECONNREFUSED postgres://app:hunter2@db:5432\n    at Pool.connect', { status, headers: { 'content-type': 'text/plain', ...headers } });

  it.each([
    [500, 500, 'internal.error'],
    [502, 502, 'origin.unavailable'],
    [503, 502, 'origin.unavailable'],
    [504, 502, 'origin.unavailable'],
  ])('an origin %i becomes a %i %s problem', async (status, expected, code) => {
    const { response } = await exchange({}, {}, leaky(status, { 'retry-after': '30' }));
    expect(response.status).toBe(expected);
    expect(response.headers.get('content-type')).toBe('application/problem+json');
    expect(response.headers.get('retry-after')).toBe('30');
    expect(await response.json()).toEqual({ type: `https://portcullis.dev/problems/${code}`, title: expect.any(String), status: expected, code, requestId: 'req-1' });
  });

  it.each([
    ['delay-seconds', '120', '120'],
    ['an IMF-fixdate', 'Wed, 21 Oct 2026 07:28:00 GMT', 'Wed, 21 Oct 2026 07:28:00 GMT'],
    ['a list with markup', '5, <script>alert(1)</script>', null],
    ['a negative delay', '-1', null],
    ['a fraction', '1.5', null],
    ['an obsolete date form', 'Wednesday, 21-Oct-26 07:28:00 GMT', null],
    ['a date that is not one', 'Wed, 99 Oct 2026 99:28:00 GMT', null],
    ['a date with something after it', 'Wed, 21 Oct 2026 07:28:00 GMT, 5', null],
  ])("keeps a masked 503's Retry-After only when it is one: %s", async (_, sent, expected) => {
    const { response } = await exchange({}, {}, leaky(503, { 'retry-after': sent }));
    expect([response.status, response.headers.get('retry-after')]).toEqual([502, expected]);
  });

  it("relays it as it is with originErrors: 'pass'", async () => {
    const { response } = await exchange({}, { originErrors: 'pass' }, leaky(500));
    expect([response.status, await response.text()]).toEqual([500, expect.stringContaining('ECONNREFUSED')]);
  });

  it('relays a 4xx as it is: the origin\'s own answer to the request', async () => {
    const { response } = await exchange({}, {}, () => Response.json({ error: 'no such thing' }, { status: 404 }));
    expect([response.status, await response.json()]).toEqual([404, { error: 'no such thing' }]);
  });
});

describe('forwardTo with a transport: the rules stay in the core, whatever carries the bytes', () => {
  /** A gateway whose transport records the request and answers `answer`. */
  async function through(answer: OriginAnswer, headers: Record<string, string> = {}) {
    const sent: { target: URL; request: OriginRequest }[] = [];
    const transport: ForwardTransport = async (target, request) => {
      sent.push({ target, request });
      return answer;
    };
    const engine = createEngine(definePolicy({ routes: { 'GET /v1/things': { authn: 'anonymous' } } }), { now: () => NOW_MS, randomId: () => 'req-1', log: () => {} });
    const request = new Request('https://api.test/v1/things?x=1', { headers });
    const response = await engine.handle(request, { peer: { address: '198.51.100.4' } }, forwardTo('http://origin.test', { transport, log: () => {} }));
    return { response, sent: sent[0] };
  }

  it('hands the transport the checked target and only the headers the origin may hear', async () => {
    const { sent } = await through({ status: 200, headers: new Headers(), body: null }, { 'x-remote-user': 'admin', accept: 'application/json', 'x-forwarded-for': '10.0.0.1' });
    expect(sent!.target.href).toBe('http://origin.test/v1/things?x=1');
    expect(sent!.request.headers.get('x-remote-user')).toBeNull();
    expect(sent!.request.headers.get('accept')).toBe('application/json');
    expect(sent!.request.headers.get('x-forwarded-for')).toBe('198.51.100.4');
    expect(sent!.request.body).toBeNull();
  });

  it("masks the transport's 5xx and refuses a Location to another host", async () => {
    const failed = await through({ status: 500, headers: new Headers({ 'content-type': 'text/plain' }), body: new TextEncoder().encode('at db.connect (postgres://u:p@10.0.0.5)') });
    expect([failed.response.status, (await failed.response.json()).code]).toEqual([500, 'internal.error']);
    const redirected = await through({ status: 302, headers: new Headers({ location: 'http://169.254.169.254/latest' }), body: null });
    expect([redirected.response.status, (await redirected.response.json()).code]).toEqual([502, 'origin.redirect_refused']);
  });

  it('drops hop-by-hop headers of the answer and passes the body (bytes or stream)', async () => {
    const headers = new Headers({ connection: 'X-Internal, close', 'x-internal': '1', 'keep-alive': 'timeout=5', 'transfer-encoding': 'chunked', 'content-type': 'text/plain', etag: '"v1"' });
    headers.append('set-cookie', 'a=1');
    headers.append('set-cookie', 'b=2');
    const { response } = await through({ status: 200, headers, body: new TextEncoder().encode('hello') });
    for (const name of ['connection', 'x-internal', 'keep-alive', 'transfer-encoding']) expect(response.headers.has(name), name).toBe(false);
    // The end-to-end ones pass, each Set-Cookie line on its own.
    expect([response.headers.get('content-type'), response.headers.get('etag'), response.headers.getSetCookie()]).toEqual(['text/plain', '"v1"', ['a=1', 'b=2']]);
    expect(await response.text()).toBe('hello');
  });

  it('takes fetch or transport, not both', () => {
    expect(() => forwardTo('http://origin.test', { fetch: globalThis.fetch, transport: async () => ({ status: 200, headers: new Headers(), body: null }) })).toThrow(/fetch or transport, not both/);
  });
});
