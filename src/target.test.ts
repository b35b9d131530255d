import { describe, expect, it, test } from 'vitest';
import { createEngine, definePolicy, PolicyError, type Decision, type SecurityEvent } from './index.ts';
import { compileHostAllowlist, parseHost, resolveTarget } from './target.ts';

const FIXED = Date.parse('2026-11-24T12:00:00Z');
const anyone = { authn: 'anonymous' as const };
const signedIn = { kind: 'test', challenge: 'Bearer realm="api"', authenticate: async () => ({ kind: 'success' as const, principal: { id: 'u_alice', roles: ['user'], scopes: [], claims: {} } }) };

describe('parseHost', () => {
  test.each(['api.example.com', 'API.Example.com', 'localhost', '127.0.0.1', '127.0.0.1:8787', '[::1]', '[::1]:8787', '[2001:db8::1]:443', 'svc_internal:80', 'a'])(
    'accepts %s',
    (host) => expect(parseHost(host)).toBe(host.toLowerCase()),
  );
  test.each([
    ['a path', 'x/v1/users/u_bob?a'],
    ['a fragment', 'a#'],
    ['a query', 'a?'],
    ['userinfo', 'alice@127.0.0.1'],
    ['latin1', '\xbd.\xbd'],
    ['two hosts joined', '127.0.0.1, evil.example'],
    ['a port out of range', 'a:65536'],
    ['an empty port', 'a:'],
    ['a port with a leading zero', 'a:080'],
    ['port 0', 'a:0'],
    ['a backslash', 'a\\b'],
    ['an empty label', 'a..b'],
    ['a leading dot', '.a'],
    ['a space', 'a b'],
    ['an IPv6 zone', '[fe80::1%25eth0]'],
    ['nothing', ''],
  ])('refuses %s', (_, host) => expect(parseHost(host)).toBeUndefined());
});

describe('resolveTarget', () => {
  it('takes the path and query from the raw target, not from the URL the runtime built', () => {
    expect(resolveTarget('http://a/v1/users/u_bob?x=1', 'a', '/v1/users/u_alice?y=2')).toEqual({
      ok: true,
      target: { host: 'a', path: '/v1/users/u_alice', search: '?y=2' },
    });
  });

  it('takes them from the URL when there is no raw target', () => {
    expect(resolveTarget('https://api.example.com/v1/x?q', 'api.example.com', undefined)).toEqual({
      ok: true,
      target: { host: 'api.example.com', path: '/v1/x', search: '?q' },
    });
  });

  it.each([
    ['in the URL', 'https://api.example.com/v1/x?q#frag', undefined],
    ['in the raw target', 'https://api.example.com/v1/x', '/v1/x#/../y'],
  ])('refuses a fragment %s: a request target has none', (_, url, raw) => {
    expect(resolveTarget(url, 'api.example.com', raw)).toEqual({ ok: false, reason: 'request.malformed_path' });
  });

  it('refuses a Host that differs from the URL the runtime built (the runtime read another host)', () => {
    expect(resolveTarget('http://a/', 'b', undefined)).toEqual({ ok: false, reason: 'request.malformed_host' });
  });

  it('treats the default port and letter case as the same host', () => {
    expect(resolveTarget('http://api.example.com/', 'API.example.com:80', undefined).ok).toBe(true);
    expect(resolveTarget('https://api.example.com/', 'api.example.com:443', undefined).ok).toBe(true);
    expect(resolveTarget('https://api.example.com/', 'api.example.com:80', undefined).ok).toBe(false);
  });

  it('uses the URL authority when there is no Host header', () => {
    expect(resolveTarget('http://127.0.0.1:8787/x', null, undefined)).toEqual({ ok: true, target: { host: '127.0.0.1:8787', path: '/x', search: '' } });
  });

  it('accepts an absolute-form target for the same host and refuses one for another', () => {
    expect(resolveTarget('http://a/v1/x', 'a', 'http://a/v1/x?q')).toEqual({ ok: true, target: { host: 'a', path: '/v1/x', search: '?q' } });
    expect(resolveTarget('http://evil/v1/x', 'a', 'http://evil/v1/x')).toEqual({ ok: false, reason: 'request.malformed_host' });
    expect(resolveTarget('http://a/', 'a', '*')).toEqual({ ok: false, reason: 'request.malformed_path' });
  });
});

describe('compileHostAllowlist', () => {
  const allowed = compileHostAllowlist(['api.example.com', '127.0.0.1:8787', '*.tenants.example.com', '[::1]:8787']);
  test.each(['api.example.com', 'api.example.com:8443', '127.0.0.1:8787', 'acme.tenants.example.com', '[::1]:8787'])('admits %s', (host) =>
    expect(allowed(host)).toBe(true),
  );
  test.each(['evil.example.com', '127.0.0.1:8788', '127.0.0.1', 'tenants.example.com', 'a.b.tenants.example.com', 'api.example.com.evil', '[::1]'])(
    'refuses %s',
    (host) => expect(allowed(host)).toBe(false),
  );
});

