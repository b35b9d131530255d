/**
 * Forwarding allowed requests to an origin: the gateway half of "portcullis in front of an API".
 * @module
 */

import { asGatewayAnswer, problemResponse, type Allow } from './decision.ts';
import { policyError } from './errors.ts';
import type { Handler } from './engine.ts';
import { IDENTITY_HEADER, identitySigner, type IdentityOptions } from './identity.ts';
import { jsonLineSink, type SecuritySink } from './log.ts';
import { locationOrigin, publicLocation } from './proxy-answer.ts';
import { endToEndHeaders, requestHeaderFilter } from './proxy-headers.ts';
import { discardBody, fetchTransport, relayAnswer, type ForwardTransport, type OriginAnswer, type OriginRequest } from './proxy-transport.ts';
import { maskServerError } from './server-errors.ts';

export { FORWARDED_BY_DEFAULT } from './proxy-headers.ts';
export type { ForwardTransport, OriginAnswer, OriginRequest } from './proxy-transport.ts';

/** Options of `forwardTo`. */
export interface ForwardOptions {
  /** The fetch used to reach the origin (a service binding's `fetch` on Workers). @default globalThis.fetch */
  fetch?: (input: URL, init: RequestInit) => Promise<Response>;
  /**
   * How the origin is reached, instead of `fetch`. Every rule of `forwardTo` holds whichever
   * transport carries the bytes. Not together with `fetch`. Under `serve()` from `portcullis/node`
   * there is no need to name one: the adapter's keep-alive client (`nodeTransport()`, a
   * fraction of fetch's CPU per request) is used; give one to choose its options.
   * @default the adapter's transport (`nodeTransport()` under Node's `serve()`), else one on `fetch`
   */
  transport?: ForwardTransport;
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
  /**
   * Inbound headers the origin hears besides `FORWARDED_BY_DEFAULT` (standard end-to-end headers:
   * content negotiation, body metadata, conditionals, cache directives, trace context), e.g.
   * `['cookie', 'idempotency-key', 'x-tenant-id']`. Every other inbound header is dropped, so no
   * client-sent identity header (`cf-access-authenticated-user-email`, `x-remote-user`…) reaches the
   * origin. The gateway's own headers (`x-forwarded-*`, `x-request-id`, the identity header) and
   * `authorization` cannot be named: a `TypeError` at construction. A header a route's `headers`
   * schema validates is not forwarded by that alone: name it here.
   * @default []
   */
  forwardHeaders?: readonly string[];
  /**
   * Hand the credential that authenticated the request on to the origin: the header its
   * `policy.authn` method read (`authorization` for `jwt()` and `oauth2Introspection()`, the key
   * header of `apiKey()`). `true` for any method, or the names of the methods whose credential
   * passes (`['user']`). Never an unverified one: an `Authorization` on an anonymous route, or one
   * sent beside the API key that authenticated, stays behind.
   * @default false
   */
  forwardCredential?: boolean | readonly string[];
  /** Inbound headers never forwarded, even when allowed above (e.g. `['referer']`). */
  stripHeaders?: readonly string[];
  /**
   * An origin's 5xx body can carry a stack trace or a connection string. `mask` answers a problem
   * that says nothing instead: `internal.error` (500) for a 500, `origin.unavailable` (502, with
   * the origin's Retry-After when it is a valid one) for any other 5xx. `pass` relays the origin's
   * answer as it is. (The engine masks the 5xx of in-process handlers by the same rule; an answer
   * relayed with `pass` it leaves alone.)
   * @default 'mask'
   */
  originErrors?: 'mask' | 'pass';
  /**
   * An origin's `Location` (a redirect, a 201). `rewrite`: one on the origin itself, or on the public
   * origin it was told in `X-Forwarded-Proto`/`-Host`, becomes a path (`/v1/things/7`), so the client
   * never learns the origin's address and comes back through the gateway; one on an origin in
   * `redirectOrigins` passes; any other (`http://127.0.0.1:9/`,
   * `http://169.254.169.254/`, `//evil.test/`) is refused with 502 `origin.redirect_refused` and a
   * log event. `pass` relays every Location as it is.
   * @default 'rewrite'
   */
  redirects?: 'rewrite' | 'pass';
  /** Other origins a Location may lead to, e.g. an identity provider's (`https://id.example.com`). @default [] */
  redirectOrigins?: readonly string[];
  /** Where refusals of an origin answer or target are logged (the engine's sink, usually). @default jsonLineSink */
  log?: SecuritySink;
}

/**
 * A handler that forwards allowed requests to `origin`, keeping path and query, streaming the body.
 * Only an allow-list of inbound headers passes (see `forwardHeaders`); the origin's redirects are
 * rewritten or refused (see `redirects`).
 *
 * @example
 * ```ts
 * serve(policy, forwardTo('http://127.0.0.1:9000', {
 *   identity: { key: process.env.PORTCULLIS_IDENTITY_KEY! },
 *   forwardHeaders: ['idempotency-key'],
 * }));
 * ```
 */
