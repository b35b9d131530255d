/**
 * The engine: compiles a policy once, then evaluates each request through the pipeline, in order:
 * normalize the target, transport (HTTPS), CORS, route, version, the `ip`/`route` rate limits,
 * authentication, the other rate limits, authorization, validation.
 * @module
 */

import { compileClientResolver, type Client, type Peer } from './client.ts';
import {
  denialResponse,
  problemFor,
  reasonInfo,
  type Allow,
  type Decision,
  type Deny,
  type Problem,
  type ReasonCode,
  type TraceEntry,
} from './decision.ts';
import { jsonLineSink, type SecurityEvent, type SecuritySink } from './log.ts';
import { definePolicy } from './policy/define.ts';
import type { Policy, RoutePolicy } from './policy/types.ts';
import { normalizePath, parsePattern, RouteTable, type ParsedPattern } from './router.ts';
import type { FieldError } from './schema.ts';
import { compileAuthn } from './stages/authn.ts';
import { compileAuthz, compileHierarchy } from './stages/authz.ts';
import { compileValidation } from './stages/validate.ts';
import { ANONYMOUS, type AuthnEnv, type FetchLike, type Principal } from './authn/contract.ts';
import { checkBuckets, compileBucket, rateLimitHeaders, withTimeout, type CompiledBucket, type KeyContext } from './stages/ratelimit.ts';
import { memoryStore } from './stores/memory.ts';
import type { RateLimitResult, RateLimitStore } from './stores/types.ts';
import { compileCors, isPreflight } from './stages/cors.ts';
import { HeaderList } from './header-list.ts';
import { compileSecurityHeaders, leaks } from './stages/headers.ts';
import { compileVersions, findVersion } from './stages/versioning.ts';
import { compileHostAllowlist, hostname, resolveTarget, targetHref } from './target.ts';
import { compileAlerts, fieldAt, type AlertRequest, type RaisedAlert } from './stages/alerts.ts';
import { guardObserver, type EngineObserver } from './telemetry/observer.ts';

/** What the core may use from the outside world. Tests pin the clock through `now`. */
export interface EngineEnv {
  /** Current time in epoch milliseconds. @default Date.now */
  now?: () => number;
  /** A fresh request id. @default crypto.randomUUID */
  randomId?: () => string;
  /** Outbound fetch (JWKS, introspection, Upstash). @default globalThis.fetch */
  fetch?: FetchLike;
  /** Security event sink. @default one JSON line per event on stdout */
  log?: SecuritySink;
  /** Where rate-limit counters (and alert counters) live. @default memoryStore() — per process (per isolate on Workers) */
  rateLimitStore?: RateLimitStore;
  /**
   * Told what the engine decides: `otelObserver()` from `portcullis/otel` records OpenTelemetry
   * metrics and span attributes. @default none (nothing is measured)
   */
  observer?: EngineObserver;
}

/** What the adapter knows about this request beyond the `Request` itself. */
export interface EvaluateContext {
  /** The connection: remote address and scheme. */
  peer?: Peer;
  /**
   * The request target exactly as received (`incoming.url` on Node). `Request.url` has already
   * been through a URL parser that resolves `..` and `%2e%2e`, hiding them, and is built from
   * `Host`; the raw target lets the engine refuse the first and check the path the client sent.
   * @default the path and query of `request.url`
   */
  rawTarget?: string;
  /**
   * Keeps the runtime alive for work after the response (store writes, failure counting):
   * `ctx.waitUntil` on Workers. Without it, `handle` awaits that work before returning.
   */
  waitUntil?: (promise: Promise<unknown>) => void;
}

/** A handler for allowed requests: the app, or a forwarder to the origin. */
export type Handler = (request: Request, decision: Allow) => Response | Promise<Response>;

/** How `handle` hands over the headers of an allowed request. */
export interface HandleOptions {
  /**
   * For adapters that write the response themselves: the decision's headers go here instead of
   * onto the handler's Response (whose WHATWG `Headers`, once touched, cost more per request than
   * the rest of a cached-token decision), and the Response is returned untouched. The adapter then
   * owns what `finalize` does: the Response's headers that `leaks(name)` names, or that the
   * decision sets, must not reach the wire, and a `Vary` of the Response's is merged with the
   * decision's. adapters/node.ts does this where the Response's headers meet the ServerResponse.
   */
  setHeaders?(headers: HeaderList): void;
}

