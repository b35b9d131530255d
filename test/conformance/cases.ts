/**
 * The conformance cases: the same requests and expected responses on every runtime, including
 * attacks (tokens, mass assignment, path spellings, Host tricks, spoofed forwarding headers). They
 * run in order against one fresh server per runtime (the rate-limit cases count on it). Tokens are
 * signed here, at test time, with the fixed key of keys.json; the servers check them against the
 * real clock.
 * @module
 */

import { base64url, importJWK, SignJWT, type JWK, type JWTPayload } from 'jose';
import keys from './keys.json' with { type: 'json' };
import { ALLOWED_ORIGIN, APP_COOKIES, AUDIENCE, ISSUER, PASSWORD } from './policy.ts';
import type { RawRequest } from './runtime.ts';
import { dpopCases } from './cases-dpop.ts';
import { signCases } from './cases-sign.ts';
import { mtlsCases } from './cases-mtls.ts';
import { accessCases } from './cases-access.ts';
import { protectCases } from './cases-protect.ts';
import { httpSignatureCases } from './cases-http-signatures.ts';

export interface Case {
  name: string;
  request: RawRequest;
  expect: {
    /** The status; where runtimes differ, `byRuntime` names each one's. */
    status: number;
    /** Exact value, a pattern, or `null` for "absent". Added to COMMON_HEADERS. */
    headers?: Record<string, string | RegExp | null>;
    /** A subset of the JSON body. */
    json?: object;
    /** The `Set-Cookie` lines, exactly and in order. */
    cookies?: string[];
    /** Strings the body must not contain (secrets of a thrown error). */
    bodyExcludes?: string[];
  };
  /**
   * What a named runtime answers instead. `byServer`: the runtime's own HTTP server refuses the
   * request before the adapter runs, so the policy's headers cannot be on it (and no handler runs).
   */
  byRuntime?: Record<string, Case['expect'] & { byServer?: true }>;
  /**
   * What a named runtime is sent instead: for requests bound to the URL the gateway sees (DPoP's
   * `htu`), which is not the same everywhere (in-process Hono has no server of its own, workerd
   * sees the https URL of the edge).
   */
  requestByRuntime?: Record<string, RawRequest>;
}

/** On every response, denials, preflights and 500s included. */
export const COMMON_HEADERS: Record<string, string | RegExp | null> = {
  'x-content-type-options': 'nosniff',
  'strict-transport-security': 'max-age=31536000; includeSubDomains',
  'content-security-policy': "default-src 'none'; frame-ancestors 'none'",
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'x-request-id': /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/,
  // A CORS policy's answers vary by Origin, errors too, or a cache hands one origin's answer to another.
  vary: /\bOrigin\b/,
  'x-powered-by': null,
};

const PROBLEM = { 'content-type': 'application/problem+json' };

const privateKey = await importJWK(keys.es256.private as JWK, 'ES256');
const impostorKey = await importJWK(keys.impostor as JWK, 'ES256');
const now = Math.floor(Date.now() / 1000);

function sign(claims: JWTPayload, key: CryptoKey | Uint8Array = privateKey as CryptoKey): Promise<string> {
  return new SignJWT({ iss: ISSUER, aud: AUDIENCE, iat: now, exp: now + 600, ...claims })
    .setProtectedHeader({ alg: 'ES256', kid: keys.es256.private.kid, typ: 'JWT' })
    .sign(key);
}

