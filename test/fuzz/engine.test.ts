/**
 * The whole engine under random requests: no method, request target, header set, peer or body makes
 * `evaluate` throw or end in an internal error; no path reaches the admin route without spelling it;
 * a prototype key in a body is refused on every body-taking route.
 */
import fc from 'fast-check';
import * as v from 'valibot';
import { describe, expect, it } from 'vitest';
import { apiKey, createEngine, definePolicy, hashApiKey, type Decision } from '../../src/index.ts';
import { runs } from './settings.ts';

const API_KEY = 'pk_test_fuzzing-is-not-a-secret';
const policy = definePolicy({
  clientIp: { trustedProxies: ['loopback', '10.0.0.0/8'] },
  transport: { requireHttps: true, allowLoopbackHttp: true },
  cors: { origins: ['https://app.example.com'], credentials: true },
  authn: { service: apiKey({ header: 'x-api-key', keys: { [await hashApiKey(API_KEY)]: { principal: 'svc_fuzz', scopes: ['admin'] } } }) },
  rateLimits: { api: { limit: 1_000_000, window: '15m', by: 'ip' } },
  limits: { maxBodyBytes: 512, maxJsonDepth: 8 },
  routes: {
    'GET /v1/health': { authn: 'anonymous', rateLimit: ['api'] },
    'POST /v1/things': { authn: 'anonymous', body: v.strictObject({ name: v.optional(v.string()), tags: v.optional(v.array(v.string())) }) },
    'PUT /v1/raw/:id': { authn: 'anonymous', contentTypes: ['application/json', 'application/x-www-form-urlencoded', 'multipart/form-data', 'text/plain'] },
    'GET /admin/users': { authn: ['service'], allow: [{ scopes: ['admin'] }] },
  },
});
const engine = createEngine(policy, { log: () => {}, now: () => Date.parse('2026-03-09T12:00:00Z') });

const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'get', 'Post', 'PROPFIND', 'X'];
const PIECES = ['/', 'v1', 'health', 'things', 'raw', 'admin', 'users', 'Admin', '..', '.', '%2e%2e', '%2f', '%5c', '\\', ';', '%00', '%', '?', '#', '//', 'x', '%61dmin', '%u0041', '\u00e9', '*'];
const ROUTE_PATHS = ['/v1/health', '/v1/things', '/v1/raw/1', '/v1/raw/%E2%9C%93', '/admin/users', '/v1/health?x=1', '/v1/things#f'];
const target = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(...ROUTE_PATHS) },
  { weight: 3, arbitrary: fc.array(fc.constantFrom(...PIECES), { maxLength: 8 }).map((pieces) => `/${pieces.join('')}`) },
  { weight: 1, arbitrary: fc.constantFrom('*', 'http://api.test/admin/users', 'https://api.test/v1/health', 'http:///admin/users', '') },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 30 }) },
);
/** A method and a request target: mostly the policy's own routes, often anything at all. */
const call = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.constantFrom(['GET', '/v1/health'], ['HEAD', '/v1/health'], ['POST', '/v1/things'], ['PUT', '/v1/raw/1'], ['PUT', '/v1/raw/%E2%9C%93'], ['GET', '/admin/users'], ['OPTIONS', '/v1/things']),
  },
  { weight: 2, arbitrary: fc.tuple(fc.constantFrom(...METHODS), target) },
);
const contentType = fc.option(
  fc.constantFrom('application/json', 'application/json; charset=utf-8', 'application/x-www-form-urlencoded', 'text/plain', 'multipart/form-data; boundary=b', 'application/xml', 'application/json; charset=utf-16'),
  { nil: undefined },
);
const headerSoup = fc.oneof(
  fc.constantFrom('https://app.example.com', 'null', 'GET', 'authorization, x-api-key', 'application/json', 'text/plain; charset=utf-8', 'multipart/form-data; boundary=b', '127.0.0.1', 'for=10.0.0.1;proto=http', 'http', '0', '99999', 'chunked', API_KEY, `Bearer ${API_KEY}`, 'DELETE'),
  fc.string({ maxLength: 30 }),
);
const headers = fc.dictionary(
  fc.constantFrom('origin', 'access-control-request-method', 'access-control-request-headers', 'content-type', 'content-length', 'x-forwarded-for', 'x-forwarded-proto', 'forwarded', 'authorization', 'x-api-key', 'x-http-method-override', 'cookie'),
  headerSoup,
  { maxKeys: 4 },
);
const body = fc.option(
  fc.oneof(
    fc.record({ name: fc.string(), tags: fc.array(fc.string(), { maxLength: 3 }), role: fc.constant('admin') }, { requiredKeys: [] }).map((value) => JSON.stringify(value)),
    fc.json(),
    fc.constantFrom('{"name":"a","__proto__":{"x":1}}', '{"a":{"constructor":{}},"a":1}', 'name=a&__proto__=1', '[[[[[[[[[[1]]]]]]]]]]', '--b\r\nContent-Disposition: form-data; name="prototype"\r\n\r\n1\r\n--b--\r\n'),
    fc.string({ unit: 'binary', maxLength: 600 }),
  ),
  { nil: undefined },
);
const peer = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom('127.0.0.1', '::1') },
  fc.option(fc.constantFrom('10.1.2.3', '203.0.113.7', '::ffff:127.0.0.1', '2001:db8::1', 'garbage'), { nil: undefined }),
);
const scheme = fc.constantFrom('http', 'https');