/** A compiled policy. */
export interface Engine {
  readonly policy: Policy;
  /** Runs the pipeline. Never throws: an unexpected error becomes a 500 denial. */
  evaluate(request: Request, context?: EvaluateContext): Promise<Decision>;
  /** Evaluates, calls `handler` when allowed, and returns the response with the policy's headers. */
  handle(request: Request, context: EvaluateContext, handler: Handler, options?: HandleOptions): Promise<Response>;
  /** Applies the decision's headers to a handler's response (and strips the ones that leak). */
  finalize(response: Response, decision: Decision): Response;
  /**
   * A denial for a request the runtime could not even parse (bad request target or Host), or a
   * connection it gave up on (headers too large or too slow): `reason` says which, 400
   * `request.malformed` by default. Logged.
   */
  reject(context?: EvaluateContext & { method?: string; reason?: ReasonCode }): Deny;
}

interface CompiledRoute {
  pattern: string;
  parsed: ParsedPattern;
  authenticate: ReturnType<typeof compileAuthn>;
  authorize: ReturnType<typeof compileAuthz>;
  validate: ReturnType<typeof compileValidation>;
  reportOnly: boolean;
  /** `Cache-Control` of allowed answers, when the policy sets it. */
  cacheControl: string | undefined;
  /** Buckets that run before authentication (by ip / route) and after it. */
  preAuth: CompiledBucket[];
  postAuth: CompiledBucket[];
}

const settleNothing = async (): Promise<void> => {};

/** Request headers that make some servers act on a different method than the one we checked. */
const METHOD_OVERRIDE_HEADERS = ['x-http-method-override', 'x-http-method', 'x-method-override'];

/**
 * Compiles a policy into an engine. The policy is validated (as by `definePolicy`) if it was not.
 *
 * @example
 * ```ts
 * const engine = createEngine(policy);
 * const decision = await engine.evaluate(new Request('https://api.example.com/v1/health'));
 * if (decision.kind === 'deny') console.log(decision.status, decision.reason);
 * ```
 */
