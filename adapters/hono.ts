/**
 * Hono adapter: `portcullis(policy)` middleware.
 *
 * Hono routes the request to a handler; the policy's route table still decides whether it may run
 * (the policy is the source of truth, so a Hono route the policy does not name is a 404). Allowed
 * requests reach the handler with the principal, the validated input and the decision on `c.var`,
 * and with the body the validation read put back, so `await c.req.json()` works. The decision's
 * headers are applied to whatever response goes out, including one made by `app.onError`.
 * @module
 */

import type { Context, MiddlewareHandler } from 'hono';
import { matchedRoutes } from 'hono/route';
import type { GetConnInfo } from 'hono/conninfo';
import {
  denialResponse,
  type Allow,
  type Engine,
  type EngineEnv,
  type EvaluateContext,
  type InferOutput,
  type Policy,
  type Principal,
  type RoutePolicy,
} from '../src/index.ts';
import { engineFor } from '../src/engine.ts';
import { settle } from '../src/response.ts';
import { guardResponse, nodeResponseOf } from './node-response.ts';

/** Options of `portcullis`. */
export interface PortcullisOptions {
  /**
   * The runtime's connection info, for the client address: `getConnInfo` from `hono/bun`,
   * `hono/deno` or `@hono/node-server/conninfo` (on Workers, see `platform`). Without it the client
   * address is unknown: IP rate limits share one bucket and `allowLoopbackHttp` never applies.
   */
  getConnInfo?: GetConnInfo;
  /**
   * `cloudflare` on Workers: the client address is `CF-Connecting-IP` when the policy trusts
   * `cloudflare` (`clientIp.trustedProxies`), and unknown otherwise — the policy decides, as with
   * the Workers gateway. Use it instead of hono/cloudflare-workers' `getConnInfo`, which hands over
   * that header whatever the policy says.
   */
  platform?: 'cloudflare';
  /**
   * The scheme the server listens with. Never taken from the request line, where an absolute-form
   * target can claim `https` on a plain-HTTP socket.
   * @default the socket's on `@hono/node-server`; the URL's (set by Cloudflare's edge) with
   * `platform: 'cloudflare'`; `'http'` elsewhere — say `'https'` when Bun or Deno serve TLS themselves
   */
  scheme?: 'http' | 'https';
  /** Clock, ids, fetch, log sink and rate-limit store for the engine (ignored when an Engine is passed). */
  env?: EngineEnv;
}

/** `"GET /v1/users/:id"` → `'id'`. */
type ParamNames<Path extends string> = Path extends `${string}:${infer Name}/${infer Rest}`
  ? Name | ParamNames<`/${Rest}`>
  : Path extends `${string}:${infer Name}`
    ? Name
    : never;

type PathOf<Pattern> = Pattern extends `${string} ${infer Path}` ? Path : string;

type Output<Schema, Otherwise> = Schema extends { '~standard': unknown } ? InferOutput<Schema> : Otherwise;

/** The body of an allowed request: the schema's output, or the parsed body of a route that declares only media types. */
type BodyOf<R> = R extends { body: infer Schema }
  ? Output<Schema, undefined>
  : R extends { contentTypes: readonly string[] }
    ? unknown
    : undefined;

/** A report-only route lets invalid input through: nothing in it is validated then. */
type Reported<P, R, T> = P extends { mode: 'report' } ? T | undefined : R extends { mode: 'report' } ? T | undefined : T;

/** The validated input of one route, tagged with its pattern. */
export type RouteInput<P extends Policy, K extends keyof P['routes']> = K extends string
  ? {
      readonly route: K;
      readonly params: Output<P['routes'][K] extends { params: infer S } ? S : undefined, Readonly<Record<ParamNames<PathOf<K>>, string>>>;
      readonly query: Reported<P, P['routes'][K], Output<P['routes'][K] extends { query: infer S } ? S : undefined, undefined>>;
      readonly headers: Reported<P, P['routes'][K], Output<P['routes'][K] extends { headers: infer S } ? S : undefined, undefined>>;
      readonly body: Reported<P, P['routes'][K], BodyOf<P['routes'][K]>>;
    }
  : never;

