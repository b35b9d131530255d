/**
 * Broken object level authorization: the probe's user asks for another user's object on every
 * route with an ownership rule, and must get 403.
 * @module
 */

import { CHECKS, type ProbeCheck } from '../checks.ts';
import { describeStatus, fail, inconclusive, is2xx, isBusy, pass, type ProbeContext, type Verdict } from '../context.ts';
import type { ProbeResponse } from '../http.ts';
import type { ProbeRoute } from '../model.ts';

function refusedByAuthz(response: ProbeResponse, what: string): Verdict {
  const actual = describeStatus(response);
  if (response.status === 403) return pass(actual);
  if (response.status === 401) return inconclusive("the probe's token was refused (401): is it valid, unexpired, and for this deployment?", actual);
  if (isBusy(response.status)) return inconclusive(`answered ${response.status}`, actual);
  if (is2xx(response.status)) return fail('error', actual, `${what} was answered ${response.status}`);
  if (response.status === 404) {
    return fail('warning', actual, `${what} was not refused by authorization: 404 came from behind it (or the API hides objects); give --other-id an id that exists`);
  }
  if (response.status === 400) return fail('warning', actual, `${what} was refused with 400 instead of 403`);
  return fail('error', actual, `${what} was not refused by authorization: ${response.status}`);
}

/** `u_alice` → `U_ALICE`; undefined when case does not change it. */
function caseSwapped(id: string): string | undefined {
  const swapped = [...id].map((char) => (char === char.toLowerCase() ? char.toUpperCase() : char.toLowerCase())).join('');
  return swapped === id ? undefined : swapped;
}

export async function probeBola(ctx: ProbeContext) {
  const routes = ctx.model.routes.filter((route) => route.owners.length > 0);
  if (!routes.length) {
    ctx.note('bola: no route has an ownership rule');
    return;
  }
  const identity = ctx.identity;
  if (!identity) {
    ctx.note("bola: skipped: the probe needs a user's token to ask for another user's objects (give --token, --login or --signing-key)");
    return;
  }
  for (const route of routes) {
    const headers = ctx.userHeaders(route);
    if (!headers) {
      ctx.note(`bola: ${route.pattern} skipped: it does not accept the probe's token (method ${identity.method.name})`);
      continue;
    }
    if (route.method === 'DELETE' && !ctx.options.aggressive) {
      ctx.note(`bola: ${route.pattern} skipped: a DELETE that got through would delete another user's object (--aggressive sends it)`);
      continue;
    }
    const own = ctx.ownParams(route);
    if (ctx.model.admits(route, identity.principal, own, { ignoreOwner: true }) !== false) {
      ctx.note(`bola: ${route.pattern} skipped: the probe's user (${identity.principal.id}) is admitted by a rule other than ownership (a role, scope or check); give the token of a plain user`);
      continue;
    }
    const owned = route.owners.map(({ param }) => param);
    await attempt(ctx, CHECKS.bola, route, headers, { ...own, ...Object.fromEntries(owned.map((param) => [param, ctx.options.otherId])) }, `${identity.principal.id} asking for ${ctx.options.otherId}'s object`, own);
    if (route.method === 'GET' || route.method === 'HEAD') {
      const swapped = Object.fromEntries(owned.map((param) => [param, caseSwapped(own[param]!)]).filter(([, value]) => value !== undefined));
      if (Object.keys(swapped).length) await attempt(ctx, CHECKS.bolaCase, route, headers, { ...own, ...swapped }, `${identity.principal.id} asking for its own id in another case`, own);
    }
  }
}

async function attempt(ctx: ProbeContext, check: ProbeCheck, route: ProbeRoute, headers: Record<string, string>, params: Record<string, string>, what: string, own: Record<string, string>) {
  if (Object.entries(params).every(([name, value]) => own[name] === value)) {
    ctx.note(`bola: ${route.pattern}: --other-id is the probe's own id`);
    return;
  }
  // A body the route would accept from the owner, so only ownership can refuse it: an empty object changes nothing.
  const body = route.contentTypes?.includes('application/json') ? { body: '{}', bodyNote: '{}', headers: { ...headers, 'content-type': 'application/json' } } : { headers };
  await ctx.attempt(check, route.pattern, { method: route.method, target: ctx.model.pathOf(route, params), ...body }, '403', (response) => refusedByAuthz(response, what));
}
