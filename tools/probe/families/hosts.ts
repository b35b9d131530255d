/**
 * Host and target confusion. Runtimes build the request URL from `Host`, so a `Host` that carries a
 * path, a query, a fragment or userinfo can move the path a handler serves away from the one the
 * gateway checked (`GET /v1/health` with `Host: api/v1/users/u_bob?` served bob's record). Every such
 * `Host` must be refused (400), whatever route the request line names; a host the policy's `hosts`
 * does not list must be refused too (421).
 * @module
 */

import { CHECKS } from '../checks.ts';
import { describeStatus, fail, is2xx, is5xx, pass, type ProbeContext } from '../context.ts';
import type { ProbeRoute } from '../model.ts';

/** `Host` values that are not one plain host[:port], built around the target's own authority. */
export function hostVariants(authority: string, protectedPath: string): { label: string; host: string }[] {
  return [
    { label: 'a path and query', host: `${authority}${protectedPath}?` },
    { label: 'a fragment (#)', host: `${authority}#` },
    { label: 'a query (?)', host: `${authority}?` },
    { label: 'userinfo (@)', host: `probe@${authority}` },
    { label: 'a backslash', host: `${authority}\\${protectedPath.slice(1)}` },
  ];
}

export async function probeHosts(ctx: ProbeContext) {
  const routes = ctx.model.routes.filter((route) => route.method === 'GET');
  const open = routes.find((route) => route.anonymous);
  const guarded = routes.find((route) => !route.anonymous && !route.optional);
  const entry = open ?? guarded;
  if (!entry) {
    ctx.note('hosts: the policy has no GET route to send confused Hosts to');
    return;
  }
  const authority = new URL(ctx.session.origin).host;
  const target = ctx.model.pathOf(entry, ctx.probeParams(entry));
  // The path smuggled in the Host names an object of the probe's own user where it can: one that
  // exists, so that an origin serving it answers 200 with something else than the entry route.
  const smuggled = guarded ? ctx.model.pathOf(guarded, ctx.ownParams(guarded)) : target;
  const baseline = (await ctx.session.send({ method: 'GET', target }).catch(() => undefined))?.response;
  for (const { label, host } of hostVariants(authority, smuggled)) {
    await ctx.attempt(CHECKS.hostConfusion, entry.pattern, { method: 'GET', target, headers: { host } }, '400: a Host is one plain host[:port]', (response) => {
      const actual = describeStatus(response);
      if (is2xx(response.status)) {
        // Another answer than the route's own, without credentials: another resource was served.
        const served = entry === guarded || baseline === undefined || baseline.status !== response.status || baseline.body !== response.body;
        return fail(
          served ? 'error' : 'warning',
          actual,
          served
            ? `a Host with ${label} was answered ${response.status} with another answer than ${entry.pattern} gives: the deployment served a path the gateway did not check`
            : `a Host with ${label} was answered ${response.status}: a runtime that builds the request URL from it may serve another path than the one the gateway checked`,
        );
      }
      if (is5xx(response.status)) return fail('warning', actual, `a Host with ${label} made the deployment fail (${response.status})`);
      return pass(actual);
    });
  }
  await probeMisdirected(ctx, entry, target);
}

/** A host the policy does not list: 421 (or 400), never an answer. */
async function probeMisdirected(ctx: ProbeContext, route: ProbeRoute, target: string) {
  if (!ctx.model.policy.hosts) {
    ctx.note('hosts: the policy lists no `hosts`, so every Host that is a plain host[:port] is answered');
    return;
  }
  await ctx.attempt(CHECKS.hostMisdirected, route.pattern, { method: 'GET', target, headers: { host: 'portcullis-probe.invalid' } }, '421 (or 400): not one of the policy\'s hosts', (response) =>
    response.status === 421 || response.status === 400
      ? pass(describeStatus(response))
      : fail(is2xx(response.status) ? 'error' : 'warning', describeStatus(response), `a request for a host the policy does not list was answered ${response.status}`),
  );
}
