/**
 * CORS with an exact-origin allowlist. Preflights are answered before authentication.
 * @module
 */

import { refuse, type Stage } from '../exchange.ts';
import type { RouteTable } from '../router.ts';
import type { CorsPolicy, Policy } from '../policy/types.ts';

export const DEFAULT_ALLOW_HEADERS = ['authorization', 'content-type'];
export const DEFAULT_MAX_AGE = 600;

/** The compiled CORS rules of a policy. */
export interface Cors {
  /** The `Access-Control-Allow-Origin` value for this `Origin` header, or undefined when not allowed. */
  allowOrigin(origin: string | null): string | undefined;
  /** Headers for a non-preflight response to an allowed origin. */
  responseHeaders(allowOrigin: string): [string, string][];
  /** Headers for a preflight from an allowed origin that asked for an allowed method. */
  preflightHeaders(allowOrigin: string, methods: readonly string[], requestedHeaders: string | null): [string, string][];
}

/** Is this a CORS preflight (and not a plain OPTIONS request)? */
export function isPreflight(request: Request): boolean {
  return request.method === 'OPTIONS' && request.headers.has('origin') && request.headers.has('access-control-request-method');
}

/** Compiles `policy.cors`. */
export function compileCors(policy: CorsPolicy, extraExposed: readonly string[] = []): Cors {
  const any = policy.origins.includes('*');
  const origins = new Set(policy.origins);
  const allowHeaders = new Set((policy.allowHeaders ?? DEFAULT_ALLOW_HEADERS).map((name) => name.toLowerCase()));
  const credentials: [string, string][] = policy.credentials ? [['access-control-allow-credentials', 'true']] : [];
  const exposed = [...new Set([...(policy.exposeHeaders ?? []), ...extraExposed].map((name) => name.toLowerCase()))];
  const expose: [string, string][] = exposed.length ? [['access-control-expose-headers', exposed.join(', ')]] : [];
  const maxAge = String(policy.maxAge ?? DEFAULT_MAX_AGE);

  return {
    allowOrigin(origin) {
      // One origin, byte for byte: no prefix/suffix/regex matching (look-alikes such as
      // https://app.example.com.evil.test), no lists (`a, b` matches none), and `null` (sandboxed
      // frames, file: pages) is never on the list.
      if (origin === null || origin === '' || /[\s,]/.test(origin)) return undefined;
      if (any) return '*';
      return origins.has(origin) ? origin : undefined;
    },
    responseHeaders(allowOrigin) {
      return [['access-control-allow-origin', allowOrigin], ...credentials, ...expose];
    },
    preflightHeaders(allowOrigin, methods, requestedHeaders) {
      const headers: [string, string][] = [
        ['access-control-allow-origin', allowOrigin],
        ...credentials,
        ['access-control-allow-methods', methods.join(', ')],
        ['access-control-max-age', maxAge],
      ];
      // Echo only the requested names that are allowlisted: one pass over the header value.
      const echoed: string[] = [];
      if (requestedHeaders !== null) {
        for (const part of requestedHeaders.split(',')) {
          const name = part.trim().toLowerCase();
          if (allowHeaders.has(name) && !echoed.includes(name)) echoed.push(name);
        }
      }
      if (echoed.length) headers.push(['access-control-allow-headers', echoed.join(', ')]);
      return headers;
    },
  };
}

/**
 * The CORS stage: answers preflights (before authentication, which browsers do not send on them)
 * and adds the allow headers for an allowed `Origin` to every other answer.
 */
export function corsStage(policy: Policy, routes: RouteTable<unknown>): Stage {
  if (!policy.cors) {
    return function cors(x) {
      x.trace.push({ stage: 'cors', outcome: 'skip' });
      return undefined;
    };
  }
  // Scripts may read the RateLimit headers of a limited API.
  const rules = compileCors(policy.cors, policy.rateLimits ? ['ratelimit', 'ratelimit-policy', 'retry-after'] : []);
  return function cors(x) {
    const { request, headers } = x;
    const allowOrigin = rules.allowOrigin(request.headers.get('origin'));
    if (x.method === 'OPTIONS' && isPreflight(request)) {
      headers.append('vary', 'Access-Control-Request-Method, Access-Control-Request-Headers');
      if (allowOrigin === undefined) return refuse('cors', 'cors.origin_denied');
      const allowed = routes.allowedFor(x.segments!);
      if (!allowed) return refuse('cors', 'route.not_found');
      if (!allowed.includes(request.headers.get('access-control-request-method')!)) return refuse('cors', 'cors.method_denied');
      for (const [name, value] of rules.preflightHeaders(allowOrigin, allowed, request.headers.get('access-control-request-headers'))) {
        headers.set(name, value);
      }
      return refuse('cors', 'cors.preflight', { answer: 204 });
    }
    if (allowOrigin !== undefined) for (const [name, value] of rules.responseHeaders(allowOrigin)) headers.set(name, value);
    x.trace.push({ stage: 'cors', outcome: 'pass', detail: allowOrigin ? `origin ${allowOrigin}` : 'no allowed origin' });
    return undefined;
  };
}