const alice = await sign({ sub: 'u_alice', roles: ['user'] });
const bob = await sign({ sub: 'u_bob', roles: ['admin'] });
const expired = await sign({ sub: 'u_alice', roles: ['user'], iat: now - 7200, exp: now - 3600 });
const wrongIssuer = await sign({ sub: 'u_alice', roles: ['user'], iss: 'https://evil.example.com' });
const impostor = await sign({ sub: 'u_alice', roles: ['admin'] }, impostorKey as CryptoKey);
/** Alice's token with the payload rewritten to make her an admin; the signature is hers. */
const tampered = (() => {
  const [header, , signature] = alice.split('.');
  const payload = base64url.encode(JSON.stringify({ iss: ISSUER, aud: AUDIENCE, iat: now, exp: now + 600, sub: 'u_alice', roles: ['admin'] }));
  return `${header}.${payload}.${signature}`;
})();
/** `alg: none`, no signature. */
const algNone = [
  base64url.encode(JSON.stringify({ alg: 'none', typ: 'JWT' })),
  base64url.encode(JSON.stringify({ iss: ISSUER, aud: AUDIENCE, iat: now, exp: now + 600, sub: 'u_bob', roles: ['admin'] })),
  '',
].join('.');

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const json = (token: string) => ({ ...bearer(token), 'content-type': 'application/json' });
const problem = (code: string, status: number) => ({ type: `https://portcullis.dev/problems/${code}`, code, status });

