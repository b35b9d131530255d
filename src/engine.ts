/**
 * The engine: compiles a policy once into the stages of the pipeline, then runs each request
 * through them in order — normalize, the policy's network rules, transport, CORS, route and its
 * network rules, version, the rate limits that protect authentication, authentication, the
 * per-principal rate limits, authorization, validation, quota. The
 * first stage that refuses decides; a request no stage refuses is allowed.
 * @module
 */

import type { AuthnEnv, FetchLike } from './authn/contract.ts';
import type { NativeCrypto } from './authn/native-crypto.ts';
import { compileClientResolver } from './client.ts';
import { decisions } from './decide.ts';
import { denialResponse, type Allow, type Decision, type Deny, type ReasonCode } from './decision.ts';
import type { EvaluateContext, Exchange, HandlerContext, StageEnv, StageResult } from './exchange.ts';
import type { HeaderList } from './header-list.ts';
import { jsonLineSink, type SecuritySink } from './log.ts';
import { definePolicy } from './policy/define.ts';
import type { Policy } from './policy/types.ts';
import { letThrough, reportable } from './report-mode.ts';
import { finalize, settle } from './response.ts';
import { authnStage } from './stages/authn.ts';
import { authzStage } from './stages/authz.ts';
import { answerStage } from './stages/response.ts';
import { corsStage } from './stages/cors.ts';
import { networkStages } from './stages/network.ts';
import { normalizeStage } from './stages/normalize.ts';
import { quotaStage } from './stages/quota.ts';
import { rateLimitStages, settleNothing, withTimeout } from './stages/ratelimit.ts';
import { compileRoutes, routeStage } from './stages/route.ts';
import { transportStage } from './stages/transport.ts';
import { validateStage } from './stages/validate.ts';
import { versionStage } from './stages/versioning.ts';
import { alertStages } from './stages/alerts.ts';
import { memoryStore } from './stores/memory.ts';
import { guardObserver, type EngineObserver, type EvaluationRecord } from './telemetry/observer.ts';
import type { RateLimitStore } from './stores/types.ts';

export type { EvaluateContext, HandlerContext } from './exchange.ts';

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
  /**
   * The runtime's own crypto for the work done per request: a new token's signature (`jwt()`,
   * DPoP proofs) and the SHA-256 of API keys and tokens. Synchronous, it skips WebCrypto's trip
   * through a thread pool (Node 20: an API key's hash a few µs instead of ~40, an HS256 check ~5 µs
   * instead of ~45, an ES256 one ~60 µs of the request's own thread instead of ~100 on the pool).
   * It only ever confirms: a signature it does not confirm is checked by WebCrypto, so every refusal
   * and its reason are WebCrypto's. `serve()` (Node) and `guard()` (Bun, Deno) pass one for SHA-256
   * and HMAC unless the env sets `crypto` (`crypto: undefined` keeps WebCrypto alone).
   * @default none: WebCrypto (`crypto.subtle`) only
   * @example
   * ```ts
   * import { nodeCrypto } from 'portcullis/node';
   * const engine = createEngine(policy, { crypto: nodeCrypto() });
   * ```
   */
  crypto?: NativeCrypto;
}

/**
 * A handler for allowed requests: the app, or a forwarder to the origin. `context` carries what the
 * adapter offers handlers (a transport for `forwardTo`).
 */
export type Handler = (request: Request, decision: Allow, context?: HandlerContext) => Response | Promise<Response>;