export function forwardTo(origin: string, options: ForwardOptions = {}): Handler {
  const base = URL.canParse(origin) ? new URL(origin) : undefined;
  if (!base || base.pathname !== '/' || base.search || base.hash) policyError('forwardTo().origin', `"${origin}" must be an origin with no path`);
  if (options.fetch && options.transport) policyError('forwardTo().transport', 'give fetch or transport, not both');
  // An explicit transport or fetch wins; else the adapter's (handed in per request), else fetch.
  const chosen = options.transport ?? (options.fetch && fetchTransport(options.fetch));
  const viaFetch = chosen ?? fetchTransport((input: URL, init: RequestInit) => fetch(input, init));
  const extra = Object.entries(options.headers ?? {});
  const identity = options.identity && identitySigner(options.identity);
  const identityHeader = options.identity?.header ?? IDENTITY_HEADER;
  const forwardedHeaders = requestHeaderFilter({ ...options, identityHeader });
  const redirectOrigins = new Set((options.redirectOrigins ?? []).map((entry, i) => originOf(entry, `forwardTo().redirectOrigins[${i}]`)));
  const log = options.log ?? jsonLineSink;
  if (options.redirects !== undefined && options.redirects !== 'rewrite' && options.redirects !== 'pass') {
    policyError('forwardTo().redirects', `must be 'rewrite' or 'pass', got ${JSON.stringify(options.redirects)}`);
  }

  /** Logs why an allowed request got a refusal from the gateway instead of the origin's answer. */
  function refuse(event: 'portcullis.deny' | 'portcullis.error', reason: string, request: Request, decision: Allow, detail: string): Response {
    const response = problemResponse(reason, decision.requestId);
    try {
      log({
        time: new Date().toISOString(),
        event,
        requestId: decision.requestId,
        reason,
        status: response.status,
        method: request.method,
        path: new URL(request.url).pathname,
        route: decision.route,
        clientIp: decision.client.ip,
        principal: `${decision.principal.method}:${decision.principal.id}`,
        error: detail,
      });
    } catch {
      // A broken sink must not turn the refusal into a crash.
    }
    return response;
  }

  return async function forward(request, decision, context) {
    const url = new URL(request.url);
    const target = originFormTarget(base, url);
    // Never fetch a URL the policy did not check: `//127.0.0.1:9/leak` would be scheme-relative.
    if (!target) return refuse('portcullis.deny', 'origin.target_refused', request, decision, 'the request target is not origin-form');
    const headers = forwardedHeaders(request, decision);
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

    const hasBody = request.method !== 'GET' && request.method !== 'HEAD' && request.body !== null;
    const send = chosen ?? context?.transport ?? viaFetch;
    let answer: OriginAnswer;
    try {
      answer = await send(target, new ForwardedRequest(request, headers, hasBody ? request.body : null));
    } catch {
      return problemResponse('origin.unavailable', decision.requestId);
    }
    if (answer.status >= 500 && options.originErrors !== 'pass') return await maskServerError(answer, decision.requestId);
    const out = endToEndHeaders(answer.headers);
    // `Headers` joins repeated fields (all but Set-Cookie): one Location at most.
    const at = options.redirects === 'pass' ? -1 : out.findIndex(([name]) => name === 'location');
    if (at !== -1) {
      const location = out[at]![1];
      const rewritten = publicLocation(location, target, `${decision.client.scheme}://${url.host}`, redirectOrigins);
      if (rewritten === null) {
        await discardBody(answer);
        const where = locationOrigin(location, target);
        return refuse('portcullis.error', 'origin.redirect_refused', request, decision, `the origin answered ${answer.status} with a Location to ${where}`);
      }
      out[at] = ['location', rewritten];
    }
    const relayed = relayAnswer(new Response(answer.body, { status: answer.status, statusText: answer.statusText, headers: out }), answer);
    // `originErrors: 'pass'` relays a 5xx as it is: the engine's answer rules must not mask it after all.
    return answer.status >= 500 ? asGatewayAnswer(relayed) : relayed;
  };
}

/**
 * The request for the transport; its `signal` is the client's, read only if the transport asks. A
 * class: an object literal with a getter cost each forwarded request about 1.7 KB promoted to V8's
 * old generation (`--trace-gc`).
 */
class ForwardedRequest implements OriginRequest {
  readonly method: string;
  readonly #request: Request;
  constructor(
    request: Request,
    readonly headers: Headers,
    readonly body: ReadableStream<Uint8Array> | null,
  ) {
    this.method = request.method;
    this.#request = request;
  }
  get signal(): AbortSignal {
    return this.#request.signal;
  }
}

/**
 * The origin URL for a request: the configured origin, then the request's path and query exactly
 * as the policy saw them — never `new URL(path, base)`, which reads `//host/…` as another host.
 * `null` when the path is not origin-form (RFC 9112 §3.2.1: one `/`, then segments) or the result
 * would leave the origin.
 */
function originFormTarget(base: URL, url: URL): URL | null {
  const { pathname, search } = url;
  if (!pathname.startsWith('/') || pathname.startsWith('//') || pathname.includes('\\')) return null;
  let target: URL;
  try {
    target = new URL(`${base.origin}${pathname}${search}`);
  } catch {
    return null;
  }
  if (target.origin !== base.origin || target.pathname !== pathname || target.search !== search) return null;
  return target;
}

/** The origin of an http(s) origin string, or a `PolicyError` naming the option. */
function originOf(value: string, name: string): string {
  let url: URL | undefined;
  try {
    url = new URL(value);
  } catch {
    // Reported below.
  }
  if (!url || (url.protocol !== 'https:' && url.protocol !== 'http:') || url.origin !== value.replace(/\/$/, '')) {
    policyError(name, `"${value}" must be an origin such as https://id.example.com`);
  }
  return url.origin;
}
