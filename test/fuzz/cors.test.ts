/**
 * Properties of the CORS origin matcher: only an origin on the list, byte for byte, is allowed; any
 * mutation of an allowed origin (case, trailing slash or dot, port, suffix, prefix, whitespace, a
 * list) is refused, by the matcher and by the engine answering a preflight.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { denialResponse } from '../../src/decision.ts';
import { createEngine } from '../../src/engine.ts';
import { definePolicy } from '../../src/policy/define.ts';
import { compileCors } from '../../src/stages/cors.ts';
import { runs } from './settings.ts';

/** Exact origins as `definePolicy` accepts them: what `new URL(o).origin` serializes back to `o`. */
const origin = fc
  .tuple(
    fc.constantFrom('https', 'http'),
    fc.oneof({ weight: 4, arbitrary: fc.domain() }, fc.ipV4(), fc.constant('localhost'), fc.constant('[::1]')),
    fc.option(fc.integer({ min: 1, max: 65535 }), { nil: undefined }),
  )
  .map(([scheme, host, port]) => `${scheme}://${host}${port === undefined ? '' : `:${port}`}`)
  .filter((value) => {
    try {
      return new URL(value).origin === value;
    } catch {
      return false;
    }
  });
const originList = fc.uniqueArray(origin, { minLength: 1, maxLength: 4 });

/** Ways to turn an allowed origin into something else that a careless matcher might still accept. */
function mutations(allowed: string, other: string): fc.Arbitrary<string> {
  const url = new URL(allowed);
  const port = url.port === '' ? '' : `:${url.port}`;
  const withHost = (host: string) => `${url.protocol}//${host}${port}`;
  const whitespace = fc.constantFrom(' ', '\t', '\n', '\r', '\v', '\f', '\u00a0', '\u2028', '\ufeff');
  return fc.oneof(
    // Case: browsers send lower case; a case-insensitive compare is a second, looser allowlist.
    fc.mixedCase(fc.constant(allowed)),
    // Trailing slash, path, query, fragment, userinfo.
    fc.constantFrom(`${allowed}/`, `${allowed}/x`, `${allowed}?`, `${allowed}#`, `${url.protocol}//user@${url.host}`),
    // Trailing dot on the host (the same DNS name, another origin string).
    fc.constant(withHost(`${url.hostname}.`)),
    // Ports: added, changed, dropped, the scheme's default spelled out.
    fc.integer({ min: 0, max: 65535 }).map((n) => `${url.protocol}//${url.hostname}:${n}`),
    fc.constantFrom(`${url.protocol}//${url.hostname}`, `${url.protocol}//${url.hostname}:`, `${url.protocol}//${url.hostname}:443`, `${url.protocol}//${url.hostname}:80`),
    // Scheme swapped.
    fc.constant(allowed.replace(/^https?:/, (scheme) => (scheme === 'https:' ? 'http:' : 'https:'))),
    // Suffixes and prefixes: look-alike hosts.
    fc.constantFrom('.evil.test', 'evil.test', '-evil.test', '%60.evil.test', '@evil.test', '.', '\u0000').map((suffix) => `${allowed}${suffix}`),
    fc.constantFrom('evil.', 'evil-', 'x', 'wwww.').map((prefix) => withHost(`${prefix}${url.hostname}`)),
    fc.constantFrom('evil', ' ', 'https://evil.test/', 'null ').map((prefix) => `${prefix}${allowed}`),
    fc.string({ minLength: 1, maxLength: 6 }).map((suffix) => `${allowed}${suffix}`),
    fc.string({ minLength: 1, maxLength: 6 }).map((prefix) => `${prefix}${allowed}`),
    // Whitespace around or inside.
    fc.tuple(whitespace, fc.nat({ max: allowed.length })).map(([space, at]) => `${allowed.slice(0, at)}${space}${allowed.slice(at)}`),
    // Lists: two origins in one header.
    fc.constantFrom(`${allowed}, ${other}`, `${other}, ${allowed}`, `${allowed},${allowed}`, `${allowed} ${allowed}`, `${allowed} ${other}`),
    // Opaque and empty origins.
    fc.constantFrom('null', 'NULL', '', 'file://', '*'),
  );
}

