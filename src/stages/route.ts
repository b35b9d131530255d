/**
 * Route: the policy route that the method and normalized path match. Method-override headers are
 * ignored: the method is the request line's.
 * @module
 */

import { refuse, type Stage } from '../exchange.ts';
import type { Policy, RoutePolicy } from '../policy/types.ts';
import { parsePattern, RouteTable, type ParsedPattern } from '../router.ts';

/** What the route stage knows of each route. */
export interface RouteInfo {
  pattern: string;
  reportOnly: boolean;
  /** `Cache-Control` of allowed answers, when there is one. */
  cacheControl: string | undefined;
}

/** The policy's routes, ready to match. */
export function compileRoutes(policy: Policy): RouteTable<RouteInfo> {
  return new RouteTable<RouteInfo>(
    Object.entries(policy.routes).map(([pattern, route]: [string, RoutePolicy]) => ({
      pattern,
      parsed: parsePattern(pattern) as ParsedPattern,
      route: {
        pattern,
        reportOnly: route.mode === 'report',
        // Authenticated answers are not cached unless the route says so.
        cacheControl: route.cacheControl === false ? undefined : (route.cacheControl ?? (route.authn === 'anonymous' ? undefined : 'no-store')),
      },
    })),
    { headFromGet: policy.routing?.headFromGet ?? false },
  );
}

export function routeStage(routes: RouteTable<RouteInfo>): Stage {
  return function route(x) {
    const match = routes.match(x.method, x.segments!);
    if (match.kind === 'not_found') return refuse('route', 'route.not_found');
    if (match.kind === 'method_not_allowed') {
      x.headers.set('allow', match.allow.join(', '));
      return refuse('route', 'route.method_not_allowed');
    }
    const info = match.entry.route;
    x.route = info.pattern;
    x.report ||= info.reportOnly;
    x.params = match.params;
    x.cacheControl = info.cacheControl ?? null;
    x.trace.push({ stage: 'route', outcome: 'pass', detail: info.pattern });
    return undefined;
  };
}
