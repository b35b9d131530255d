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
import type { GetConnInfo } from 'hono/conninfo';
import { denialResponse, type Engine, type EngineEnv, type EvaluateContext, type Policy } from '../src/index.ts';
import { engineFor } from '../src/engine.ts';
import { settle } from '../src/response.ts';
import { RouteMismatchError, routeDisagreement } from './hono-routes.ts';
import type { PolicyInput, PortcullisEnv } from './hono-types.ts';
import { guardResponse, nodeResponseOf } from './node-response.ts';

export { RouteMismatchError } from './hono-routes.ts';
export { routeInput, type PolicyInput, type PortcullisEnv, type PortcullisVariables, type RouteInput } from './hono-types.ts';

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

