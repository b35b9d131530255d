import { describe, expect, it, test } from 'vitest';
import { METHODS, normalizePath, parsePattern, RouteTable, type Match, type ParsedPattern } from './router.ts';

/** The parsed pattern (the test fails if it is refused). */
function parsed(pattern: string): ParsedPattern {
  const result = parsePattern(pattern);
  return typeof result === 'string' ? expect.unreachable(`parsePattern refused ${pattern}: ${result}`) : result;
}

/** A table whose routes are their own patterns. */
function table(patterns: string[], headFromGet = false): RouteTable<string> {
  return new RouteTable(
    patterns.map((pattern) => ({ pattern, parsed: parsed(pattern), route: pattern })),
    { headFromGet },
  );
}

/** A match, reduced to the values the spec talks about. */
function outcome(match: Match<string>) {
  return match.kind === 'found' ? { kind: match.kind, route: match.entry.route, params: { ...match.params } } : match;
}

/** Segments of a path, through the real normalizer (the test fails if it is refused). */
function segments(path: string): string[] {
  const result = normalizePath(path, 2048);
  return result.ok ? result.segments : expect.unreachable(`normalizePath refused ${path}: ${result.why}`);
}

describe('parsePattern', () => {
  it('reads literals and params in order', () => {
    expect(parsePattern('GET /v1/users/:id')).toEqual({
      method: 'GET',
      path: '/v1/users/:id',
      segments: [{ literal: 'v1' }, { literal: 'users' }, { param: 'id' }],
      params: ['id'],
    });
  });

  it('reads the root', () => {
    expect(parsePattern('GET /')).toEqual({ method: 'GET', path: '/', segments: [], params: [] });
  });

  it('reads several params in order', () => {
    expect(parsePattern('POST /v1/orgs/:orgId/members/:user_id/x')).toMatchObject({ params: ['orgId', 'user_id'] });
  });

  test.each(METHODS)('accepts the method %s', (method) => {
    expect(parsePattern(`${method} /v1/x`)).toMatchObject({ method });
  });

  test.each([["/v1/a-b.c_d~e!$&'()*+,=@"], ['/v1/...'], ['/.well-known/jwks.json'], ['/v1/:_'], ['/v1/:A1_b']])(
    'accepts the path %s',
    (path) => {
      expect(parsePattern(`GET ${path}`)).toMatchObject({ path });
    },
  );

  const shape = 'a route is "METHOD /path", e.g. "GET /v1/users/:id"';
  const methods = 'GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS';
  test.each([
    ['', shape],
    ['GET', shape],
    ['/v1/users', shape],
    ['GET\t/v1/users', shape],
    ['get /v1/users', `unknown method "get" (one of ${methods})`],
    ['TRACE /v1/users', `unknown method "TRACE" (one of ${methods})`],
    ['CONNECT /v1/users', `unknown method "CONNECT" (one of ${methods})`],
    ['ANY /v1/users', `unknown method "ANY" (one of ${methods})`],
    [' GET /v1/users', `unknown method "" (one of ${methods})`],
    ['GET v1/users', 'the path "v1/users" must start with /'],
    ['GET  /v1/users', 'the path " /v1/users" must start with /'],
    ['GET *', 'the path "*" must start with /'],
    ['GET /v1/:id/x/:id', 'param ":id" appears twice'],
    ['GET /:a/:b/:a', 'param ":a" appears twice'],
    ['GET /v1//users', '"" is not a valid path segment'],
    ['GET /v1/users/', '"" is not a valid path segment'],
    ['GET //', '"" is not a valid path segment'],
    ['GET /v1/../admin', '".." is not a valid path segment'],
    ['GET /v1/./admin', '"." is not a valid path segment'],
    ['GET /v1/a%2fb', '"a%2fb" is not a valid path segment'],
    ['GET /v1/a b', '"a b" is not a valid path segment'],
    ['GET /v1/users ', '"users " is not a valid path segment'],
    ['GET /v1/users?x=1', '"users?x=1" is not a valid path segment'],
    ['GET /v1/users#x', '"users#x" is not a valid path segment'],
    ['GET /v1/a\\b', '"a\\b" is not a valid path segment'],
    ['GET /v1/a;b', '"a;b" is not a valid path segment'],
    ['GET /v1/café', '"café" is not a valid path segment'],
    ['GET /v1/:', '":" is not a valid param name'],
    ['GET /v1/::id', '"::id" is not a valid param name'],
    ['GET /v1/:1id', '":1id" is not a valid param name'],
    ['GET /v1/:id-x', '":id-x" is not a valid param name'],
    ['GET /v1/:id:x', '":id:x" is not a valid param name'],
  ])('refuses %j: %s', (pattern, message) => {
    expect(parsePattern(pattern)).toBe(message);
  });
});