export function createEngine(policy: Policy, env: EngineEnv = {}): Engine {
  definePolicy(policy);
  const now = env.now ?? Date.now;
  const randomId = env.randomId ?? (() => crypto.randomUUID());
  const log = env.log ?? jsonLineSink;
  const authnEnv: AuthnEnv = {
    now,
    fetch: env.fetch ?? ((...args) => fetch(...args)),
    log: ({ reason, detail }) =>
      record({ time: new Date(now()).toISOString(), event: 'portcullis.notice', reason, error: detail, requestId: '-', method: '-', path: '-', route: null, clientIp: '-' }),
  };

  const resolveClient = compileClientResolver(policy.clientIp);
  const requireHttps = policy.transport?.requireHttps ?? true;
  const allowLoopbackHttp = policy.transport?.allowLoopbackHttp ?? false;
  const securityHeaders = compileSecurityHeaders(policy.headers, policy.transport);
  // Scripts may read the RateLimit headers of a limited API.
  const cors = policy.cors && compileCors(policy.cors, policy.rateLimits ? ['ratelimit', 'ratelimit-policy', 'retry-after'] : []);
  const versions = compileVersions(policy.versions);
  const maxPathLength = policy.routing?.maxPathLength ?? 2048;
  const methods = policy.authn ?? {};
  const expandRoles = compileHierarchy(policy.roleHierarchy);
  const store = env.rateLimitStore ?? memoryStore();
  const onStoreError = policy.rateLimiting?.onStoreError ?? 'deny';
  const storeTimeoutMs = policy.rateLimiting?.storeTimeoutMs ?? 1000;
  const reportOnly = policy.mode === 'report';
  const allowedHost = policy.hosts && compileHostAllowlist(policy.hosts);
  const observer = guardObserver(env.observer);
  const alerts = compileAlerts(policy.alerts);
  const buckets = new Map(Object.entries(policy.rateLimits ?? {}).map(([name, bucket]) => [name, compileBucket(name, bucket)]));
  const table = new RouteTable<CompiledRoute>(
    Object.entries(policy.routes).map(([pattern, route]: [string, RoutePolicy]) => {
      const parsed = parsePattern(pattern) as ParsedPattern;
      const compiled: CompiledRoute = {
        pattern,
        parsed,
        authenticate: compileAuthn(route.authn, methods),
        // Anonymous routes without rules admit everyone; authenticated ones must say (definePolicy checks).
        authorize: compileAuthz(route.allow ?? 'authenticated', expandRoles),
        validate: compileValidation(route, policy.limits),
        reportOnly: route.mode === 'report',
        cacheControl: route.cacheControl === false ? undefined : (route.cacheControl ?? (route.authn === 'anonymous' ? undefined : 'no-store')),
        preAuth: (route.rateLimit ?? []).map((name) => buckets.get(name)!).filter((bucket) => bucket.preAuth),
        postAuth: (route.rateLimit ?? []).map((name) => buckets.get(name)!).filter((bucket) => !bucket.preAuth),
      };
      return { pattern, parsed, route: compiled };
    }),
    { headFromGet: policy.routing?.headFromGet ?? false },
  );

  function record(event: SecurityEvent) {
    try {
      const written: unknown = log(event);
      // An async sink that rejects must not become an unhandled rejection that kills the process.
      if (written instanceof Promise) written.catch(() => {});
    } catch {
      // A broken log sink must not turn a denial into an allow or a crash.
    }
  }

  /** Per-request state shared by the stages and the denial builder. */
  interface Exchange {
    requestId: string;
    method: string;
    trace: TraceEntry[];
    headers: HeaderList;
    client: Client;
    route: string | undefined;
    /** The normalized path's segments (`undefined`: malformed), spelled out only when logged. */
    segments: readonly string[] | undefined;
    principal?: string;
    /** Buckets this request took from (or, for failure buckets, checked). */
    touched: { bucket: CompiledBucket; key: string; result: RateLimitResult }[];
    waitUntil: ((promise: Promise<unknown>) => void) | undefined;
    /** Report-only (policy or route): denials are logged as `portcullis.report` and let through. */
    report: boolean;
    /** The login's username, for failed-login alerts (read from the validated body). */
    username?: string;
  }

  function begin(method: string, waitUntil?: (promise: Promise<unknown>) => void): Exchange {
    const requestId = randomId();
    const headers = new HeaderList(securityHeaders);
    headers.set('x-request-id', requestId);
    // Every response of a CORS policy varies by Origin, errors included, or a cache may serve one
    // origin's answer to another.
    if (cors) headers.append('vary', 'Origin');
    const client: Client = { ip: 'unknown', scheme: 'http', forwarded: false, directLoopback: false };
    return { requestId, method, trace: [], headers, client, route: undefined, segments: undefined, touched: [], waitUntil, report: reportOnly };
  }

  function emit(x: Exchange, event: Pick<SecurityEvent, 'event' | 'reason' | 'status' | 'error' | 'reasons'> & Partial<RaisedAlert>) {
    const { requestId, method, client, principal } = x;
    const path = x.segments ? `/${x.segments.map(encodeURIComponent).join('/')}` : '(malformed)';
    record({ time: new Date(now()).toISOString(), requestId, method, path, route: x.route ?? null, clientIp: client.ip, principal, ...event });
  }

  /** Store work that may finish after the response: handed to waitUntil, or at least never unhandled. */
  function background(x: Exchange, work: Promise<unknown> | undefined) {
    if (!work) return;
    const guarded = work.catch((error) => storeFailed(x, error));
    x.waitUntil?.(guarded);
  }

  function storeFailed(x: Exchange, error: unknown) {
    observer?.storeFailed?.(store.name ?? 'custom');
    emit(x, { event: 'portcullis.error', reason: 'ratelimit.store_error', error: describe(error) });
  }

  /** What the alerts count of this exchange. */
  function alertRequest(x: Exchange): AlertRequest {
    return { requestId: x.requestId, clientIp: x.client.ip, route: x.route, principal: x.principal, username: x.username };
  }

  /** Counts for the alerts, and logs the ones raised: `portcullis.alert`, with the request that raised it. */
  async function watch(x: Exchange, counting: Promise<RaisedAlert[]>) {
    try {
      for (const raised of await counting) {
        observer?.alerted?.({ alert: raised.alert, kind: raised.kind });
        emit(x, { event: 'portcullis.alert', reason: `alert.${raised.kind}`, ...raised });
      }
    } catch (error) {
      storeFailed(x, error);
    }
  }

  /**
   * Settles failure-counting buckets once the response status is known (login brute force). With a
   * store that can refund, every attempt took a unit up front and a non-failure gives it back — so
   * attempts racing each other cannot all slip past the check; otherwise a failure takes its unit now.
   */
  function settler(x: Exchange): (status: number) => Promise<void> {
    const watched = alerts?.watchesAnswers(x.route) ?? false;
    if (!watched && !x.touched.some(({ bucket }) => bucket.failuresOnly)) return settleNothing;
    const failureBuckets = x.touched.filter(({ bucket }) => bucket.failuresOnly);
    let settled = false;
    return async (status) => {
      if (settled) return;
      settled = true;
      const alerting = watched ? watch(x, alerts!.answered(store, alertRequest(x), status, now())) : undefined;
      await Promise.all(
        failureBuckets.map(async ({ bucket, key, result }) => {
          const failed = bucket.failureStatuses.includes(status);
          if (store.refund) {
            // Only a unit that was taken is given back: a refused attempt (429) took none.
            if (!failed && result.success) await withTimeout(store.refund(bucket, key, now()), storeTimeoutMs);
          } else if (failed) {
            const result = await withTimeout(store.consume(bucket, key, now()), storeTimeoutMs);
            background(x, result.pending);
          }
        }),
      ).catch((error) => storeFailed(x, error));
      await alerting;
    };
  }

  /** Takes from the route's buckets; a denial when one is empty (or the store fails and the policy says deny). */
  async function limit(x: Exchange, list: readonly CompiledBucket[], context: KeyContext): Promise<Deny | undefined> {
    if (!list.length) return undefined;
    const at = now();
    let results: Exchange['touched'];
    try {
      results = await checkBuckets(store, list, context, at, storeTimeoutMs);
    } catch (error) {
      observer?.storeFailed?.(store.name ?? 'custom');
      if (onStoreError === 'deny') return deny(x, 'ratelimit.unavailable', 'ratelimit', { error });
      emit(x, { event: 'portcullis.error', reason: 'ratelimit.store_error', error: describe(error) });
      x.trace.push({ stage: 'ratelimit', outcome: 'pass', detail: 'store failed; let through (onStoreError: allow)' });
      return undefined;
    }
    x.touched.push(...results);
    for (const [name, value] of rateLimitHeaders(x.touched, at)) x.headers.set(name, value);
    let blocked: (typeof results)[number] | undefined;
    let left = '';
    for (const entry of results) {
      const { bucket, result } = entry;
      background(x, result.pending);
      left += `${left ? ', ' : ''}${bucket.name}: ${result.remaining} left`;
      if (result.success) continue;
      observer?.rateLimited?.(bucket.name);
      if (!bucket.reportOnly) {
        blocked ??= entry;
        continue;
      }
      emit(x, { event: 'portcullis.report', reason: 'ratelimit.exceeded', status: 429 });
      x.trace.push({ stage: 'ratelimit', outcome: 'pass', detail: `ratelimit.exceeded: ${bucket.name} (report only)` });
    }
    if (!blocked) {
      x.trace.push({ stage: 'ratelimit', outcome: 'pass', detail: left });
      return undefined;
    }
    x.headers.set('retry-after', String(Math.max(1, Math.ceil((blocked.result.reset - at) / 1000))));
    return deny(x, 'ratelimit.exceeded', 'ratelimit', { reasons: [`ratelimit.exceeded: ${blocked.bucket.name}`] });
  }

  /** A denial (or, with `answer`, a bodiless answer such as a preflight's 204). `error` stays in the log. */
  function deny(
    x: Exchange,
    reason: string,
    stage: string,
    options: { answer?: 204; error?: unknown; reasons?: string[]; detail?: string; errors?: FieldError[] } = {},
  ): Deny {
    const { requestId, client, route, trace, headers } = x;
    const reasons = options.reasons ?? [reason];
    trace.push({ stage, outcome: options.answer ? 'answer' : 'deny', detail: reasons.join('; ') });
    const status = options.answer ?? reasonInfo(reason).status;
    let problem: Problem | null = null;
    if (!options.answer) {
      problem = problemFor(reason, requestId);
      // Authorization failures say only "forbidden" to the caller; which rule failed is in the trace.
      if (options.detail !== undefined && !reason.startsWith('authz.')) problem.detail = options.detail;
      if (options.errors) problem.errors = options.errors;
      if (policy.dev) problem.trace = trace;
      const error = options.error === undefined ? undefined : describe(options.error);
      const event = error !== undefined ? 'portcullis.error' : x.report && !enforcedAlways(reason) ? 'portcullis.report' : 'portcullis.deny';
      // Which rules failed (`allow[1]: authz.not_owner`) goes to the log, never to the caller.
      const detailed = reasons.length !== 1 || reasons[0] !== reason ? reasons : undefined;
      emit(x, { event, reason, status, error, reasons: detailed });
      if (alerts?.watchesDenials && event !== 'portcullis.report' && status >= 400) background(x, watch(x, alerts.denied(store, alertRequest(x), now())));
    }
    return { kind: 'deny', status, reason, reasons, problem, requestId, client, route, trace, headers, settle: settler(x) };
  }

  function reject(context: EvaluateContext & { method?: string; reason?: ReasonCode } = {}): Deny {
    const x = begin(context.method ?? 'UNKNOWN');
    x.client = resolveClient(new Headers(), context.peer ?? {}, 'http://invalid/');
    return deny(x, context.reason ?? 'request.malformed', 'normalize');
  }

  async function evaluate(request: Request, context: EvaluateContext = {}): Promise<Decision> {
    if (!observer?.evaluated) return decide(request, context);
    const started = performance.now();
    const decision = await decide(request, context);
    const durationMs = performance.now() - started;
    const denied = decision.kind === 'deny' && decision.problem !== null;
    observer.evaluated({
      outcome: decision.kind === 'allow' && decision.reported ? 'report' : denied ? 'deny' : 'allow',
      reason: decision.kind === 'deny' ? decision.reason : decision.reported?.reason,
      status: decision.kind === 'deny' ? decision.status : decision.reported?.status,
      route: decision.route === '*' ? undefined : decision.route,
      method: request.method,
      startTime: performance.timeOrigin + started,
      durationMs,
    });
    return decision;
  }

  async function decide(request: Request, context: EvaluateContext): Promise<Decision> {
    const x = begin(request.method, context.waitUntil);
    const seen: Seen = {};
    const decision = await pipeline(x, request, context, seen);
    if (decision.kind === 'allow' || !x.report || decision.problem === null || enforcedAlways(decision.reason)) return decision;
    // Report-only: the denial was computed and logged as it would have been; the request goes on.
    const headers = decision.headers.clone();
    for (const name of ['www-authenticate', 'retry-after', 'location', 'allow']) headers.delete(name);
    // The answer let through is cached as the route's allowed answers are (`no-store` on an
    // authenticated route), and not at all when no route matched: nobody said it is public.
    const cacheControl = seen.cacheControl === undefined ? 'no-store' : seen.cacheControl;
    if (cacheControl !== null) headers.set('cache-control', cacheControl);
    const params = seen.params ?? {};
    return {
      kind: 'allow',
      requestId: x.requestId,
      client: x.client,
      route: x.route ?? '*',
      params,
      principal: seen.principal ?? ANONYMOUS,
      input: { params, query: undefined, headers: undefined, body: undefined },
      request: served(seen.request ?? request, seen.request ?? request, seen.href ?? request.url),
      reasons: [],
      reported: { reason: decision.reason, status: decision.status, reasons: decision.reasons },
      trace: x.trace,
      headers,
      settle: decision.settle,
    } satisfies Allow;
  }

  /** What the pipeline learned before a denial, for a report-only let-through. */
  interface Seen {
    /** The checked target's URL. */
    href?: string;
    params?: Readonly<Record<string, string>>;
    principal?: Principal;
    /** The request with its body unread, when validation read the original's. */
    request?: Request;
    /** The matched route's `Cache-Control` for allowed answers (`null`: none). */
    cacheControl?: string | null;
  }

  async function pipeline(x: Exchange, request: Request, context: EvaluateContext, seen: Seen): Promise<Decision> {
    const { headers, trace } = x;

    try {
      // 1. Normalize: the client, the target (host, path, query), then the path's segments.
      const peer = context.peer ?? {};
      x.client = resolveClient(request.headers, peer, request.url);
      if (context.rawTarget !== undefined && context.rawTarget.length > maxPathLength) return deny(x, 'request.malformed_path', 'normalize');
      // On Workers the URL is the one Cloudflare's edge routed by, and it is the host; the Host
      // header beside it may name something else (Miniflare's own address, a service binding's caller).
      const hostHeader = peer.platform === 'cloudflare' ? null : request.headers.get('host');
      const resolved = resolveTarget(request.url, hostHeader, context.rawTarget);
      if (!resolved.ok) return deny(x, resolved.reason, 'normalize');
      const target = resolved.target;
      // What the handler's request.url will be: the path and query checked here, on the socket's scheme.
      const href = targetHref(peer.scheme ?? schemeOf(request.url), target);
      seen.href = href;
      const normalized = normalizePath(target.path, maxPathLength);
      if (normalized.ok) x.segments = normalized.segments;
      if (!normalized.ok) return deny(x, 'request.malformed_path', 'normalize');
      if (allowedHost && !allowedHost(target.host)) return deny(x, 'request.misdirected', 'normalize');
      trace.push({ stage: 'normalize', outcome: 'pass', detail: `client ${x.client.ip} over ${x.client.scheme}` });

      // 2. Transport.
      if (requireHttps && x.client.scheme === 'http' && !(allowLoopbackHttp && x.client.directLoopback)) {
        if (x.method === 'GET' || x.method === 'HEAD') {
          // The checked host (a plain host[:port], allowed by `hosts`), without the port: the
          // plain-HTTP port is not the HTTPS one.
          headers.set('location', `https://${hostname(target.host)}${target.path}${target.search}`);
          return deny(x, 'transport.https_redirect', 'transport');
        }
        return deny(x, 'transport.https_required', 'transport');
      }

      // 3. CORS: preflights are answered here, before authentication.
      const allowOrigin = cors?.allowOrigin(request.headers.get('origin'));
      if (cors && x.method === 'OPTIONS' && isPreflight(request)) {
        headers.append('vary', 'Access-Control-Request-Method, Access-Control-Request-Headers');
        if (allowOrigin === undefined) return deny(x, 'cors.origin_denied', 'cors');
        const allowed = table.allowedFor(normalized.segments);
        if (!allowed) return deny(x, 'route.not_found', 'cors');
        const requested = request.headers.get('access-control-request-method')!;
        if (!allowed.includes(requested)) return deny(x, 'cors.method_denied', 'cors');
        for (const [name, value] of cors.preflightHeaders(allowOrigin, allowed, request.headers.get('access-control-request-headers'))) {
          headers.set(name, value);
        }
        return deny(x, 'cors.preflight', 'cors', { answer: 204 });
      }
      if (cors && allowOrigin !== undefined) {
        for (const [name, value] of cors.responseHeaders(allowOrigin)) headers.set(name, value);
      }
      trace.push({ stage: 'cors', outcome: cors ? 'pass' : 'skip', detail: cors ? (allowOrigin ? `origin ${allowOrigin}` : 'no allowed origin') : undefined });

      // 4. Route. Method-override headers are ignored: the method is the request line's.
      const match = table.match(x.method, normalized.segments);
      if (match.kind === 'not_found') return deny(x, 'route.not_found', 'route');
      if (match.kind === 'method_not_allowed') {
        headers.set('allow', match.allow.join(', '));
        return deny(x, 'route.method_not_allowed', 'route');
      }
      const compiled = match.entry.route;
      x.route = compiled.pattern;
      x.report ||= compiled.reportOnly;
      seen.params = match.params;
      seen.cacheControl = compiled.cacheControl ?? null;
      trace.push({ stage: 'route', outcome: 'pass', detail: compiled.pattern });

      // Versioning: deprecation headers, and 410 once the sunset has passed.
      const version = findVersion(versions, normalized.segments);
      if (version) {
        for (const [name, value] of version.headers) headers.set(name, value);
        if (version.deprecated) observer?.deprecated?.(compiled.pattern, version.name);
        if (version.sunsetAt !== undefined && now() >= version.sunsetAt) return deny(x, 'version.sunset', 'version');
        trace.push({ stage: 'version', outcome: 'pass', detail: `/${version.prefix.join('/')}` });
      }

      // 5. Pre-auth rate buckets (per IP / route): they protect authentication itself.
      const keyContext = { client: x.client, principal: ANONYMOUS as Principal, route: compiled.pattern, params: match.params, request };
      const preLimited = compiled.preAuth.length ? await limit(x, compiled.preAuth, keyContext) : undefined;
      if (preLimited) return preLimited;

      // 6. Authentication.
      const authn = await compiled.authenticate(request, authnEnv);
      if (!authn.ok) {
        observer?.authnFailed?.(authn.method, authn.reason);
        headers.set('www-authenticate', authn.challenge);
        return deny(x, authn.reason, 'authn');
      }
      const principal = authn.principal;
      seen.principal = principal;
      x.principal = `${principal.method}:${principal.id}`;
      trace.push({ stage: 'authn', outcome: 'pass', detail: x.principal });
      if (alerts?.watchesPrincipals && principal !== ANONYMOUS) background(x, watch(x, alerts.authenticated(store, alertRequest(x), now())));

      // 7. Per-principal rate buckets.
      const postLimited = compiled.postAuth.length ? await limit(x, compiled.postAuth, { ...keyContext, principal }) : undefined;
      if (postLimited) return postLimited;

      // 8. Authorization.
      const query = new URLSearchParams(target.search);
      const authz = await compiled.authorize({ principal, params: match.params, query, request, env: authnEnv });
      if (!authz.ok) return deny(x, 'authz.denied', 'authz', { reasons: authz.failures });
      trace.push({ stage: 'authz', outcome: 'pass', detail: authz.rule });

      // 9. Input validation. It reads the body; a request report-only mode may let through keeps
      // an unread copy for the handler (the check may stop at the size limit, or at a parse error).
      const unread = x.report && request.body !== null && !request.bodyUsed ? request.clone() : undefined;
      const valid = await compiled.validate(request, query, href, match.params, expandRoles(principal.roles));
      if (unread && valid.ok) void unread.body?.cancel().catch(() => {});
      else if (unread) seen.request = unread;
      if (!valid.ok) {
        // A forbidden field is named in the trace and the log (reasons), never to the caller.
        const reasons = valid.reason.startsWith('authz.') && valid.detail ? [`${valid.reason}: ${valid.detail}`] : undefined;
        return deny(x, valid.reason, 'validate', { detail: valid.detail, errors: valid.errors, reasons });
      }
      trace.push({ stage: 'validate', outcome: 'pass' });
      const usernameField = alerts?.usernameField(compiled.pattern);
      if (usernameField) x.username = fieldAt(valid.input.body, usernameField);
      if (compiled.cacheControl !== undefined) headers.set('cache-control', compiled.cacheControl);

      return {
        kind: 'allow',
        requestId: x.requestId,
        client: x.client,
        route: compiled.pattern,
        params: match.params,
        principal,
        input: valid.input,
        request: served(valid.request, request, href),
        reasons: [],
        trace,
        headers,
        settle: settler(x),
      } satisfies Allow;
    } catch (error) {
      // Fail closed, say nothing: the detail goes to the log only.
      headers.delete('location');
      headers.delete('www-authenticate');
      return deny(x, 'internal.error', 'engine', { error });
    }
  }

  function finalize(response: Response, decision: Decision): Response {
    let doomed: string[] | undefined;
    for (const name of response.headers.keys()) if (leaks(name)) (doomed ??= []).push(name);
    const out = writable(response);
    for (const name of doomed ?? []) out.headers.delete(name);
    decision.headers.forEach((value, name) => (name === 'vary' ? out.headers.append(name, value) : out.headers.set(name, value)));
    return out;
  }

  async function handle(request: Request, context: EvaluateContext, handler: Handler, options: HandleOptions = {}): Promise<Response> {
    const decision = await evaluate(request, context);
    if (decision.kind === 'deny') return settle(decision, context, denialResponse(decision));
    try {
      const response = await handler(decision.request, decision);
      if (!options.setHeaders) return await settle(decision, context, finalize(response, decision));
      options.setHeaders(decision.headers);
      return await settle(decision, context, response);
    } catch (error) {
      const x: Exchange = {
        ...decision,
        principal: `${decision.principal.method}:${decision.principal.id}`,
        method: request.method,
        segments: new URL(request.url).pathname.split('/').filter(Boolean).map((segment) => decodeURIComponent(segment)),
        trace: [...decision.trace],
        touched: [],
        waitUntil: context.waitUntil,
        report: false,
      };
      // The client left while the handler worked (a fetch bound to the request's signal aborted):
      // its doing, not a server error — else anyone floods error alerting by hanging up.
      if (request.signal.aborted) return denialResponse(deny(x, 'client.aborted', 'handler'));
      return denialResponse(deny(x, 'internal.error', 'handler', { error }));
    }
  }

  return { policy, evaluate, handle, finalize, reject };
}

