/**
 * Path normalization: spellings of each route's path that servers disagree about, sent without
 * credentials. A protected route must never answer one with 2xx; any route may answer a spelling
 * with 2xx only when a standard URL parser resolves it to a routed path (`%2e%2e`, `\` on runtimes
 * that resolve them before the gateway runs, so gateway and origin see the same path).
 * @module
 */

import { CHECKS } from '../checks.ts';
import { describeStatus, fail, is2xx, is5xx, pass, type ProbeContext, type Verdict } from '../context.ts';
import type { ProbeResponse } from '../http.ts';
import { PROBE_ID, type ProbeRoute } from '../model.ts';

/** One spelling of a path. */
export interface PathVariant {
  label: string;
  target: string;
}

/** The ambiguous spellings of a concrete path (`/v1/users/u_1`). */
export function pathVariants(path: string): PathVariant[] {
  const segments = path.split('/').slice(1).filter(Boolean);
  if (!segments.length) return [{ label: 'double slash', target: '//' }, { label: 'NUL', target: '/%00' }];
  const last = segments.length - 1;
  const head = segments.slice(0, last);
  const join = (parts: string[]) => `/${parts.join('/')}`;
  const variants: PathVariant[] = [
    { label: 'encoded dot-dot (%2e%2e)', target: join([...head, PROBE_ID, '%2e%2e', segments[last]!]) },
    { label: 'dot-dot', target: join([...head, PROBE_ID, '..', segments[last]!]) },
    { label: 'double-encoded dot-dot (%252e%252e)', target: join([...head, PROBE_ID, '%252e%252e', segments[last]!]) },
    { label: 'encoded dot (%2e)', target: join([...head, '%2e', segments[last]!]) },
    { label: 'dot segment', target: join(['.', ...segments]) },
    { label: 'double slash', target: segments.length > 1 ? join([...head, '', segments[last]!]) : `/${path}` },
    { label: 'encoded slash (%2f)', target: segments.length > 1 ? `${join(head)}%2f${segments[last]}` : `/%2f${segments[0]}` },
    { label: 'encoded backslash (%5c)', target: segments.length > 1 ? `${join(head)}%5c${segments[last]}` : `/%5c${segments[0]}` },
    { label: 'backslash', target: segments.length > 1 ? `${join(head)}\\${segments[last]}` : `/\\${segments[0]}` },
    { label: 'semicolon parameter (;x)', target: join([`${segments[0]};x=${PROBE_ID}`, ...segments.slice(1)]) },
    { label: 'trailing slash', target: `${path}/` },
    { label: 'NUL (%00)', target: `${path}%00` },
  ];
  const upper = segments.findIndex((segment) => segment !== segment.toUpperCase() && segment !== PROBE_ID);
  if (upper >= 0) variants.push({ label: 'case change', target: join(segments.map((segment, i) => (i === upper ? segment.toUpperCase() : segment))) });
  return variants;
}

export async function probePaths(ctx: ProbeContext) {
  let raw = 0;
  for (const route of ctx.model.routes) {
    const path = ctx.model.pathOf(route, ctx.probeParams(route));
    for (const variant of pathVariants(path)) {
      const request = { method: route.method, target: variant.target };
      if (ctx.session.rewrites(request)) raw++;
      await ctx.attempt(
        route.anonymous ? CHECKS.pathAmbiguous : CHECKS.pathConfusion,
        route.pattern,
        request,
        'not 2xx (400, 404), unless it resolves to a routed path',
        (response) => judge(ctx, route, variant, response),
      );
    }
  }
  if (raw) ctx.note(`paths: ${raw} spellings (.., \\, %2e) are rewritten by URL parsers; they were sent byte for byte when the probe had a raw sender (the CLI does)`);
}

function judge(ctx: ProbeContext, route: ProbeRoute, variant: PathVariant, response: ProbeResponse): Verdict {
  const actual = describeStatus(response);
  const resolved = ctx.model.routeOf(route.method, variant.target);
  if (is2xx(response.status)) {
    // Open to everyone anyway: the spelling bought nothing.
    if (resolved && (resolved.anonymous || resolved.optional)) return pass(actual);
    if (route.anonymous || route.optional) {
      if (resolved) return pass(actual);
      return fail('warning', actual, `the ${variant.label} spelling of ${route.pattern} was answered ${response.status}: the deployment routes a path the policy does not name`);
    }
    return fail('error', actual, `the ${variant.label} spelling of ${route.pattern} was answered ${response.status} without credentials`);
  }
  // A spelling the runtime resolved to a routed path answers as that route does, failures included.
  if (is5xx(response.status) && !resolved) return fail('warning', actual, `the ${variant.label} spelling made the deployment fail (${response.status})`);
  return pass(actual);
}