/** Builds the Request a runtime could hand us; undefined when no runtime could (bad method, header, or URL). */
function request(method: string, raw: string, headerSet: Record<string, string>, payload: string | undefined, base = 'https'): Request | undefined {
  try {
    let url: URL;
    try {
      url = new URL(raw, `${base}://api.test`);
    } catch {
      url = new URL(`${base}://api.test/`);
    }
    return new Request(url, { method, headers: headerSet, body: method === 'GET' || method === 'HEAD' ? undefined : payload });
  } catch {
    return undefined;
  }
}

const lenientDecode = (raw: string) => raw.replace(/%([0-9a-fA-F]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));

describe('engine.evaluate on random requests', () => {
  it('never throws and never ends in internal.error; denials are problem+json values with a known status', async () => {
    await fc.assert(
      fc.asyncProperty(call, headers, contentType, body, peer, scheme, async ([method, raw], headerSet, type, payload, address, base) => {
        const req = request(method, raw, type === undefined ? headerSet : { ...headerSet, 'content-type': type }, payload, base);
        if (!req) return;
        const decision: Decision = await engine.evaluate(req, { peer: { address }, rawTarget: raw });
        if (decision.kind === 'deny') {
          expect(decision.reason).not.toBe('internal.error');
          expect([204, 308, 400, 401, 403, 404, 405, 413, 415, 422]).toContain(decision.status);
        }
        if (decision.route === 'GET /admin/users') {
          // Reached only by a path that spells /admin/users, without dot segments or encoded separators.
          const path = raw.replace(/^[a-z]+:\/\/[^/]*/i, '').split(/[?#]/)[0]!;
          expect(path.slice(1).split('/').map(lenientDecode)).toEqual(['admin', 'users']);
        }
      }),
      runs(1500),
    );
  });

  it('refuses a prototype key in the body of every route that takes one, whatever else the request says', async () => {
    const poisoned = fc.constantFrom(
      ['application/json', '{"name":"a","__proto__":{"isAdmin":true}}'],
      ['application/json', '{"tags":["x"],"t":{"constructor":{"prototype":{}}}}'],
      ['application/json', '{"t":{"\\u005f_proto__":1},"t":null}'],
      ['application/x-www-form-urlencoded', 'a=1&%5F%5Fproto%5F%5F=1'],
      ['multipart/form-data; boundary=b', '--b\r\nContent-Disposition: form-data; name="constructor"\r\n\r\n1\r\n--b--\r\n'],
    );
    await fc.assert(
      fc.asyncProperty(poisoned, fc.constantFrom(['POST', '/v1/things'], ['PUT', '/v1/raw/1']), headers, async ([type, payload], [method, path], extra) => {
        const { 'content-type': _, 'content-length': __, ...rest } = extra;
        const req = request(method, path, { ...rest, 'content-type': type }, payload);
        if (!req) return;
        const decision = await engine.evaluate(req, { peer: { address: '127.0.0.1' }, rawTarget: path });
        expect(decision.kind).toBe('deny');
        // Earlier stages may refuse first (transport, CORS preflight, media type); it is never let through.
        if (decision.kind === 'deny' && decision.reason.startsWith('validate.') && decision.reason !== 'validate.unsupported_media_type') {
          expect(decision.reason).toBe('validate.forbidden_key');
        }
      }),
      runs(400),
    );
  });
});