/** In report-only mode a request no route matches is let through as `'*'`. */
type UnroutedInput = {
  readonly route: '*';
  readonly params: Readonly<Record<string, string>>;
  readonly query: undefined;
  readonly headers: undefined;
  readonly body: undefined;
};

/** `c.var.input`: a union over the policy's routes, narrowed by `input.route` (or by `routeInput`). */
export type PolicyInput<P extends Policy> =
  | { [K in keyof P['routes']]: RouteInput<P, K> }[keyof P['routes']]
  | (P extends { mode: 'report' } ? UnroutedInput : P['routes'][keyof P['routes']] extends infer R ? (R extends { mode: 'report' } ? UnroutedInput : never) : never);

/** What the middleware puts on `c.var`. */
export interface PortcullisVariables<P extends Policy = Policy> {
  principal: Principal;
  input: PolicyInput<P>;
  decision: Allow;
}

/**
 * The Hono `Env` of an app behind `portcullis(policy)`: `new Hono<PortcullisEnv<typeof policy>>()`.
 * Merge your own bindings: `PortcullisEnv<typeof policy> & { Bindings: { DB: D1Database } }`.
 */
export type PortcullisEnv<P extends Policy = Policy> = { Variables: PortcullisVariables<P> };

/**
 * The validated input of the route the handler serves, typed from that route's schemas. Throws
 * when the policy matched another route: a Hono route and a policy route that disagree are a bug.
 *
 * @example
 * ```ts
 * users.patch('/:id', (c) => {
 *   const { body } = routeInput(c, 'PATCH /v1/users/:id'); // { name?: string; email?: string }
 *   return c.json(body);
 * });
 * ```
 */
export function routeInput<I extends { readonly route: string }, K extends I['route']>(
  c: { var: { input: I } },
  route: K,
): Extract<I, { readonly route: K }> {
  const input = c.var.input;
  if (input.route !== route) throw new Error(`routeInput: this request matched the policy route "${input.route}", not "${route}"`);
  return input as Extract<I, { readonly route: K }>;
}

/**
 * Guards every route after it with the policy. Mount it first, before anything that reads the body.
 *
 * @example
 * ```ts
 * import { Hono } from 'hono';
 * import { getConnInfo } from 'hono/bun';
 * import { portcullis, type PortcullisEnv } from 'portcullis/hono';
 *
 * const app = new Hono<PortcullisEnv<typeof policy>>();
 * app.use(portcullis(policy, { getConnInfo }));
 * app.get('/v1/users/:id', (c) => c.json({ caller: c.var.principal.id }));
 * ```
 * @see https://hono.dev/docs/helpers/conninfo
 */
export function portcullis<P extends Policy>(policy: P | Engine, options: PortcullisOptions = {}): MiddlewareHandler<PortcullisEnv<P>> {
  const engine = engineFor(policy, options.env);
  const { getConnInfo, platform } = options;

  const runtime: RuntimeCtx = { hasExecutionCtx: undefined };
  return async function portcullisMiddleware(c, next) {
    const waitUntil = waitUntilOf(c, runtime);
    const scheme = options.scheme ?? (platform === 'cloudflare' ? undefined : socketScheme(c.env));
    const context: EvaluateContext = { peer: { address: getConnInfo?.(c).remote.address, platform, scheme }, waitUntil };
    const decision = await engine.evaluate(c.req.raw, context);
    if (decision.kind === 'deny') {
      const response = denialResponse(decision);
      await settle(decision, response.status, waitUntil);
      return response;
    }
    const disagreement = routeDisagreement(c, decision);
    if (disagreement) {
      await settle(decision, 500, waitUntil);
      throw new RouteMismatchError(disagreement);
    }

    c.set('principal', decision.principal);
    c.set('input', { route: decision.route, ...decision.input } as PolicyInput<P>);
    c.set('decision', decision);
    // The engine may have read the body to validate it: the handler gets the request it forwards
    // (the body it checked, method-override headers gone), never a second, unchecked read.
    c.req.raw = decision.request;
    c.req.bodyCache = {};
    await next();
    const answered = await engine.protect(c.res, decision);
    if (answered !== c.res) {
      c.res = undefined;
      c.res = answered;
    }
    const outgoing = nodeResponseOf(c.env);
    if (outgoing) {
      // On @hono/node-server: the headers go into the ServerResponse's head and the Response is left as it is.
      guardResponse(outgoing, decision.headers);
    } else {
      // `c.res =` would merge the old response's headers back in; replace the response outright.
      const finalized = engine.finalize(c.res, decision);
      c.res = undefined;
      c.res = finalized;
    }
    await settle(decision, c.res.status, waitUntil);
  };
}