export const cases: Case[] = [
  // Routing: deny by default.
  {
    name: 'a public route answers, without the headers the application leaks, with its cookies',
    request: { method: 'GET', target: '/v1/health' },
    expect: {
      status: 200,
      json: { principal: 'anonymous', params: {}, body: null },
      // The application's own Vary is kept beside the policy's Origin (COMMON_HEADERS).
      headers: { server: null, 'access-control-allow-origin': null, vary: /Accept-Encoding/ },
      cookies: APP_COOKIES,
    },
  },
  {
    name: 'an unknown path is 404',
    request: { method: 'GET', target: '/v1/admin' },
    expect: { status: 404, headers: PROBLEM, json: problem('route.not_found', 404) },
  },
  {
    name: 'a known path with another method is 405 with Allow',
    request: { method: 'DELETE', target: '/v1/reports', headers: bearer(bob) },
    expect: { status: 405, headers: { ...PROBLEM, allow: 'GET' }, json: problem('route.method_not_allowed', 405) },
  },
  {
    name: 'HEAD is not GET unless the policy says so',
    request: { method: 'HEAD', target: '/v1/health' },
    expect: { status: 405, headers: { allow: 'GET' } },
  },

  // Method override: the method is the request line's.
  {
    name: 'X-HTTP-Method-Override does not turn a POST into a DELETE',
    request: { method: 'POST', target: '/v1/users/u_alice', headers: { ...bearer(alice), 'x-http-method-override': 'DELETE' } },
    expect: { status: 405, headers: { allow: 'DELETE, GET, PATCH' }, json: problem('route.method_not_allowed', 405) },
  },
  {
    name: 'X-HTTP-Method-Override on a GET is ignored: still a GET',
    request: { method: 'GET', target: '/v1/users/u_alice', headers: { ...bearer(alice), 'x-http-method-override': 'DELETE', 'x-method-override': 'DELETE' } },
    expect: { status: 200, json: { principal: 'u_alice', params: { id: 'u_alice' } } },
  },

  // Authentication.
  {
    name: 'no token is 401 with a Bearer challenge',
    request: { method: 'GET', target: '/v1/users/u_alice' },
    expect: { status: 401, headers: { ...PROBLEM, 'www-authenticate': /^Bearer realm="api"/ }, json: problem('authn.required', 401) },
  },
  {
    name: 'a valid token is admitted, and the handler gets the principal and params',
    request: { method: 'GET', target: '/v1/users/u_alice', headers: bearer(alice) },
    expect: { status: 200, json: { principal: 'u_alice', params: { id: 'u_alice' }, body: null }, headers: { server: null } },
  },
  {
    name: 'an expired token is 401 authn.token_expired',
    request: { method: 'GET', target: '/v1/users/u_alice', headers: bearer(expired) },
    expect: { status: 401, headers: { 'www-authenticate': /error="invalid_token"/ }, json: problem('authn.token_expired', 401) },
  },
  {
    name: 'a tampered token (payload rewritten to admin) is 401',
    request: { method: 'GET', target: '/v1/users/u_bob', headers: bearer(tampered) },
    expect: { status: 401, json: problem('authn.bad_signature', 401) },
  },
  {
    name: 'an alg:none token is 401',
    request: { method: 'GET', target: '/v1/users/u_bob', headers: bearer(algNone) },
    expect: { status: 401, headers: { 'www-authenticate': /error="invalid_token"/ } },
  },
  {
    name: 'a token signed by another key with the same kid is 401',
    request: { method: 'GET', target: '/v1/users/u_bob', headers: bearer(impostor) },
    expect: { status: 401, json: problem('authn.bad_signature', 401) },
  },
  {
    name: 'a token from another issuer is 401',
    request: { method: 'GET', target: '/v1/users/u_alice', headers: bearer(wrongIssuer) },
    expect: { status: 401, json: problem('authn.wrong_issuer', 401) },
  },
  {
    name: 'the API key authenticates the service',
    request: { method: 'GET', target: '/v1/reports', headers: { 'x-api-key': keys.apiKey.key } },
    expect: { status: 200, json: { principal: 'svc_reports' } },
  },
  {
    name: 'an unknown API key is 401',
    request: { method: 'GET', target: '/v1/reports', headers: { 'x-api-key': 'pk_conformance_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' } },
    expect: { status: 401, json: problem('authn.key_unknown', 401) },
  },

  // Authorization.
  {
    name: 'BOLA: alice cannot read bob',
    request: { method: 'GET', target: '/v1/users/u_bob', headers: bearer(alice) },
    expect: { status: 403, headers: PROBLEM, json: problem('authz.denied', 403) },
  },
  {
    name: 'an admin reads anyone',
    request: { method: 'GET', target: '/v1/users/u_alice', headers: bearer(bob) },
    expect: { status: 200, json: { principal: 'u_bob', params: { id: 'u_alice' } } },
  },
  {
    name: 'only admins delete, owners included',
    request: { method: 'DELETE', target: '/v1/users/u_alice', headers: bearer(alice) },
    expect: { status: 403, json: problem('authz.denied', 403) },
  },
  {
    name: 'a user without the scope or the role cannot read reports',
    request: { method: 'GET', target: '/v1/reports', headers: bearer(alice) },
    expect: { status: 403, json: problem('authz.denied', 403) },
  },

  // Input validation: the handler gets the body the policy checked.
  {
    name: 'a valid body reaches the handler, read once by the policy and again by the handler',
    request: { method: 'PATCH', target: '/v1/users/u_alice', headers: json(alice), body: JSON.stringify({ name: 'Alice', email: 'alice@example.com' }) },
    expect: { status: 200, json: { principal: 'u_alice', params: { id: 'u_alice' }, body: { name: 'Alice', email: 'alice@example.com' } } },
  },
  {
    name: 'mass assignment: an undeclared field is 422',
    request: { method: 'PATCH', target: '/v1/users/u_alice', headers: json(alice), body: JSON.stringify({ name: 'Alice', role: 'admin' }) },
    expect: { status: 422, headers: PROBLEM, json: { ...problem('validate.invalid', 422), errors: [{ in: 'body', pointer: '/role' }] } },
  },
  {
    name: 'a body over the limit is 413',
    request: { method: 'PATCH', target: '/v1/users/u_alice', headers: json(alice), body: JSON.stringify({ name: 'A'.repeat(2000) }) },
    expect: { status: 413, json: problem('validate.body_too_large', 413) },
  },
  {
    name: 'a body of another media type is 415',
    request: { method: 'PATCH', target: '/v1/users/u_alice', headers: { ...bearer(alice), 'content-type': 'text/plain' }, body: 'name=Alice' },
    expect: { status: 415, json: problem('validate.unsupported_media_type', 415) },
  },
  {
    // The policy checks the bytes as they are; an origin that honours Content-Encoding would decode
    // them into another body than the one checked (and the forwarded body is re-serialized JSON).
    name: 'a body in a content coding is 415: the policy checked it as it was sent',
    request: { method: 'PATCH', target: '/v1/users/u_alice', headers: { ...json(alice), 'content-encoding': 'gzip' }, body: JSON.stringify({ name: 'Alice' }) },
    expect: { status: 415, json: problem('validate.unsupported_media_type', 415) },
  },
  {
    name: 'malformed JSON is 400',
    request: { method: 'PATCH', target: '/v1/users/u_alice', headers: json(alice), body: '{"name": "Alice"' },
    expect: { status: 400, json: problem('validate.malformed_body', 400) },
  },
  {
    name: 'a __proto__ key is 400',
    request: { method: 'PATCH', target: '/v1/users/u_alice', headers: json(alice), body: '{"name": "Alice", "__proto__": {"isAdmin": true}}' },
    expect: { status: 400, json: problem('validate.forbidden_key', 400) },
  },
  {
    name: 'a body on a route that takes none is 415',
    request: { method: 'DELETE', target: '/v1/users/u_alice', headers: json(bob), body: '{"cascade": true}' },
    expect: { status: 415, json: problem('validate.unsupported_media_type', 415) },
  },

  // CORS.
  {
    name: 'a preflight from the allowed origin is answered before authentication',
    request: {
      method: 'OPTIONS',
      target: '/v1/users/u_alice',
      headers: { origin: ALLOWED_ORIGIN, 'access-control-request-method': 'PATCH', 'access-control-request-headers': 'authorization, content-type' },
    },
    expect: {
      status: 204,
      headers: {
        'access-control-allow-origin': ALLOWED_ORIGIN,
        'access-control-allow-credentials': 'true',
        'access-control-allow-methods': /\bPATCH\b/,
        'access-control-allow-headers': /authorization/,
        'access-control-max-age': '600',
        vary: /Access-Control-Request-Method/,
      },
    },
  },
  {
    name: 'a preflight from a look-alike origin is 403 without CORS headers',
    request: { method: 'OPTIONS', target: '/v1/users/u_alice', headers: { origin: 'https://app.example.com.evil.example', 'access-control-request-method': 'GET' } },
    expect: { status: 403, headers: { 'access-control-allow-origin': null, 'access-control-allow-credentials': null }, json: problem('cors.origin_denied', 403) },
  },
  {
    name: 'a preflight from the null origin is 403',
    request: { method: 'OPTIONS', target: '/v1/users/u_alice', headers: { origin: 'null', 'access-control-request-method': 'GET' } },
    expect: { status: 403, headers: { 'access-control-allow-origin': null }, json: problem('cors.origin_denied', 403) },
  },
  {
    name: 'a preflight for a method the path does not have is 403',
    request: { method: 'OPTIONS', target: '/v1/users/u_alice', headers: { origin: ALLOWED_ORIGIN, 'access-control-request-method': 'PUT' } },
    expect: { status: 403, headers: { 'access-control-allow-origin': null }, json: problem('cors.method_denied', 403) },
  },
  {
    name: 'the allowed origin gets its exact origin back, not the application\'s *',
    request: { method: 'GET', target: '/v1/users/u_alice', headers: { ...bearer(alice), origin: ALLOWED_ORIGIN } },
    expect: { status: 200, headers: { 'access-control-allow-origin': ALLOWED_ORIGIN, 'access-control-allow-credentials': 'true' } },
  },
  {
    name: 'a look-alike origin gets no CORS headers (the application\'s * is stripped)',
    request: { method: 'GET', target: '/v1/users/u_alice', headers: { ...bearer(alice), origin: 'https://evil-app.example.com' } },
    expect: { status: 200, headers: { 'access-control-allow-origin': null, 'access-control-allow-credentials': null } },
  },
  {
    name: 'the null origin gets no CORS headers',
    request: { method: 'GET', target: '/v1/health', headers: { origin: 'null' } },
    expect: { status: 200, headers: { 'access-control-allow-origin': null } },
  },
  {
    name: 'the allowed host over plain http is another origin',
    request: { method: 'GET', target: '/v1/health', headers: { origin: 'http://app.example.com' } },
    expect: { status: 200, headers: { 'access-control-allow-origin': null } },
  },

  // Ambiguous paths. Where the engine gets the raw target (Node, Deno) it refuses them with 400;
  // where the runtime's URL parser resolved them first (Bun, Hono, workerd), the engine and the
  // handler both see the resolved path, and the answer is the one of that path. Never a 200.
  {
    name: 'dot-dot segments encoded as %2e%2e',
    request: { method: 'GET', target: '/v1/health/%2e%2e/%2e%2e/admin' },
    expect: { status: 404, json: problem('route.not_found', 404) },
    byRuntime: {
      node: { status: 400, json: problem('request.malformed_path', 400) },
      deno: { status: 400, json: problem('request.malformed_path', 400) },
    },
  },
  {
    name: 'dot-dot segments from a public prefix into a protected route',
    request: { method: 'GET', target: '/v1/health/../users/u_bob' },
    expect: { status: 401, json: problem('authn.required', 401) },
    byRuntime: {
      node: { status: 400, json: problem('request.malformed_path', 400) },
      deno: { status: 400, json: problem('request.malformed_path', 400) },
    },
  },
  {
    name: 'an encoded slash',
    request: { method: 'GET', target: '/v1/users/u_alice%2f..%2fu_bob', headers: bearer(alice) },
    expect: { status: 400, json: problem('request.malformed_path', 400) },
  },
  {
    name: 'an encoded backslash',
    request: { method: 'GET', target: '/v1/users/u_alice%5c..%5cu_bob', headers: bearer(alice) },
    expect: { status: 400, json: problem('request.malformed_path', 400) },
  },
  {
    name: 'a double slash',
    request: { method: 'GET', target: '/v1//users/u_alice', headers: bearer(alice) },
    expect: { status: 400, json: problem('request.malformed_path', 400) },
  },
  {
    name: 'a ;parameter in a segment',
    request: { method: 'GET', target: '/v1/users/u_alice;role=admin', headers: bearer(alice) },
    expect: { status: 400, json: problem('request.malformed_path', 400) },
  },
  {
    name: 'backslashes as separators',
    request: { method: 'GET', target: '/v1/health\\..\\..\\admin' },
    expect: { status: 404, json: problem('route.not_found', 404) },
    // On Node, @hono/node-server cannot build a Request from a backslash target: the adapter's
    // fallback answers request.malformed.
    byRuntime: {
      node: { status: 400, json: problem('request.malformed', 400) },
      'hono on node': { status: 400, json: problem('request.malformed', 400) },
      deno: { status: 400, json: problem('request.malformed_path', 400) },
    },
  },
  {
    name: 'an encoded NUL',
    request: { method: 'GET', target: '/v1/users/u_alice%00', headers: bearer(alice) },
    expect: { status: 400, json: problem('request.malformed_path', 400) },
  },

  // Host and target confusion: runtimes build request.url from Host, so a Host that is not one
  // plain host[:port] would move the path the handler serves away from the one the policy checked.
  // Where a runtime's server refuses such a Host itself, the request never reaches the policy:
  // @hono/node-server cannot build the Request (its error handler answers the policy's
  // `request.malformed`), Deno refuses a second Host, and workerd answers 500 where Cloudflare's
  // edge would not route the request to a Worker at all.
  {
    name: 'the handler is asked for exactly the path and query the policy checked',
    request: { method: 'GET', target: '/v1/users/u_alice?view=full', headers: bearer(alice) },
    expect: { status: 200, json: { principal: 'u_alice', params: { id: 'u_alice' }, target: '/v1/users/u_alice?view=full' } },
  },
  {
    name: 'a Host carrying a path and query is 400, not bob\'s record',
    request: { method: 'GET', target: '/v1/health', headers: ['host', 'x/v1/users/u_bob?a'] },
    expect: { status: 400, json: problem('request.malformed_host', 400) },
    byRuntime: { 'hono on node': { status: 400, json: problem('request.malformed', 400) }, workerd: { status: 500, byServer: true } },
  },
  {
    name: 'a Host in latin1 that IDNA would turn into a longer name is 400',
    request: { method: 'GET', target: '/v1/health', headers: ['host', '\xbd.\xbd/v1/users/u_bob?ab'] },
    expect: { status: 400, json: problem('request.malformed_host', 400) },
    byRuntime: { workerd: { status: 500, byServer: true } },
  },
  {
    name: 'a Host ending in # is 400, not the root',
    request: { method: 'GET', target: '/v1/users/u_bob', headers: ['host', 'a#'] },
    expect: { status: 400, json: problem('request.malformed_host', 400) },
    byRuntime: { 'hono on node': { status: 400, json: problem('request.malformed', 400) }, workerd: { status: 500, byServer: true } },
  },
  {
    name: 'a Host ending in ? is 400',
    request: { method: 'GET', target: '/v1/users/u_bob', headers: ['host', 'a?'] },
    expect: { status: 400, json: problem('request.malformed_host', 400) },
    byRuntime: { 'hono on node': { status: 400, json: problem('request.malformed', 400) }, workerd: { status: 500, byServer: true } },
  },
  {
    name: 'a Host with userinfo is 400',
    request: { method: 'GET', target: '/v1/health', headers: ['host', 'alice@127.0.0.1'] },
    expect: { status: 400, json: problem('request.malformed_host', 400) },
    byRuntime: { 'hono on node': { status: 400, json: problem('request.malformed', 400) }, workerd: { status: 500, byServer: true } },
  },
  {
    // URL parsers read `:080` as port 80 and drop it, so the runtime's URL and the Host would name
    // the port differently (Deno keeps the Host's spelling, the others normalize it).
    name: 'a Host port with a leading zero is 400',
    request: { method: 'GET', target: '/v1/health', headers: ['host', '127.0.0.1:080'] },
    expect: { status: 400, json: problem('request.malformed_host', 400) },
    // Cloudflare's edge (miniflare's upstream here) names the zone's host to the Worker itself.
    byRuntime: { workerd: { status: 200 } },
  },
  {
    name: 'a Host on port 0 is 400',
    request: { method: 'GET', target: '/v1/health', headers: ['host', '127.0.0.1:0'] },
    expect: { status: 400, json: problem('request.malformed_host', 400) },
    // Cloudflare's edge (miniflare's upstream here) names the zone's host to the Worker itself.
    byRuntime: { workerd: { status: 200 } },
  },
  {
    // RFC 9112 §3.2: an HTTP/1.1 request without Host is a 400. Bun's server, workerd and node:http
    // (under Hono's node-server) refuse it themselves; Deno and the in-process Hono runner take the
    // server's own address as the host.
    name: 'an HTTP/1.1 request without Host is 400',
    request: { method: 'GET', target: '/v1/health', headers: [] },
    expect: { status: 400, json: problem('request.malformed_host', 400) },
    byRuntime: {
      bun: { status: 400, byServer: true },
      'hono on bun': { status: 400, byServer: true },
      'hono on node': { status: 400, byServer: true },
      deno: { status: 200 },
      hono: { status: 200 },
      workerd: { status: 400, byServer: true },
    },
  },
  {
    name: 'two Host headers are 400',
    request: { method: 'GET', target: '/v1/health', headers: ['host', '127.0.0.1', 'host', 'evil.example'] },
    expect: { status: 400, json: problem('request.malformed_host', 400) },
    byRuntime: { deno: { status: 400, byServer: true }, workerd: { status: 500, byServer: true } },
  },
  {
    name: 'an absolute-form https target on a plain-HTTP socket is still plain HTTP to the handler',
    request: { method: 'GET', target: 'https://127.0.0.1/v1/health?x=1', headers: ['host', '127.0.0.1'] },
    expect: { status: 200, json: { target: '/v1/health?x=1', scheme: 'http:' } },
    byRuntime: { workerd: { status: 500, byServer: true } },
  },
  {
    name: 'an absolute-form target for another host than Host is 400',
    request: { method: 'GET', target: 'http://evil.example/v1/users/u_bob', headers: ['host', '127.0.0.1'] },
    expect: { status: 400, json: problem('request.malformed_host', 400) },
    // Bun reads the path of an absolute-form target and the host of Host: the request is one for
    // 127.0.0.1, checked and served as such.
    byRuntime: {
      bun: { status: 401, json: problem('authn.required', 401) },
      'hono on bun': { status: 401, json: problem('authn.required', 401) },
      workerd: { status: 500, byServer: true },
    },
  },
  {
    // A request target has no fragment (RFC 9112 §3.2). Bun and Deno keep one in request.url, and
    // Hono routes the path with it (`/v1/health#/../users/u_bob` is not the path the policy checked).
    name: 'a fragment in the request target is 400',
    request: { method: 'GET', target: '/v1/health#/../users/u_bob' },
    expect: { status: 400, json: problem('request.malformed_path', 400) },
    // workerd reads `#` as a path character and resolves the dot segments: the Worker is asked for
    // /v1/users/u_bob, checks that, and forwards that.
    byRuntime: { workerd: { status: 401, json: problem('authn.required', 401) } },
  },
  {
    name: 'a scheme-relative target is 400 and reaches no other host',
    request: { method: 'GET', target: '//127.0.0.1:9/steal' },
    expect: { status: 400, json: problem('request.malformed_path', 400) },
  },

  // Versioning.
  {
    name: 'a deprecated version answers with Deprecation, Sunset and Link',
    request: { method: 'GET', target: '/v0/users/u_alice', headers: bearer(alice) },
    expect: {
      status: 200,
      headers: { deprecation: '@1767225600', sunset: 'Thu, 01 Jan 2099 00:00:00 GMT', link: '<https://docs.example.com/migrate-to-v1>; rel="deprecation"' },
      json: { principal: 'u_alice' },
    },
  },
  {
    name: 'a version past its sunset is 410',
    request: { method: 'GET', target: '/legacy/ping' },
    expect: { status: 410, json: problem('version.sunset', 410) },
  },

  // Errors say nothing.
  {
    name: 'a handler that throws is a 500 problem without the error message',
    request: { method: 'GET', target: '/v1/boom' },
    expect: { status: 500, headers: PROBLEM, json: problem('internal.error', 500), bodyExcludes: ['kaboom', 'hunter2'] },
  },

  // Rate limits: two per minute per client address, then 429 with Retry-After.
  {
    name: 'rate limit: first request',
    request: { method: 'GET', target: '/v1/limited' },
    expect: { status: 200, headers: { ratelimit: /^"burst";r=1;t=\d+$/, 'ratelimit-policy': /^"burst";q=2;w=60/ } },
  },
  {
    name: 'rate limit: second request',
    request: { method: 'GET', target: '/v1/limited' },
    expect: { status: 200, headers: { ratelimit: /^"burst";r=0;t=\d+$/ } },
  },
  {
    name: 'rate limit: third request is 429 with Retry-After',
    request: { method: 'GET', target: '/v1/limited' },
    expect: { status: 429, headers: { ...PROBLEM, 'retry-after': /^\d+$/ }, json: problem('ratelimit.exceeded', 429) },
  },
  {
    name: 'rate limit: a spoofed X-Forwarded-For from an untrusted peer is not a new client',
    request: { method: 'GET', target: '/v1/limited', headers: { 'x-forwarded-for': '203.0.113.99', forwarded: 'for=203.0.113.99' } },
    expect: { status: 429, headers: { 'retry-after': /^\d+$/ } },
  },

  // Failures-only bucket: the adapter must settle with the final status, or wrong passwords cost nothing.
  {
    name: 'login: a right password costs nothing',
    request: { method: 'POST', target: '/v1/login', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'alice', password: PASSWORD }) },
    expect: { status: 200, json: { ok: true } },
  },
  {
    name: 'login: first wrong password',
    request: { method: 'POST', target: '/v1/login', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'alice', password: 'guess 1' }) },
    expect: { status: 401, json: { ok: false } },
  },
  {
    name: 'login: second wrong password',
    request: { method: 'POST', target: '/v1/login', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'alice', password: 'guess 2' }) },
    expect: { status: 401, json: { ok: false } },
  },
  {
    name: 'login: after two failures even the right password is 429',
    request: { method: 'POST', target: '/v1/login', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'alice', password: PASSWORD }) },
    expect: { status: 429, headers: { 'retry-after': /^\d+$/ }, json: problem('ratelimit.exceeded', 429) },
  },
  ...dpopCases,
  ...signCases,
  ...mtlsCases,
  ...accessCases,
  ...protectCases,
  ...httpSignatureCases,
];
