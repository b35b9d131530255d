/**
 * The Hono app and the policy must agree on the route that answers a request: the handler that
 * runs reads only params the policy checked, with the values it checked.
 * @module
 */

import type { Context } from 'hono';
import { matchedRoutes } from 'hono/route';
import type { Allow } from '../src/index.ts';

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
export function routeDisagreement(c: Context, decision: Allow): string | undefined {
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