/**
 * The app and the policy disagree about a request: the Hono handler that would answer it reads
 * params the policy did not check (a `/files/:id` registered before `/files/public`, a param of
 * another name). A configuration error, thrown to `app.onError` instead of running the handler.
 */
export class RouteMismatchError extends Error {
  readonly code = 'ERR_ROUTE_MISMATCH';
  constructor(message: string) {
    super(message);
    this.name = 'RouteMismatchError';
  }
}

/**
 * Why the handlers Hono will run for this request serve something other than what the policy
 * allowed, or undefined when they do not: each param a handler after this middleware reads, up to
 * and including the one that answers, must be one the policy's route bound, with the same value. A
 * middleware runs before the answering handler, and a handler declared `(c, next)` may answer
 * without calling `next`, so their params count too. A catch-all handler reads none.
 */
function routeDisagreement(c: Context, decision: Allow): string | undefined {
  // Report-only mode let through a request no policy route matched: there is nothing to agree with.
  if (decision.route === '*') return undefined;
  const routes = matchedRoutes(c);
  const self = c.req.routeIndex;
  try {
    for (let i = self + 1; i < routes.length; i++) {
      c.req.routeIndex = i;
      const params = c.req.param() as Record<string, string>;
      for (const name of Object.keys(params)) {
        if (!Object.hasOwn(decision.params, name) || decision.params[name] !== params[name]) {
          const { method, path } = routes[i]!;
          return `portcullis: the Hono route ${method} ${path} would run with params ${JSON.stringify(params)}, but the policy allowed this request as "${decision.route}" with params ${JSON.stringify({ ...decision.params })}: make the app's routes and the policy's agree`;
        }
      }
      // Hono runs the matched handlers in order; the first that takes no `next` answers. A sub-app
      // with its own onError, mounted with app.route(), has each of its handlers wrapped in one that does.
      if (unwrapped(routes[i]!.handler).length < 2) break;
    }
  } finally {
    c.req.routeIndex = self;
  }
  return undefined;
}

/** Hono marks the handler it wraps for a sub-app's onError with this key (hono/utils/constants). */
const COMPOSED_HANDLER = '__COMPOSED_HANDLER';

function unwrapped(handler: Function): Function {
  return (handler as unknown as Record<string, Function | undefined>)[COMPOSED_HANDLER] ?? handler;
}

/** `@hono/node-server` passes `{ incoming, outgoing }` as `c.env`: its socket says whether TLS is on. */
function socketScheme(env: unknown): 'http' | 'https' {
  const socket = (env as { incoming?: { socket?: { encrypted?: boolean } } } | undefined)?.incoming?.socket;
  return socket?.encrypted ? 'https' : 'http';
}

/** `executionCtx.waitUntil` on Workers (and Hono on runtimes that pass one); the getter throws elsewhere. */
/**
 * Whether this runtime hands Hono an ExecutionContext (Workers) or not (Node, Bun, Deno). Hono's
 * getter throws when there is none; a runtime does not change between requests, so ask once
 * instead of building an Error on every request.
 */
interface RuntimeCtx {
  hasExecutionCtx: boolean | undefined;
}

function waitUntilOf(c: Context, runtime: RuntimeCtx): EvaluateContext['waitUntil'] {
  if (runtime.hasExecutionCtx === false) return undefined;
  let ctx: { waitUntil(promise: Promise<unknown>): void };
  try {
    ctx = c.executionCtx;
  } catch {
    runtime.hasExecutionCtx ??= false;
    return undefined;
  }
  runtime.hasExecutionCtx = true;
  return (promise) => ctx.waitUntil(promise);
}

