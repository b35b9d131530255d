import { describe, expect, it, test } from 'vitest';
import type { AuthnMethod } from '../stages/authn.ts';
import { PolicyError } from '../errors.ts';
import { definePolicy } from './define.ts';
import type { Policy } from './types.ts';

const user: AuthnMethod = { kind: 'test', challenge: 'Bearer', authenticate: async () => ({ kind: 'absent' }) };
const health = { 'GET /v1/health': { authn: 'anonymous' } } as const;

/** The PolicyError that `definePolicy` throws for a policy (the test fails if it accepts it). */
function rejection(policy: unknown): PolicyError {
  try {
    definePolicy(policy as Policy);
  } catch (error) {
    if (error instanceof PolicyError) return error;
    throw error;
  }
  return expect.unreachable('definePolicy accepted the policy');
}

/** Asserts that the policy fails with a PolicyError whose `path` and message name `path`. */
function expectInvalidAt(policy: unknown, path: string) {
  const error = rejection(policy);
  expect(error.code).toBe('ERR_POLICY_INVALID');
  expect(error.path).toBe(path);
  expect(error.message).toContain(`${path}: `);
  return error;
}

describe('definePolicy', () => {
  it('returns a valid policy unchanged', () => {
    const policy = {
      clientIp: { trustedProxies: ['loopback', '10.0.0.0/8', '2001:db8::/32', 'cloudflare'], header: 'x-forwarded-for' },
      transport: { requireHttps: true, allowLoopbackHttp: false, hsts: { maxAge: 31536000, includeSubDomains: true, preload: true } },
      authn: { user },
      cors: {
        origins: ['https://app.example.com', 'http://localhost:5173'],
        credentials: true,
        maxAge: 86400,
        allowHeaders: ['authorization', 'content-type', 'x-api-key'],
        exposeHeaders: ['x-request-id'],
      },
      headers: { contentSecurityPolicy: "default-src 'none'", frameOptions: 'SAMEORIGIN', referrerPolicy: false },
      versions: { '/v0': { deprecation: '2026-01-01', sunset: '2027-01-31T00:00:00Z', link: 'https://docs.example.com/v1' } },
      routing: { headFromGet: true, maxPathLength: 1024 },
      dev: false,
      routes: {
        ...health,
        'GET /v1/users/:id': { authn: ['user'], allow: 'authenticated', description: 'one user' },
        'GET /v1/users/me': { authn: ['user', 'anonymous'], allow: 'authenticated' },
        'DELETE /v1/users/:id': { authn: ['user'], allow: 'authenticated' },
        'GET /': { authn: 'anonymous' },
      },
    } satisfies Policy;
    const before = JSON.stringify(policy);

    expect(definePolicy(policy)).toBe(policy);
    expect(JSON.stringify(policy)).toBe(before);
  });

  it('throws a PolicyError, a TypeError with a stable code, that lists every problem', () => {
    const error = rejection({ routes: { 'GET /a': { authn: ['a'], allow: 'authenticated' }, 'GET /b': { authn: ['b'], allow: 'authenticated' } } });
    expect(error).toBeInstanceOf(TypeError);
    expect(error.name).toBe('PolicyError');
    expect(error.code).toBe('ERR_POLICY_INVALID');
    expect(error.issues.map((issue) => issue.path)).toEqual(['routes["GET /a"].authn[0]', 'routes["GET /b"].authn[0]']);
  });

  describe('unknown keys', () => {
    test.each([
      ['the top level', { routes: health, debug: true }, 'debug'],
      ['clientIp', { routes: health, clientIp: { trustedProxy: ['loopback'] } }, 'clientIp.trustedProxy'],
      ['transport', { routes: health, transport: { requireHTTPS: true } }, 'transport.requireHTTPS'],
      ['transport.hsts', { routes: health, transport: { hsts: { maxAge: 600, includeSubdomains: true } } }, 'transport.hsts.includeSubdomains'],
      ['cors', { routes: health, cors: { origins: ['https://app.example.com'], credential: true } }, 'cors.credential'],
      ['headers', { routes: health, headers: { xFrameOptions: 'DENY' } }, 'headers.xFrameOptions'],
      ['a version', { routes: health, versions: { '/v0': { sunsetDate: '2027-01-01' } } }, 'versions["/v0"].sunsetDate'],
      ['routing', { routes: health, routing: { caseSensitive: false } }, 'routing.caseSensitive'],
      ['a route', { routes: { 'GET /v1/health': { authn: 'anonymous', roles: ['admin'] } } }, 'routes["GET /v1/health"].roles'],
    ])('refuses an unknown key in %s and names it', (_where, policy, path) => {
      expectInvalidAt(policy, path);
    });
  });

  describe('routes and authentication', () => {
    it('refuses a policy without routes', () => {
      expectInvalidAt({}, 'routes');
    });

    it('refuses a route that does not say which authentication it accepts', () => {
      const error = expectInvalidAt({ routes: { 'GET /v1/users/:id': {} } }, 'routes["GET /v1/users/:id"].authn');
      expect(error.message).toMatch(/required/);
    });

    it('refuses a route with an empty authn list', () => {
      expectInvalidAt({ authn: { user }, routes: { 'GET /v1/users/:id': { authn: [] } } }, 'routes["GET /v1/users/:id"].authn');
    });

    it('refuses a route whose authn names a method that policy.authn does not define', () => {
      const error = expectInvalidAt(
        { authn: { user }, routes: { 'GET /v1/users/:id': { authn: ['usr'], allow: 'authenticated' } } },
        'routes["GET /v1/users/:id"].authn[0]',
      );
      expect(error.message).toContain('"usr"');
    });

    it('names the position of the unknown method in the authn list', () => {
      expectInvalidAt({ authn: { user }, routes: { 'GET /v1/users/:id': { authn: ['user', 'service'], allow: 'authenticated' } } }, 'routes["GET /v1/users/:id"].authn[1]');
    });

    test.each([
      ['a string', { user: 'jwt' }, 'authn.user'],
      ['an object without authenticate()', { user: { kind: 'jwt', challenge: 'Bearer' } }, 'authn.user'],
      ['the reserved name "anonymous"', { anonymous: user }, 'authn.anonymous'],
    ])('refuses an authn method that is %s', (_what, authn, path) => {
      expectInvalidAt({ authn, routes: health }, path);
    });

    test.each([
      ['GET/v1/users'],
      ['get /v1/users'],
      ['FETCH /v1/users'],
      ['GET v1/users'],
      ['GET  /v1/users'],
      ['GET /v1/users/'],
      ['GET /v1//users'],
      ['GET /v1/users/:'],
      ['GET /v1/users/:1d'],
      ['GET /v1/users/:id/:id'],
      ['GET /v1/../admin'],
      ['GET /v1/./users'],
      ['GET /v1/%2e%2e'],
      ['GET /v1/users?id=1'],
      ['GET /v1/users;x'],
    ])('refuses the route pattern %j', (pattern) => {
      expectInvalidAt({ routes: { [pattern]: { authn: 'anonymous' } } }, `routes[${JSON.stringify(pattern)}]`);
    });

    it('refuses two patterns that match the same requests and names the second', () => {
      const error = expectInvalidAt(
        { routes: { 'GET /u/:id': { authn: 'anonymous' }, 'GET /u/:name': { authn: 'anonymous' } } },
        'routes["GET /u/:name"]',
      );
      expect(error.message).toContain('GET /u/:id');
    });

    it('accepts a literal segment beside a param, and one path under several methods', () => {
      const policy = {
        routes: {
          'GET /u/:id': { authn: 'anonymous' },
          'GET /u/me': { authn: 'anonymous' },
          'DELETE /u/:id': { authn: 'anonymous' },
        },
      } satisfies Policy;
      expect(definePolicy(policy)).toBe(policy);
    });
  });

  describe('CORS', () => {
    test.each([
      ['with a trailing slash', 'https://app.example.com/'],
      ['with a path', 'https://app.example.com/app'],
      ['with a query', 'https://app.example.com?x=1'],
      ['with a wildcard subdomain', 'https://*.example.com'],
      ['as a bare wildcard host', '*.example.com'],
      ['"null"', 'null'],
      ['without a scheme', 'app.example.com'],
      ['in upper case', 'HTTPS://APP.EXAMPLE.COM'],
      ['with the default port spelled out', 'https://app.example.com:443'],
      ['with credentials in it', 'https://user@app.example.com'],
      ['with a non-web scheme', 'ftp://app.example.com'],
      ['empty', ''],
    ])('refuses an origin %s (%j)', (_what, origin) => {
      expectInvalidAt({ routes: health, cors: { origins: ['https://ok.example.com', origin] } }, 'cors.origins[1]');
    });

    it('refuses an empty origin list', () => {
      expectInvalidAt({ routes: health, cors: { origins: [] } }, 'cors.origins');
    });

    it('refuses "*" with credentials', () => {
      expectInvalidAt({ routes: health, cors: { origins: ['*'], credentials: true } }, 'cors.credentials');
    });

    it('refuses "*" mixed with other origins', () => {
      expectInvalidAt({ routes: health, cors: { origins: ['*', 'https://app.example.com'] } }, 'cors.origins');
    });

    it('accepts "*" alone without credentials', () => {
      const policy = { routes: health, cors: { origins: ['*'], credentials: false } } satisfies Policy;
      expect(definePolicy(policy)).toBe(policy);
    });

    test.each([
      ['allowHeaders', 'x api key'],
      ['allowHeaders', 'x-api-key:'],
      ['exposeHeaders', 'x-request-id\r\n'],
    ])('refuses a cors.%s entry that is not a header name (%j)', (field, name) => {
      expectInvalidAt({ routes: health, cors: { origins: ['https://app.example.com'], [field]: [name] } }, `cors.${field}[0]`);
    });

    test.each([[-1], [1.5], ['600']])('refuses a maxAge of %j', (maxAge) => {
      expectInvalidAt({ routes: health, cors: { origins: ['https://app.example.com'], maxAge } }, 'cors.maxAge');
    });
  });

  describe('trusted proxies', () => {
    test.each([
      ['10.0.0.1/8'],
      ['10.0.0.0/33'],
      ['256.0.0.1'],
      ['010.0.0.1'],
      ['localhost'],
      ['*'],
      [''],
      ['2001:db8::/129'],
      ['[::1]/128'],
    ])('refuses the entry %j', (entry) => {
      expectInvalidAt({ routes: health, clientIp: { trustedProxies: ['loopback', entry] } }, 'clientIp.trustedProxies[1]');
    });

    it('refuses an unknown forwarding header', () => {
      expectInvalidAt({ routes: health, clientIp: { header: 'x-real-ip' } }, 'clientIp.header');
    });
  });

  describe('versions', () => {
    test.each([
      ['soon'],
      ['31/01/2027'],
      ['2027-13-01'],
      ['2027-02-30'],
      ['2027-01-31T00:00:00'],
      ['Sun, 31 Jan 2027 00:00:00 GMT'],
      [''],
    ])('refuses the date %j', (date) => {
      expectInvalidAt({ routes: health, versions: { '/v0': { sunset: date } } }, 'versions["/v0"].sunset');
    });

    it('refuses a sunset before the deprecation', () => {
      expectInvalidAt({ routes: health, versions: { '/v0': { deprecation: '2027-01-01', sunset: '2026-12-31' } } }, 'versions["/v0"].sunset');
    });

    test.each([
      ['v0', 'versions.v0'],
      ['/v0/', 'versions["/v0/"]'],
      ['/', 'versions["/"]'],
      ['/v0//x', 'versions["/v0//x"]'],
    ])('refuses the version prefix %j', (prefix, path) => {
      expectInvalidAt({ routes: health, versions: { [prefix]: {} } }, path);
    });

    test.each([
      ['that is relative', '/docs/migrate'],
      ['with a line break', 'https://docs.example.com/a\r\nSet-Cookie: a=b'],
      ['that closes the Link target', 'https://docs.example.com/a>; rel="x'],
    ])('refuses a version link %s', (_what, link) => {
      expectInvalidAt({ routes: health, versions: { '/v0': { link } } }, 'versions["/v0"].link');
    });
  });

  describe('transport and headers', () => {
    test.each([
      [{ hsts: { maxAge: -1 } }, 'transport.hsts.maxAge'],
      [{ hsts: { maxAge: 1.5 } }, 'transport.hsts.maxAge'],
      [{ hsts: true }, 'transport.hsts'],
      [{ requireHttps: 'yes' }, 'transport.requireHttps'],
    ])('refuses transport %j', (transport, path) => {
      expectInvalidAt({ routes: health, transport }, path);
    });

    test.each([
      ['contentSecurityPolicy', "default-src 'none'\r\nSet-Cookie: a=b"],
      ['contentSecurityPolicy', 'default-src ’self’'],
      ['referrerPolicy', 'no-referrer\nX-Evil: 1'],
      ['permissionsPolicy', 'camera=()\u0000'],
      ['crossOriginOpenerPolicy', true],
      ['crossOriginResourcePolicy', 42],
      ['frameOptions', 'ALLOW-FROM https://evil.test'],
      ['frameOptions', 'deny'],
    ])('refuses headers.%s = %j', (name, value) => {
      expectInvalidAt({ routes: health, headers: { [name]: value } }, `headers.${name}`);
    });
  });

  it('refuses a maxPathLength that is not a positive integer', () => {
    expectInvalidAt({ routes: health, routing: { maxPathLength: 0 } }, 'routing.maxPathLength');
  });
});