describe('normalizePath', () => {
  describe('accepts', () => {
    test.each([
      ['/', []],
      ['/v1/users', ['v1', 'users']],
      ['/V1/Users', ['V1', 'Users']],
      // Encodings are decoded once.
      ['/v1/users/%75_bob', ['v1', 'users', 'u_bob']],
      ['/v1/users/%75%5F%62%6f%62', ['v1', 'users', 'u_bob']],
      ['/v1/%7E', ['v1', '~']],
      ['/v1/caf%C3%A9', ['v1', 'café']],
      ['/v1/a%20b', ['v1', 'a b']],
      ['/v1/%3F%23', ['v1', '?#']],
      ['/v1/%252e%252e', ['v1', '%2e%2e']],
      // Dots that are not dot segments.
      ['/v1/...', ['v1', '...']],
      ['/.well-known/jwks.json', ['.well-known', 'jwks.json']],
      ['/v1/a.', ['v1', 'a.']],
      ["/v1/a-b.c_d~e!$&'()*+,=@:", ['v1', "a-b.c_d~e!$&'()*+,=@:"]],
      // The query and fragment are not the path.
      ['/v1/users?x=1', ['v1', 'users']],
      ['/v1/users?', ['v1', 'users']],
      ['/v1/users?next=/../..%2f;\\', ['v1', 'users']],
      ['/v1/users#frag', ['v1', 'users']],
      ['/v1/users#/../admin', ['v1', 'users']],
      ['/?x=1', []],
      // Absolute-form targets.
      ['http://api.example.com/v1/x?q', ['v1', 'x']],
      ['https://api.example.com:8443/v1/x', ['v1', 'x']],
      ['HTTP://api.example.com/v1/x', ['v1', 'x']],
      ['http://user@api.example.com/v1/x', ['v1', 'x']],
      ['http://[::1]:8080/v1/x', ['v1', 'x']],
      ['http://api.example.com', []],
      ['http://api.example.com?q=/v1/x', []],
      ['http://api.example.com#/v1/x', []],
    ])('%j as %j', (target, expected) => {
      expect(normalizePath(target, 2048)).toEqual({ ok: true, segments: expected });
    });
  });

  describe('refuses', () => {
    test.each([
      // Encoded separators: one server splits on them, another does not.
      ['/v1/users/a%2fb', 'encoded separator or control character'],
      ['/v1/users/a%2Fb', 'encoded separator or control character'],
      ['/v1/health%2f', 'encoded separator or control character'],
      ['/v1/%2f', 'encoded separator or control character'],
      ['/v1/%5cusers', 'encoded separator or control character'],
      ['/v1/%5Cusers', 'encoded separator or control character'],
      ['/v1/users/%3b', 'encoded separator or control character'],
      ['/v1\\users', 'forbidden character in path'],
      ['/v1/users\\', 'forbidden character in path'],
      // `;` path parameters.
      ['/v1/users/u_bob;x', 'forbidden character in path'],
      ['/v1;x=1/users', 'forbidden character in path'],
      ['/v1/users;', 'forbidden character in path'],
      // Dot segments, raw and encoded.
      ['/.', 'dot segment'],
      ['/..', 'dot segment'],
      ['/v1/./users', 'dot segment'],
      ['/v1/../users', 'dot segment'],
      ['/v1/users/.', 'dot segment'],
      ['/v1/users/..', 'dot segment'],
      ['/v1/%2e/users', 'dot segment'],
      ['/v1/%2E/users', 'dot segment'],
      ['/v1/%2e%2e/users', 'dot segment'],
      ['/v1/%2E%2e/users', 'dot segment'],
      ['/v1/.%2e/users', 'dot segment'],
      ['/v1/%2e./users', 'dot segment'],
      ['/v1/users/%2e%2e', 'dot segment'],
      // Empty segments.
      ['//v1/users', 'empty path segment'],
      ['/v1//users', 'empty path segment'],
      ['/v1/users/', 'empty path segment'],
      ['/v1/users//', 'empty path segment'],
      ['//evil.example.com/v1', 'empty path segment'],
      // Control characters, encoded.
      ['/v1/%00', 'encoded separator or control character'],
      ['/v1/a%00b', 'encoded separator or control character'],
      ['/v1/users%00.json', 'encoded separator or control character'],
      ['/v1/%09', 'encoded separator or control character'],
      ['/v1/%0a', 'encoded separator or control character'],
      ['/v1/%0D%0A', 'encoded separator or control character'],
      ['/v1/%1f', 'encoded separator or control character'],
      ['/v1/%7f', 'encoded separator or control character'],
      ['/v1/%C2%80', 'encoded separator or control character'],
      ['/v1/%C2%85', 'encoded separator or control character'],
      ['/v1/%C2%9F', 'encoded separator or control character'],
      // Raw characters outside printable ASCII.
      ['/v1/a b', 'forbidden character in path'],
      ['/v1/a\tb', 'forbidden character in path'],
      ['/v1/a\u0000b', 'forbidden character in path'],
      ['/v1/a\nb', 'forbidden character in path'],
      ['/v1/\u007f', 'forbidden character in path'],
      ['/v1/café', 'forbidden character in path'],
      ['/v1/\u2215admin', 'forbidden character in path'],
      ['/v1/\uff0fadmin', 'forbidden character in path'],
      // Malformed percent-encoding.
      ['/v1/%zz', 'malformed percent-encoding'],
      ['/v1/%', 'malformed percent-encoding'],
      ['/v1/a%', 'malformed percent-encoding'],
      ['/v1/%2', 'malformed percent-encoding'],
      ['/v1/%C3', 'malformed percent-encoding'],
      ['/v1/%C0%AE', 'malformed percent-encoding'],
      ['/v1/%ED%A0%80', 'malformed percent-encoding'],
      ['/v1/%FF', 'malformed percent-encoding'],
      // Not a path.
      ['', 'path must start with /'],
      ['v1/users', 'path must start with /'],
      ['*', 'path must start with /'],
      ['?x=1', 'path must start with /'],
      ['http:/api.example.com/v1/x', 'path must start with /'],
      ['http:\\\\api.example.com\\v1', 'path must start with /'],
      // Absolute-form targets that URL parsers read with a different path.
      ['http:///v1/health', 'malformed authority'],
      ['http:////v1/health', 'malformed authority'],
      ['http://api.example.com\\..\\admin', 'malformed authority'],
      ['http://api.example.com\\v1/health', 'malformed authority'],
      ['http://api.exa mple.com/v1/x', 'malformed authority'],
      ['http://api.exa\tmple.com/v1/x', 'malformed authority'],
      ['http://api.example.com//v1/x', 'empty path segment'],
      ['http://api.example.com/v1/%2e%2e/admin', 'dot segment'],
    ])('%j (%s)', (target, why) => {
      expect(normalizePath(target, 2048)).toEqual({ ok: false, why });
    });
  });

  test.each([
    ['/abcd', 5, true],
    ['/abcd', 4, false],
    ['/a?xxxx', 7, true],
    ['/a?xxxx', 6, false],
    [`/${'a'.repeat(2047)}`, 2048, true],
    [`/${'a'.repeat(2048)}`, 2048, false],
  ])('measures the whole target against the limit: %j within %i is %s', (target, maxLength, ok) => {
    expect(normalizePath(target, maxLength).ok).toBe(ok);
    if (!ok) expect(normalizePath(target, maxLength)).toEqual({ ok: false, why: 'path too long' });
  });
});