/** A list, one of its origins, and a mutation of it that is not itself on the list. */
const mutated = originList.chain((list) =>
  fc
    .tuple(fc.constantFrom(...list), origin)
    .chain(([allowed, other]) => fc.tuple(fc.constant(list), fc.constant(allowed), mutations(allowed, other)))
    .filter(([list, , candidate]) => !list.includes(candidate)),
);

describe('compileCors().allowOrigin', () => {
  it('allows only a listed origin, and answers with that origin exactly', () => {
    fc.assert(
      fc.property(originList, fc.oneof(fc.string({ unit: 'binary' }), origin, mutated.map(([, , candidate]) => candidate)), (list, candidate) => {
        const cors = compileCors({ origins: list, credentials: true });
        for (const allowed of list) expect(cors.allowOrigin(allowed)).toBe(allowed);
        const answer = cors.allowOrigin(candidate);
        if (answer !== undefined) {
          expect(list).toContain(candidate);
          expect(answer).toBe(candidate);
        }
      }),
      runs(1500),
    );
  });

  it('refuses every mutation of an allowed origin', () => {
    fc.assert(
      fc.property(mutated, ([list, , candidate]) => {
        expect(compileCors({ origins: list, credentials: true }).allowOrigin(candidate)).toBeUndefined();
      }),
      runs(5000),
    );
  });

  it('never allows null, a list or whitespace even when every origin is allowed ("*")', () => {
    fc.assert(
      fc.property(mutated, ([, allowed, candidate]) => {
        const cors = compileCors({ origins: ['*'] });
        expect(cors.allowOrigin(allowed)).toBe('*');
        if (/[\s,]/.test(candidate) || candidate === '') expect(cors.allowOrigin(candidate)).toBeUndefined();
      }),
      runs(1000),
    );
  });
});

describe('the engine answering preflights', () => {
  /** HTTP drops leading and trailing whitespace from a field value; what is left is what the engine sees. */
  const sendable = (value: string) => {
    try {
      return new Headers({ origin: value }).get('origin');
    } catch {
      return undefined; // not a legal header value (NUL, CR, LF, non-Latin-1): never reaches the engine
    }
  };

  it('answers a listed origin with 204 and that origin, any other with 403 and no Access-Control-Allow-* header', async () => {
    await fc.assert(
      fc.asyncProperty(mutated, fc.boolean(), async ([list, allowed, candidate], exact) => {
        const engine = createEngine(
          definePolicy({
            cors: { origins: list, credentials: true },
            transport: { requireHttps: false },
            routes: { 'GET /v1/things/:id': { authn: 'anonymous' } },
          }),
          { log: () => {} },
        );
        const value = exact ? allowed : sendable(candidate);
        if (value === undefined || value === null) return;
        const request = new Request('http://api.test/v1/things/1', {
          method: 'OPTIONS',
          headers: { origin: value, 'access-control-request-method': 'GET', 'access-control-request-headers': 'authorization' },
        });
        const decision = await engine.evaluate(request, { peer: { address: '203.0.113.9' } });
        // A preflight is always answered by the engine (204 or a denial), never passed to the app.
        expect(decision.kind).toBe('deny');
        const response = denialResponse(decision as Extract<typeof decision, { kind: 'deny' }>);
        const allowHeaders = [...response.headers.keys()].filter((name) => name.startsWith('access-control-'));
        if (list.includes(value)) {
          expect(response.status).toBe(204);
          expect(response.headers.get('access-control-allow-origin')).toBe(value);
        } else {
          expect(response.status).toBe(403);
          expect(allowHeaders).toEqual([]);
        }
        expect(response.headers.get('vary')).toContain('Origin');
      }),
      runs(500),
    );
  });
});
