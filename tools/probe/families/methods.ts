/**
 * Method overrides: a GET that carries `X-HTTP-Method-Override: DELETE` (and its two cousins) must
 * be answered as the GET it is. A server behind the gateway that honours the header would run a
 * DELETE the gateway never checked.
 * @module
 */

import { CHECKS } from '../checks.ts';
import { describeStatus, fail, inconclusive, isBusy, pass, type ProbeContext } from '../context.ts';

const OVERRIDE = { 'x-http-method-override': 'DELETE', 'x-http-method': 'DELETE', 'x-method-override': 'DELETE' };

export async function probeMethodOverride(ctx: ProbeContext) {
  const routes = ctx.model.routes.filter((route) => route.method === 'GET');
  if (!routes.length) {
    ctx.note('methods: no GET route to send an override on');
    return;
  }
  for (const route of routes) {
    // The probe's own objects only with --aggressive: on a broken deployment the override deletes them.
    const params = ctx.options.aggressive ? ctx.ownParams(route) : ctx.probeParams(route);
    const headers = ctx.credentialsFor(route, params) ?? {};
    const target = ctx.model.pathOf(route, params);
    let plain;
    try {
      plain = (await ctx.session.send({ method: 'GET', target, headers })).response;
    } catch (error) {
      if ((error as Error).name === 'BudgetExhausted') throw error;
      ctx.note(`methods: ${route.pattern}: the plain GET got no answer (${(error as Error).message})`);
      continue;
    }
    const baseline = describeStatus(plain);
    await ctx.attempt(CHECKS.methodOverride, route.pattern, { method: 'GET', target, headers: { ...headers, ...OVERRIDE } }, `${baseline}, as the plain GET`, (response) => {
      const actual = describeStatus(response);
      if (isBusy(plain.status) || isBusy(response.status)) return inconclusive(`rate limited or unavailable (${plain.status} / ${response.status})`, actual);
      if (response.status === plain.status) return pass(actual);
      return fail('error', actual, `the override headers changed the answer: the plain GET got ${baseline}, with X-HTTP-Method-Override: DELETE it got ${actual}`);
    });
  }
}