/** How `handle` hands over the headers of an allowed request. */
export interface HandleOptions {
  /**
   * For adapters that write the response themselves: the decision's headers go here instead of
   * onto the handler's Response (whose WHATWG `Headers`, once touched, cost more per request than
   * the rest of a cached-token decision), and the Response is returned untouched. The adapter then
   * applies the response rules (`responseHeaderFate`) where the Response's headers meet the wire,
   * as adapters/node.ts does.
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
   * The answer rules for an allowed request's response, before its headers are applied: a 5xx body
   * the gateway did not write becomes a problem that says nothing, and the route's `response` rule
   * reads a JSON answer and removes what the caller may not read (or answers 502, logged). `handle`
   * does this itself; the Hono middleware calls it after the handler. Returns `response` itself when
   * no rule applies.
   */
  protect(response: Response, decision: Allow): Promise<Response>;
  /**
   * A denial for a request the runtime could not even parse (bad request target or Host), or a
   * connection it gave up on (headers too large or too slow): `reason` says which, 400
   * `request.malformed` by default. Logged.
   */
  reject(context?: EvaluateContext & { method?: string; reason?: ReasonCode }): Deny;
}

const ENGINE = Symbol.for('portcullis.engine');

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
  const record = guardedSink(env.log ?? jsonLineSink);
  const store = env.rateLimitStore ?? memoryStore();
  const authn: AuthnEnv = {
    now,
    fetch: env.fetch ?? ((...args) => fetch(...args)),
    log: ({ reason, detail }) =>
      record({ time: new Date(now()).toISOString(), event: 'portcullis.notice', reason, error: detail, requestId: '-', method: '-', path: '-', route: null, clientIp: '-' }),
    ...replayCache(policy, store, now),
    ...(env.crypto && { crypto: env.crypto }),
  };
  const observer = guardObserver(env.observer);
  const { begin, allow, deny, emit } = decisions(policy, {
    now,
    randomId,
    record,
    settler: (x) => bothSettlers(releasing(limits.settler(x), x), alerts.settler(x)),
    denied: (x, status) => alerts.denied(x, status),
  });
  const stageEnv: StageEnv = { now, authn, store, emit, observer };

  // The pipeline's stages, compiled once, in the order they run.
  const resolveClient = compileClientResolver(policy.clientIp);
  const routes = compileRoutes(policy);
  const normalize = normalizeStage(policy, resolveClient);
  const network = networkStages(policy);
  const transport = transportStage(policy);
  const cors = corsStage(policy, routes);
  const route = routeStage(routes);
  const version = versionStage(policy, stageEnv);
  const limits = rateLimitStages(policy, stageEnv);
  const authenticate = authnStage(policy, stageEnv);
  const authorize = authzStage(policy, stageEnv);
  const validate = validateStage(policy);
  const quota = quotaStage(policy, stageEnv);
  const alerts = alertStages(policy, stageEnv);
  const answer = answerStage(policy);

  /** One request through the stages: the first refusal, or nothing when every stage let it pass. */
  async function run(x: Exchange): Promise<StageResult> {
    // A stage that answers synchronously is not awaited: a request does not wait a microtask for
    // nothing. (The stages are called one by one: a loop over them makes one call site call them
    // all, which V8 cannot inline.)
    let step: StageResult | Promise<StageResult> =
      normalize(x) ?? network.beforeRouting(x) ?? transport(x) ?? cors(x) ?? route(x) ?? network.afterRouting(x) ?? version(x) ?? limits.beforeAuthn(x);
    if ((step instanceof Promise ? (step = await step) : step) !== undefined) return step;
    step = authenticate(x);
    if ((step instanceof Promise ? (step = await step) : step) !== undefined) return step;
    step = alerts.afterAuthn(x);
    if ((step instanceof Promise ? (step = await step) : step) !== undefined) return step;
    step = limits.afterAuthn(x);
    if ((step instanceof Promise ? (step = await step) : step) !== undefined) return step;
    step = authorize(x);
    if ((step instanceof Promise ? (step = await step) : step) !== undefined) return step;
    step = validate(x);
    if ((step instanceof Promise ? (step = await step) : step) !== undefined) return step;
    step = alerts.afterValidate(x);
    if ((step instanceof Promise ? (step = await step) : step) !== undefined) return step;
    // Last: only calls the policy lets through use up the allowance.
    step = quota(x);
    return step instanceof Promise ? await step : step;
  }

  // Not async: an async function returning decide's promise would cost the request two more microtasks.
  function evaluate(request: Request, context: EvaluateContext = {}): Promise<Decision> {
    return observer?.evaluated ? observed(request, context, observer.evaluated) : decide(request, context);
  }

  async function observed(request: Request, context: EvaluateContext, evaluated: NonNullable<EngineObserver['evaluated']>): Promise<Decision> {
    const started = performance.now();
    const decision = await decide(request, context);
    evaluated(evaluationRecord(request, decision, started));
    return decision;
  }

  async function decide(request: Request, context: EvaluateContext): Promise<Decision> {
    const x = begin(request, context);
    let refusal: StageResult;
    try {
      refusal = await run(x);
    } catch (error) {
      // Fail closed, say nothing: the detail goes to the log only.
      x.headers.delete('location');
      x.headers.delete('www-authenticate');
      refusal = { stage: 'engine', reason: 'internal.error', error };
    }
    if (!refusal) return allow(x);
    const denial = deny(x, refusal);
    return x.report && denial.problem !== null && reportable(denial.reason) ? letThrough(x, denial) : denial;
  }

  async function handle(request: Request, context: EvaluateContext, handler: Handler, options: HandleOptions = {}): Promise<Response> {
    const decision = await evaluate(request, context);
    if (decision.kind === 'deny') return settled(decision, context, denialResponse(decision));
    try {
      // A handler or rule that answers synchronously is not awaited.
      const handling = handler(decision.request, decision, context);
      const handled = handling instanceof Promise ? await handling : handling;
      const checked = answered(handled, decision, context);
      const response = checked instanceof Promise ? await checked : checked;
      if (!options.setHeaders) return await settled(decision, context, finalize(response, decision));
      options.setHeaders(decision.headers);
      const done = settled(decision, context, response);
      return done instanceof Promise ? await done : done;
    } catch (error) {
      const x = afterHandler(request, context, decision);
      // The client left while the handler worked (a fetch bound to the request's signal aborted):
      // its doing, not a server error — else anyone floods error alerting by hanging up.
      if (request.signal.aborted) return denialResponse(deny(x, { stage: 'handler', reason: 'client.aborted' }));
      return denialResponse(deny(x, { stage: 'handler', reason: 'internal.error', error }));
    }
  }

  /** The answer rules on a handler's response: the response itself, at once, when none applies. */
  function answered(response: Response, decision: Allow, context: EvaluateContext): Response | Promise<Response> {
    const checking = answer(response, decision);
    if (!checking) return response;
    return checking.then((out) => (out instanceof Response ? out : denialResponse(deny(afterHandler(decision.request, context, decision), out))));
  }

  async function protect(response: Response, decision: Allow): Promise<Response> {
    return answered(response, decision, {});
  }

  function reject(context: EvaluateContext & { method?: string; reason?: ReasonCode } = {}): Deny {
    const x = begin(new Request('http://invalid/', { method: 'GET' }), context, context.method ?? 'UNKNOWN');
    x.client = resolveClient(new Headers(), context.peer ?? {}, 'http://invalid/');
    return deny(x, { stage: 'normalize', reason: context.reason ?? 'request.malformed' });
  }

  return brand({ policy, evaluate, handle, finalize, protect, reject });
}