describe('the engine and the target', () => {
  const sink = () => {
    const events: SecurityEvent[] = [];
    return { events, log: (event: SecurityEvent) => void events.push(event) };
  };

  it('answers 421 to a Host the policy does not list, and serves the ones it lists', async () => {
    const engine = createEngine(definePolicy({ hosts: ['api.example.com'], routes: { 'GET /x': anyone } }), { now: () => FIXED, log: () => {} });
    const other = await engine.evaluate(new Request('https://evil.example.com/x'));
    expect(other).toMatchObject({ kind: 'deny', status: 421, reason: 'request.misdirected' });
    expect((await engine.evaluate(new Request('https://api.example.com/x'))).kind).toBe('allow');
  });

  it('refuses a hosts entry that is not a host at definePolicy, naming it', () => {
    expect(() => definePolicy({ hosts: ['https://api.example.com'], routes: {} })).toThrow(PolicyError);
    expect(() => definePolicy({ hosts: ['https://api.example.com'], routes: {} })).toThrow(/hosts\[0\].*"https:\/\/api\.example\.com" is not a host\[:port\]/);
    expect(() => definePolicy({ hosts: [], routes: {} })).toThrow(/hosts: must list at least one host/);
  });

  it('redirects plain HTTP to the host it checked, without the port, keeping the path and query as sent', async () => {
    const engine = createEngine(definePolicy({ hosts: ['api.example.com'], routes: { 'GET /v1/x': anyone } }), { now: () => FIXED, log: () => {} });
    const decision = await engine.evaluate(new Request('http://api.example.com:8080/v1/x?q=%20'), { peer: { address: '203.0.113.9', scheme: 'http' }, rawTarget: '/v1/x?q=%20' });
    expect(decision).toMatchObject({ kind: 'deny', status: 308 });
    expect(decision.headers.get('location')).toBe('https://api.example.com/v1/x?q=%20');
  });

  it('hands the handler the checked target when the runtime built its URL from something else', async () => {
    const engine = createEngine(definePolicy({ transport: { requireHttps: false }, routes: { 'GET /v1/health': anyone } }), { now: () => FIXED, log: () => {} });
    // A runtime whose URL says another path than the request line (as a bad Host once made it).
    const decision = await engine.evaluate(new Request('http://a/v1/users/u_bob?x'), { peer: { address: '127.0.0.1', scheme: 'http' }, rawTarget: '/v1/health' });
    expect(decision.kind === 'allow' && decision.request.url).toBe('http://a/v1/health');
  });

  it('on Workers takes the host from the URL the edge routed by, whatever Host says beside it', async () => {
    const engine = createEngine(definePolicy({ hosts: ['api.example.com'], clientIp: { trustedProxies: ['cloudflare'] }, routes: { 'GET /x': anyone } }), { now: () => FIXED, log: () => {} });
    const edge = { peer: { platform: 'cloudflare' as const } };
    expect((await engine.evaluate(new Request('https://api.example.com/x', { headers: { host: '127.0.0.1:8787' } }), edge)).kind).toBe('allow');
    expect(await engine.evaluate(new Request('https://evil.example.com/x', { headers: { host: 'api.example.com' } }), edge)).toMatchObject({ kind: 'deny', status: 421 });
  });

  it('takes the scheme from the connection, never from an absolute URL the client wrote', async () => {
    const engine = createEngine(definePolicy({ routes: { 'GET /v1/health': anyone } }), { now: () => FIXED, log: () => {} });
    const decision = await engine.evaluate(new Request('https://a/v1/health'), { peer: { address: '203.0.113.9', scheme: 'http' } });
    expect(decision).toMatchObject({ kind: 'deny', status: 308, reason: 'transport.https_redirect' });
  });

  it.each([
    ['a malformed Host', new Request('https://a/x', { headers: { host: 'a#' } }), 'request.malformed_host'],
    ['a malformed path', new Request('https://a/x%2f..'), 'request.malformed_path'],
    ['another host', new Request('https://evil/x'), 'request.misdirected'],
  ])('enforces %s even in report mode, and logs it as a denial', async (_, request, reason) => {
    const { events, log } = sink();
    const engine = createEngine(definePolicy({ mode: 'report', hosts: ['a'], routes: { 'GET /x': anyone } }), { now: () => FIXED, log });
    const decision: Decision = await engine.evaluate(request);
    expect(decision).toMatchObject({ kind: 'deny', reason });
    expect(events).toMatchObject([{ event: 'portcullis.deny', reason }]);
  });

  describe('Cache-Control of allowed answers', () => {
    const engine = createEngine(
      definePolicy({
        authn: { user: signedIn },
        routes: {
          'GET /public': anyone,
          'GET /me': { authn: ['user'], allow: 'authenticated' },
          'GET /avatar': { authn: ['user'], allow: 'authenticated', cacheControl: 'private, max-age=60' },
          'GET /mine': { authn: ['user'], allow: 'authenticated', cacheControl: false },
        },
      }),
      { now: () => FIXED, log: () => {} },
    );
    test.each([
      ['/me', 'no-store'],
      ['/avatar', 'private, max-age=60'],
      ['/mine', null],
      ['/public', null],
    ])('GET %s: %s', async (path, expected) => {
      const decision = await engine.evaluate(new Request(`https://api.example.com${path}`));
      expect(decision.kind).toBe('allow');
      expect(decision.headers.get('cache-control')).toBe(expected);
    });

    it('replaces the handler\'s own Cache-Control on an authenticated route', async () => {
      const response = await engine.handle(new Request('https://api.example.com/me'), {}, () => new Response('hi', { headers: { 'cache-control': 'public, max-age=3600' } }));
      expect(response.headers.get('cache-control')).toBe('no-store');
    });
  });
});
