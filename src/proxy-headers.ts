/**
 * What `forwardTo` tells the origin: an allow-list of request headers. A deny-list can never be
 * complete — every identity-aware proxy, load balancer and auth middleware has its own header that
 * some origin believes (`cf-access-authenticated-user-email`, `x-goog-authenticated-user-email`,
 * `x-amzn-oidc-identity`, `x-ms-client-principal`, `x-webauth-user`, `ssl-client-cert`,
 * `x-envoy-original-path`…) — so only headers known to mean nothing about who the client is, or
 * where the request goes, pass.
 * @module
 */

import type { Allow } from './decision.ts';
import { policyError } from './errors.ts';

/**
 * End-to-end request headers that describe the message, not the client's identity or its route.
 * Each class is here because an ordinary origin needs it to answer correctly.
 *
 * @example
 * ```ts
 * FORWARDED_BY_DEFAULT.includes('cookie'); // false: name it in forwardTo's forwardHeaders
 * ```
 */
export const FORWARDED_BY_DEFAULT: readonly string[] = Object.freeze([
  // Content negotiation (RFC 9110 §12.5): which representation to send. Accept-Encoding is not
  // here: the gateway asks for `identity` itself.
  'accept', 'accept-language',
  // The body's own metadata (RFC 9110 §8): the origin cannot read the body without it.
  'content-type', 'content-length', 'content-encoding', 'content-language',
  // Conditional and range requests (RFC 9110 §13, §14): caching and optimistic concurrency.
  'if-match', 'if-none-match', 'if-modified-since', 'if-unmodified-since', 'if-range', 'range',
  // Cache directives (RFC 9111 §5.2, §5.4) and preferences (RFC 7240): how, not who.
  'cache-control', 'pragma', 'prefer',
  // What browsers say about the request's context; origins use them against CSRF (Fetch Metadata,
  // Origin checks) and in logs. They weaken no check when forged: they only ever make one stricter.
  'user-agent', 'origin', 'referer', 'sec-fetch-site', 'sec-fetch-mode', 'sec-fetch-dest', 'sec-fetch-user',
  // W3C Trace Context: the client's trace continues at the origin. `baggage` is not here: it is
  // free-form key=value data that applications read as tenant or user ids.
  'traceparent', 'tracestate',
  // Not here, on purpose: `cookie` and `authorization`. Both are credentials, and an origin that
  // reads one authenticates on its own, possibly as someone other than the principal the policy
  // checked. Name `cookie` in `forwardHeaders` for an origin that keeps its own session; the
  // credential that authenticated the request passes with `forwardCredential`.
]);

/** Hop-by-hop headers (RFC 9110 §7.6.1): they describe one connection, not the message. */
const HOP_BY_HOP: ReadonlySet<string> = new Set(['connection', 'keep-alive', 'proxy-connection', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding', 'upgrade']);

/** The names a `Connection` header lists: hop-by-hop for this one message (RFC 9110 §7.6.1). */
function connectionNamed(headers: Headers): ReadonlySet<string> | undefined {
  const connection = headers.get('connection');
  return connection === null ? undefined : new Set(connection.split(',').map((name) => name.trim().toLowerCase()));
}

/**
 * An origin's answer headers that go on to the client, as name/value pairs in `Headers` order: all
 * but the hop-by-hop ones. One pass over them: every call on a `Headers` pays for WebIDL checks,
 * and a get and nine deletes cost `forwardTo` about 0.7 µs a request.
 */
export function endToEndHeaders(headers: Headers): [string, string][] {
  const named = connectionNamed(headers);
  const kept: [string, string][] = [];
  headers.forEach((value, name) => {
    if (!HOP_BY_HOP.has(name) && !named?.has(name)) kept.push([name, value]);
  });
  return kept;
}

/**
 * Never forwarded from the client, whatever the options say: the gateway sets them itself
 * (`x-forwarded-*`, `x-request-id`, `accept-encoding`, the identity header), they describe one
 * connection (RFC 9110 §7.6.1), or they are a credential only the authentication stage may vouch
 * for (`forwardCredential`).
 */
const NEVER_FROM_CLIENT = new Map<string, string>([
  ...['host', 'forwarded', 'x-request-id', 'accept-encoding'].map((name) => [name, 'the gateway sets it'] as const),
  ['authorization', 'use forwardCredential: it forwards only the credential that authenticated the request'],
  ...[...HOP_BY_HOP].map((name) => [name, 'it describes one connection'] as const),
  // Hop-by-hop too, but first of all a credential: the later entry names it so.
  ['proxy-authorization', 'a credential for the gateway, never for the origin'],
]);

/** Options that decide which request headers pass (see `ForwardOptions`). */
export interface RequestHeaderOptions {
  forwardHeaders?: readonly string[];
  forwardCredential?: boolean | readonly string[];
  stripHeaders?: readonly string[];
  /** The identity assertion's header, when the gateway signs one. */
  identityHeader?: string;
}

/**
 * Compiles the allow-list once: a function that copies the headers an origin may hear from a
 * request. Throws a `PolicyError` naming an option header the gateway must own.
 */
export function requestHeaderFilter(options: RequestHeaderOptions): (request: Request, decision: Allow) => Headers {
  const strip = new Set((options.stripHeaders ?? []).map((name) => name.toLowerCase()));
  const allowed = new Set(FORWARDED_BY_DEFAULT);
  for (const [i, raw] of (options.forwardHeaders ?? []).entries()) {
    const name = raw.toLowerCase();
    const gatewayOwned = name.startsWith('x-forwarded-') || name === options.identityHeader?.toLowerCase();
    const why = NEVER_FROM_CLIENT.get(name) ?? (gatewayOwned ? 'the gateway sets it' : undefined);
    if (why) policyError(`forwardTo().forwardHeaders[${i}]`, `"${raw}" cannot be forwarded from the client (${why})`);
    allowed.add(name);
  }
  for (const name of strip) allowed.delete(name);
  const credential = options.forwardCredential ?? false;
  const credentialFrom = credential === true ? () => true : credential === false ? () => false : (method: string) => credential.includes(method);

  return function forwardedHeaders(request, decision) {
    const hopByHop = connectionNamed(request.headers);
    const headers = new Headers();
    for (const [name, value] of request.headers) if (allowed.has(name) && !hopByHop?.has(name)) headers.append(name, value);
    // The verified credential: the header its method read, on a request that method authenticated.
    // An Authorization header on an anonymous route, or beside an API key that won, proved nothing.
    const { credentialHeader, method } = decision.principal;
    if (credentialHeader !== undefined && credentialFrom(method) && !strip.has(credentialHeader)) {
      const value = request.headers.get(credentialHeader);
      if (value !== null) headers.set(credentialHeader, value);
    }
    return headers;
  };
}