/** An engine as given, or one compiled from a policy: what an adapter accepts. */
export function engineFor(policy: Policy | Engine, env?: EngineEnv): Engine {
  return isEngine(policy) ? policy : createEngine(policy, env);
}

/** Whether `value` came from `createEngine`. */
export function isEngine(value: unknown): value is Engine {
  return typeof value === 'object' && value !== null && (value as { [ENGINE]?: true })[ENGINE] === true;
}

function brand(engine: Engine): Engine {
  return Object.defineProperty(engine, ENGINE, { value: true });
}

/** The decision's failure buckets settled with the response's status, then the response (at once when there is nothing to settle). */
function settled(decision: Decision, context: EvaluateContext, response: Response): Response | Promise<Response> {
  if (decision.settle === settleNothing) return response;
  return settle(decision, response.status, context.waitUntil).then(() => response);
}

/** The exchange of an allowed request whose handler failed: its denial is logged as the request's. */
function afterHandler(request: Request, context: EvaluateContext, decision: Allow): Exchange {
  const segments = new URL(request.url).pathname.split('/').filter(Boolean).map((segment) => decodeURIComponent(segment));
  const { requestId, client, route, principal, headers } = decision;
  return { request, context, requestId, method: request.method, trace: [...decision.trace], headers, report: false, client, segments, route, principal, touched: [] };
}