/** Settles the decision's failure buckets with the response's status: in the background where the runtime has waitUntil. */
async function settle(decision: Decision, context: EvaluateContext, response: Response): Promise<Response> {
  const settling = decision.settle(response.status);
  if (context.waitUntil) context.waitUntil(settling);
  else await settling;
  return response;
}

/**
 * The response itself when its headers can change: a handler's own Response is changed in place
 * (copying it would turn its body into a stream the server must pump); one from fetch() has
 * immutable headers and is copied.
 */
function writable(response: Response): Response {
  try {
    response.headers.delete('x-powered-by');
    return response;
  } catch {
    return new Response(response.body, response);
  }
}

/** The scheme of a serialized URL, such as `request.url`. */
function schemeOf(url: string): string {
  return url.slice(0, url.indexOf(':')).toLowerCase();
}

/**
 * The request the handler gets: exactly the checked target (`href`), without method-override
 * headers. `forward` is what validation made of `original` (a new Request when it read the body,
 * already at `href`); the original is rebuilt only when the runtime's URL differs from the target.
 */
function served(forward: Request, original: Request, href: string): Request {
  const moved = forward === original && forward.url !== href && new URL(href).href !== forward.url;
  const override = METHOD_OVERRIDE_HEADERS.some((name) => forward.headers.has(name));
  if (!moved && !override) return forward;
  const headers = new Headers(forward.headers);
  for (const name of METHOD_OVERRIDE_HEADERS) headers.delete(name);
  if (!moved) return new Request(forward, { headers });
  const hasBody = forward.method !== 'GET' && forward.method !== 'HEAD' && forward.body !== null;
  // A streamed body needs `duplex` on Node; the DOM typings do not know it yet.
  const init = { method: forward.method, headers, body: hasBody ? forward.body : null, signal: forward.signal, redirect: forward.redirect, duplex: 'half' };
  return new Request(href, init as RequestInit);
}

/**
 * Reasons that report mode never turns into an allow: a request whose target or framing cannot be
 * read the same way by the gateway and the handler is not a rule being tried out.
 */
function enforcedAlways(reason: string): boolean {
  return reason === 'internal.error' || reason.startsWith('request.') || reason.startsWith('client.');
}

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
