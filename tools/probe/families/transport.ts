/**
 * Plain HTTP. For an https target, the same host over http (port 80, or --http-port) must redirect
 * GET to https or refuse, never answer. `X-Forwarded-Proto` is judged by who sends it: through a
 * trusted proxy (--trusted-proxy) `http` must be redirected (GET) or refused (other methods); from
 * anyone else it must change nothing, since a client that may say `http` may also say `https`.
 * @module
 */

import { CHECKS } from '../checks.ts';
import { describeStatus, fail, inconclusive, is2xx, isBusy, pass, type ProbeContext, type Verdict } from '../context.ts';
import type { ProbeRequest, ProbeResponse } from '../http.ts';
import type { ProbeRoute } from '../model.ts';

const redirectsToHttps = (response: ProbeResponse) =>
  [301, 302, 303, 307, 308].includes(response.status) && (response.headers.get('location') ?? '').toLowerCase().startsWith('https://');

export async function probeTransport(ctx: ProbeContext) {
  const getRoute = ctx.model.routes.find((route) => route.anonymous && route.method === 'GET') ?? ctx.model.routes.find((route) => route.method === 'GET');
  const writeRoute = ctx.model.routes.find((route) => !['GET', 'HEAD', 'OPTIONS'].includes(route.method));
  const request = (route: ProbeRoute, extra: Partial<ProbeRequest> = {}): ProbeRequest => ({
    method: route.method,
    target: ctx.model.pathOf(route, ctx.probeParams(route)),
    ...extra,
  });

  if (ctx.session.https) {
    for (const route of [getRoute, writeRoute]) {
      if (!route) continue;
      await ctx.attempt(
        CHECKS.plainHttp,
        route.pattern,
        request(route, { plain: true }),
        route.method === 'GET' ? '308 to https, a refusal, or nothing listening' : 'a refusal (403), or nothing listening',
        (response) => (is2xx(response.status) ? fail('error', describeStatus(response), `${route.pattern} was answered over plain HTTP`) : pass(describeStatus(response))),
        () => pass('nothing answers on plain HTTP'),
      );
    }
  } else {
    ctx.note(`transport: the target is plain HTTP (${ctx.session.origin}): only X-Forwarded-Proto is judged (probe the https address for the rest)`);
  }

  if (ctx.options.trustedProxy) {
    if (getRoute) {
      await ctx.attempt(CHECKS.forwardedProto, getRoute.pattern, request(getRoute, { headers: { 'x-forwarded-proto': 'http' } }), '308 to https', (response): Verdict => {
        const actual = describeStatus(response);
        if (redirectsToHttps(response)) return pass(actual);
        if (is2xx(response.status)) return fail('error', actual, 'a request a trusted proxy marked as plain HTTP was answered instead of redirected to https');
        if (isBusy(response.status)) return inconclusive(`answered ${response.status}`, actual);
        return pass(actual);
      });
    }
    if (writeRoute) {
      await ctx.attempt(CHECKS.forwardedProto, writeRoute.pattern, request(writeRoute, { headers: { 'x-forwarded-proto': 'http' } }), '403 (or a redirect to https)', (response): Verdict => {
        const actual = describeStatus(response);
        if (response.status === 403 || redirectsToHttps(response)) return pass(actual);
        if (is2xx(response.status)) return fail('error', actual, `a ${writeRoute.method} a trusted proxy marked as plain HTTP was answered`);
        if (isBusy(response.status)) return inconclusive(`answered ${response.status}`, actual);
        return fail('warning', actual, `a ${writeRoute.method} a trusted proxy marked as plain HTTP was not refused for it (${response.status}): the transport check does not run first`);
      });
    }
    return;
  }

  if (!getRoute) return;
  // Untrusted: the header must not count. Compare with the same request without it.
  let baseline: ProbeResponse;
  try {
    baseline = (await ctx.session.send(request(getRoute))).response;
  } catch (error) {
    if ((error as Error).name === 'BudgetExhausted') throw error;
    ctx.note(`transport: no answer to ${getRoute.pattern} (${(error as Error).message})`);
    return;
  }
  const claims = [
    { value: 'http', why: 'a client that is not a trusted proxy decided the scheme with X-Forwarded-Proto: http (so it may also claim https over plain HTTP)' },
    ...(baseline.status === 403 || redirectsToHttps(baseline) ? [{ value: 'https', why: 'a plain-HTTP request claiming X-Forwarded-Proto: https was answered: the HTTPS requirement is bypassed' }] : []),
  ];
  for (const { value, why } of claims) {
    await ctx.attempt(CHECKS.forwardedProto, getRoute.pattern, request(getRoute, { headers: { 'x-forwarded-proto': value } }), `${describeStatus(baseline)}, as without the header`, (response): Verdict => {
      const actual = describeStatus(response);
      if (isBusy(response.status) || isBusy(baseline.status)) return inconclusive(`answered ${baseline.status} / ${response.status}`, actual);
      return response.status === baseline.status ? pass(actual) : fail('error', actual, why);
    });
  }
}