describe('RouteTable', () => {
  const users = table(['GET /v1/users', 'GET /v1/users/:id', 'DELETE /v1/users/:id', 'GET /v1/users/me', 'GET /']);

  test.each([
    ['GET', '/v1/users', { kind: 'found', route: 'GET /v1/users', params: {} }],
    ['GET', '/', { kind: 'found', route: 'GET /', params: {} }],
    ['GET', '/v1/users/u_bob', { kind: 'found', route: 'GET /v1/users/:id', params: { id: 'u_bob' } }],
    ['GET', '/v1/users/%75_b%20ob', { kind: 'found', route: 'GET /v1/users/:id', params: { id: 'u_b ob' } }],
    ['GET', '/v1/users/me', { kind: 'found', route: 'GET /v1/users/me', params: {} }],
    ['GET', '/v1/users/%6de', { kind: 'found', route: 'GET /v1/users/me', params: {} }],
    ['DELETE', '/v1/users/u_bob', { kind: 'found', route: 'DELETE /v1/users/:id', params: { id: 'u_bob' } }],
    // Case-sensitive and exact.
    ['GET', '/V1/Users', { kind: 'not_found' }],
    ['GET', '/v1/USERS', { kind: 'not_found' }],
    ['GET', '/v1/users/me/x', { kind: 'not_found' }],
    ['GET', '/v1', { kind: 'not_found' }],
    ['GET', '/v2/users', { kind: 'not_found' }],
    // A known path with another method.
    ['POST', '/v1/users', { kind: 'method_not_allowed', allow: ['GET'] }],
    ['POST', '/v1/users/u_bob', { kind: 'method_not_allowed', allow: ['DELETE', 'GET'] }],
    ['get', '/v1/users', { kind: 'method_not_allowed', allow: ['GET'] }],
    ['HEAD', '/v1/users', { kind: 'method_not_allowed', allow: ['GET'] }],
  ])('%s %s is %o', (method, path, expected) => {
    expect(outcome(users.match(method, segments(path)))).toEqual(expected);
  });

  it('does not match a trailing empty segment', () => {
    expect(users.match('GET', ['v1', 'users', ''])).toEqual({ kind: 'not_found' });
  });

  it('answers not_found at the root when no route is /', () => {
    expect(table(['GET /v1/users']).match('GET', [])).toEqual({ kind: 'not_found' });
  });

  it('answers not_found from an empty table', () => {
    expect(table([]).match('GET', ['v1'])).toEqual({ kind: 'not_found' });
  });

  it('lets a literal segment win over a param whatever the order of definition', () => {
    const reversed = table(['GET /v1/users/:id', 'GET /v1/users/me']);
    expect(outcome(reversed.match('GET', ['v1', 'users', 'me']))).toEqual({ kind: 'found', route: 'GET /v1/users/me', params: {} });
  });

  it('falls back to a param when the literal branch leads nowhere', () => {
    const routes = table(['GET /v1/users/me/settings', 'GET /v1/users/:id/posts']);
    expect(outcome(routes.match('GET', ['v1', 'users', 'me', 'posts']))).toEqual({
      kind: 'found',
      route: 'GET /v1/users/:id/posts',
      params: { id: 'me' },
    });
  });

  it('picks, per method, the most specific route that has the method', () => {
    const routes = table(['GET /v1/users/me', 'DELETE /v1/users/:id']);
    expect(outcome(routes.match('DELETE', ['v1', 'users', 'me']))).toEqual({
      kind: 'found',
      route: 'DELETE /v1/users/:id',
      params: { id: 'me' },
    });
    expect(outcome(routes.match('GET', ['v1', 'users', 'me']))).toEqual({ kind: 'found', route: 'GET /v1/users/me', params: {} });
    expect(routes.match('POST', ['v1', 'users', 'me'])).toEqual({ kind: 'method_not_allowed', allow: ['DELETE', 'GET'] });
    expect(routes.allowedFor(['v1', 'users', 'me'])).toEqual(['DELETE', 'GET']);
    expect(routes.allowedFor(['v1', 'users', 'bob'])).toEqual(['DELETE']);
  });

  it('names params per route when two methods share a path', () => {
    const routes = table(['GET /v1/users/:id', 'DELETE /v1/users/:userId']);
    expect(outcome(routes.match('DELETE', ['v1', 'users', 'u_bob']))).toMatchObject({ params: { userId: 'u_bob' } });
    expect(outcome(routes.match('GET', ['v1', 'users', 'u_bob']))).toMatchObject({ params: { id: 'u_bob' } });
  });

  it('binds several params in order', () => {
    const routes = table(['GET /v1/orgs/:org/members/:member']);
    expect(outcome(routes.match('GET', ['v1', 'orgs', 'acme', 'members', 'u_bob']))).toMatchObject({
      params: { org: 'acme', member: 'u_bob' },
    });
  });

  it('keeps param values out of the prototype chain', () => {
    const match = table(['GET /v1/x/:__proto__']).match('GET', ['v1', 'x', 'polluted']);
    expect(match.kind).toBe('found');
    if (match.kind !== 'found') return;
    expect(Object.getPrototypeOf(match.params)).toBeNull();
    expect(Object.keys(match.params)).toEqual(['__proto__']);
    expect(match.params['__proto__']).toBe('polluted');
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
  });

  it('lists Allow sorted', () => {
    const routes = table(['PUT /v1/x', 'GET /v1/x', 'OPTIONS /v1/x', 'DELETE /v1/x', 'POST /v1/x', 'PATCH /v1/x']);
    expect(routes.match('TRACE', ['v1', 'x'])).toEqual({
      kind: 'method_not_allowed',
      allow: ['DELETE', 'GET', 'OPTIONS', 'PATCH', 'POST', 'PUT'],
    });
  });

  describe('HEAD', () => {
    test.each([
      [false, 'HEAD', { kind: 'method_not_allowed', allow: ['GET'] }],
      [true, 'HEAD', { kind: 'found', route: 'GET /v1/x', params: {} }],
      [true, 'POST', { kind: 'method_not_allowed', allow: ['GET', 'HEAD'] }],
      [true, 'OPTIONS', { kind: 'method_not_allowed', allow: ['GET', 'HEAD'] }],
    ])('with headFromGet %s, %s on a GET route is %o', (headFromGet, method, expected) => {
      expect(outcome(table(['GET /v1/x'], headFromGet).match(method, ['v1', 'x']))).toEqual(expected);
    });

    it('prefers an explicit HEAD route and lists HEAD once', () => {
      const routes = table(['GET /v1/x', 'HEAD /v1/x'], true);
      expect(outcome(routes.match('HEAD', ['v1', 'x']))).toEqual({ kind: 'found', route: 'HEAD /v1/x', params: {} });
      expect(routes.match('POST', ['v1', 'x'])).toEqual({ kind: 'method_not_allowed', allow: ['GET', 'HEAD'] });
    });

    it('never lets GET match a HEAD route', () => {
      expect(table(['HEAD /v1/x'], true).match('GET', ['v1', 'x'])).toEqual({ kind: 'method_not_allowed', allow: ['HEAD'] });
    });

    it('passes params through to the GET route', () => {
      expect(outcome(table(['GET /v1/users/:id'], true).match('HEAD', ['v1', 'users', 'u_bob']))).toEqual({
        kind: 'found',
        route: 'GET /v1/users/:id',
        params: { id: 'u_bob' },
      });
    });
  });

  describe('allowedFor', () => {
    test.each([
      [false, ['v1', 'users'], ['GET']],
      [true, ['v1', 'users'], ['GET', 'HEAD']],
      [false, ['v1', 'users', 'u_bob'], ['DELETE', 'GET']],
      [true, ['v1', 'users', 'u_bob'], ['DELETE', 'GET', 'HEAD']],
      [false, ['v1', 'users', 'me'], ['DELETE', 'GET']],
      [false, ['v1', 'nope'], undefined],
      [false, ['V1', 'users'], undefined],
      [false, ['v1'], undefined],
    ])('with headFromGet %s lists for %j: %j', (headFromGet, path, expected) => {
      const routes = table(['GET /v1/users', 'GET /v1/users/:id', 'DELETE /v1/users/:id', 'GET /v1/users/me'], headFromGet);
      expect(routes.allowedFor(path)).toEqual(expected);
    });
  });
});
