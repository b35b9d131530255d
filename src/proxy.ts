/**
 * Forwarding allowed requests to an origin: the gateway half of "portcullis in front of an API".
 * @module
 */

import { problemResponse } from './decision.ts';
import type { Handler } from './engine.ts';
import { IDENTITY_HEADER, identitySigner, type IdentityOptions } from './identity.ts';

/** Options of `forwardTo`. */
export interface ForwardOptions {
  /** The fetch used to reach the origin (a service binding's `fetch` on Workers). @default globalThis.fetch */
  fetch?: (input: URL, init: RequestInit) => Promise<Response>;
  /**
   * Headers added to every forwarded request, e.g. a shared secret the origin checks so that only
   * the gateway can call it. They replace any inbound header of the same name.
   */
  headers?: Readonly<Record<string, string>>;
  /**
   * Sign an identity assertion for the origin on every forwarded request: an HS256 JWT naming the
   * principal, bound to the request id, time, method, target and origin (see `identityVerifier`).
   */
  identity?: IdentityOptions;
  /** More inbound headers to drop: any header your origin reads as identity or routing. */
  stripHeaders?: readonly string[];
  /**
   * An origin's 5xx body can carry a stack trace or a connection string. `mask` answers a problem
   * that says nothing instead: `internal.error` (500) for a 500, `origin.unavailable` (502, with
   * the origin's Retry-After) for any other 5xx. `pass` relays the origin's answer as it is.
   * @default 'mask'
   */
  originErrors?: 'mask' | 'pass';
}

/** Hop-by-hop headers (RFC 9110 §7.6.1): they describe one connection, not the message. */
const HOP_BY_HOP = ['connection', 'keep-alive', 'proxy-connection', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding', 'upgrade'];

/**
 * Inbound headers that claim something about the client. The origin must hear these from the
 * gateway alone, so whatever the client sent is dropped and the gateway's own values are set.
 */
const SPOOFABLE = [
  'forwarded', 'x-real-ip', 'true-client-ip', 'cf-connecting-ip', 'x-client-ip', 'x-cluster-client-ip', 'client-ip', 'fastly-client-ip', 'x-originating-ip',
  // Identity that some origins (and auth proxies such as oauth2-proxy) take from a header unchecked.
  IDENTITY_HEADER, 'x-user-id', 'x-user', 'x-remote-user', 'remote-user', 'x-authenticated-user', 'x-authenticated-userid',
  'x-auth-user', 'x-auth-request-user', 'x-auth-request-email', 'x-auth-request-groups', 'x-auth-request-preferred-username',
  // Path overrides: an origin that routes by these would serve a path the policy never checked.
  'x-original-url', 'x-original-uri', 'x-rewrite-url',
];
/** Every `X-Forwarded-*` header (`-For`, `-Proto`, `-Host`, `-User`, `-Email`, `-Prefix`…): the gateway sets its own. */
const SPOOFABLE_PREFIX = 'x-forwarded-';

/**
 * A handler that forwards allowed requests to `origin`, keeping path and query, streaming the body.
 *
 * @example
 * ```ts
 * serve(policy, forwardTo('http://127.0.0.1:9000', { identity: { key: process.env.PORTCULLIS_IDENTITY_KEY! } }));
 * ```
 */
export function forwardTo(origin: string, options: ForwardOptions = {}): Handler {
  const base = new URL(origin);
  if (base.pathname !== '/' || base.search || base.hash) throw new TypeError(`forwardTo: "${origin}" must be an origin with no path`);
  const send = options.fetch ?? ((input: URL, init: RequestInit) => fetch(input, init));
  const extra = Object.entries(options.headers ?? {});
  const strip = [...HOP_BY_HOP, ...SPOOFABLE, ...(options.stripHeaders ?? []).map((name) => name.toLowerCase()), 'host'];
  const identity = options.identity && identitySigner(options.identity);
  const identityHeader = options.identity?.header ?? IDENTITY_HEADER;
  if (identity) strip.push(identityHeader.toLowerCase());

  return async function forward(request, decision) {
    const url = new URL(request.url);
    const target = new URL(url.pathname + url.search, base);
    const headers = new Headers(request.headers);
    for (const name of (headers.get('connection') ?? '').split(',')) if (name.trim()) headers.delete(name.trim());
    for (const name of strip) headers.delete(name);
    for (const name of [...headers.keys()]) if (name.startsWith(SPOOFABLE_PREFIX)) headers.delete(name);
    // fetch() decodes compressed bodies but keeps Content-Encoding; ask the origin for identity so
    // that what we relay is what the headers say.
    headers.set('accept-encoding', 'identity');
    headers.set('x-forwarded-for', decision.client.ip);
    headers.set('x-forwarded-proto', decision.client.scheme);
    headers.set('x-forwarded-host', url.host);
    headers.set('x-request-id', decision.requestId);
    for (const [name, value] of extra) headers.set(name, value);

    // A signing failure is the gateway's (500), not the origin's (502).
    if (identity) headers.set(identityHeader, await identity(decision, request.method, target));

    const hasBody = request.body !== null && request.method !== 'GET' && request.method !== 'HEAD';
    try {
      const response = await send(target, {
        method: request.method,
        headers,
        body: hasBody ? request.body : null,
        redirect: 'manual',
        signal: request.signal,
        // Node's fetch needs this to stream a request body.
        ...(hasBody ? { duplex: 'half' } : {}),
      } as RequestInit);
      if (response.status >= 500 && options.originErrors !== 'pass') return await masked(response, decision.requestId);
      const out = new Response(response.body, response);
      for (const name of (out.headers.get('connection') ?? '').split(',')) if (name.trim()) out.headers.delete(name.trim());
      for (const name of HOP_BY_HOP) out.headers.delete(name);
      return out;
    } catch {
      return problemResponse('origin.unavailable', decision.requestId);
    }
  };
}

async function masked(response: Response, requestId: string): Promise<Response> {
  await response.body?.cancel().catch(() => {});
  const problem = problemResponse(response.status === 500 ? 'internal.error' : 'origin.unavailable', requestId);
  const retryAfter = response.headers.get('retry-after');
  if (retryAfter !== null) problem.headers.set('retry-after', retryAfter);
  return problem;
}