/**
 * Settles the buckets, and releases what authentication recorded when the request was not served
 * (an answer of 400 or more, the gateway's or the origin's): the sender may send it again.
 */
function releasing(settle: (status: number) => Promise<void>, x: Exchange): (status: number) => Promise<void> {
  if (!x.release) return settle;
  return async (status) => {
    const release = status >= 400 ? x.release : undefined;
    x.release = undefined;
    // A release that fails leaves the entry: a retry is then refused, which fails closed.
    await Promise.all([settle(status), release?.().catch(() => {})]);
  };
}

/**
 * The replay cache of methods that refuse replays (DPoP proofs, signed requests): the rate-limit
 * store's `firstUse`, timed out as its buckets are, so a fleet sharing the store refuses a replay
 * together. A policy with such a method and a store without `firstUse` is refused here, not at the
 * first request: a per-process cache in its place would let a fleet accept each replay once per
 * gateway, and nothing would say so.
 */
function replayCache(policy: Policy, store: RateLimitStore, now: () => number): Pick<AuthnEnv, 'firstUse' | 'forget'> {
  for (const [name, method] of Object.entries(policy.authn ?? {})) {
    if (method.usesReplayCache && !store.firstUse) {
      throw new TypeError(
        `createEngine: authn.${name} refuses replays, which needs a rate-limit store with firstUse (memory, Redis, Upstash, Durable Objects); the ${store.name ?? 'custom'} store has none`,
      );
    }
  }
  if (!store.firstUse) return {};
  const timeoutMs = policy.rateLimiting?.storeTimeoutMs ?? 1000;
  return {
    firstUse(key, expiresAt) {
      const call = store.firstUse!(key, expiresAt, now());
      return store.inProcess ? call : withTimeout(call, timeoutMs);
    },
    ...(store.forget && { forget: (key: string) => withTimeout(store.forget!(key), timeoutMs) }),
  };
}

/** The exchange's settlements, after the response: failure buckets, then alerts watching answers. */
function bothSettlers(buckets: (status: number) => Promise<void>, alerts: ((status: number) => Promise<void>) | undefined) {
  if (!alerts) return buckets;
  return async (status: number) => {
    await Promise.all([buckets(status), alerts(status)]);
  };
}

/** What the observer is told of a decision made since `started` (a `performance.now()`). */
function evaluationRecord(request: Request, decision: Decision, started: number): EvaluationRecord {
  const durationMs = performance.now() - started;
  const denied = decision.kind === 'deny' && decision.problem !== null;
  return {
    outcome: decision.kind === 'allow' && decision.reported ? 'report' : denied ? 'deny' : 'allow',
    reason: decision.kind === 'deny' ? decision.reason : decision.reported?.reason,
    status: decision.kind === 'deny' ? decision.status : decision.reported?.status,
    route: decision.route === '*' ? undefined : decision.route,
    method: request.method,
    startTime: performance.timeOrigin + started,
    durationMs,
  };
}

/** A sink that can neither throw into the pipeline nor leave an unhandled rejection behind. */
function guardedSink(log: SecuritySink): SecuritySink {
  return (event) => {
    try {
      const written: unknown = log(event);
      if (written instanceof Promise) written.catch(() => {});
    } catch {
      // A broken log sink must not turn a denial into an allow or a crash.
    }
  };
}
