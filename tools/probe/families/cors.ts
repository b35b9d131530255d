/**
 * CORS: for each allowed origin, look-alikes (suffix, prefix, subdomain, other scheme, other port,
 * an unescaped regex dot) and `null` must get no `Access-Control-Allow-Origin`, in a preflight and
 * in an actual request; the allowed origin itself must be echoed exactly, with `Vary: Origin`.
 * @module
 */

import { CHECKS } from '../checks.ts';
import { describeStatus, fail, is2xx, pass, type ProbeContext, type Verdict } from '../context.ts';
import type { ProbeRequest, ProbeResponse } from '../http.ts';

/** Origins a sloppy matcher confuses with `origin`. */
export function lookalikes(origin: string): string[] {
  const url = new URL(origin);
  const scheme = url.protocol.slice(0, -1);
  const host = url.host;
  const out = [
    `${scheme}://${host}.portcullis-probe.invalid`,
    `${scheme}://portcullis-probe${url.hostname}${url.port ? `:${url.port}` : ''}`,
    `${scheme}://portcullis-probe.${host}`,
    `${scheme === 'https' ? 'http' : 'https'}://${host}`,
    `${scheme}://${url.hostname}:${url.port === '8443' ? '9443' : '8443'}`,
  ];
  if (url.hostname.includes('.')) out.push(`${scheme}://${url.hostname.replace('.', 'x')}${url.port ? `:${url.port}` : ''}`);
  return [...new Set(out)].filter((candidate) => candidate !== origin);
}

const varies = (response: ProbeResponse) =>
  (response.headers.get('vary') ?? '')
    .split(',')
    .map((part) => part.trim().toLowerCase())
    .some((part) => part === 'origin' || part === '*');

export async function probeCors(ctx: ProbeContext) {
  const cors = ctx.model.policy.cors;
  const preflightRoute = ctx.model.guarded[0] ?? ctx.model.routes[0];
  const actualRoute = ctx.model.routes.find((route) => route.anonymous && route.method === 'GET') ?? ctx.model.routes.find((route) => route.method === 'GET') ?? preflightRoute;
  if (!preflightRoute || !actualRoute) return;
  const preflight = (origin: string): ProbeRequest => ({
    method: 'OPTIONS',
    target: ctx.model.pathOf(preflightRoute, ctx.probeParams(preflightRoute)),
    headers: { origin, 'access-control-request-method': preflightRoute.method, 'access-control-request-headers': 'authorization, content-type' },
  });
  const actual = (origin: string): ProbeRequest => ({ method: actualRoute.method, target: ctx.model.pathOf(actualRoute, ctx.probeParams(actualRoute)), headers: { origin } });
  const wildcard = cors?.origins.includes('*') ?? false;
  const credentials = cors?.credentials ?? false;

  const refused = (sent: string, response: ProbeResponse): Verdict => {
    const allowOrigin = response.headers.get('access-control-allow-origin');
    const allowCredentials = response.headers.get('access-control-allow-credentials')?.toLowerCase() === 'true';
    const shown = `${describeStatus(response)}, Access-Control-Allow-Origin: ${allowOrigin ?? '(none)'}${allowCredentials ? ', credentials allowed' : ''}`;
    if (allowOrigin === null) return pass(shown);
    if (allowOrigin === '*' && wildcard && !allowCredentials) return pass(shown);
    if (allowOrigin === '*') return fail('error', shown, `${sent} got Access-Control-Allow-Origin: *${allowCredentials ? ' with credentials' : ''}, and the policy ${wildcard ? 'allows no credentials with *' : 'allows no wildcard'}`);
    if (allowOrigin === sent) return fail('error', shown, `the origin ${sent} is echoed${allowCredentials ? ' with credentials allowed' : ''}: a page there may read the answers`);
    return pass(shown);
  };

  const lookalikeList = (origin: string) => lookalikes(origin).map((candidate) => ({ origin: candidate, check: CHECKS.corsLookalike }));
  const allowed = cors && !wildcard ? cors.origins.slice(0, 3) : [];
  const hostile = [
    ...(allowed.length ? allowed.flatMap(lookalikeList) : [{ origin: 'https://portcullis-probe.invalid', check: CHECKS.corsLookalike }]),
    { origin: 'null', check: CHECKS.corsNull },
  ];
  if (!cors) ctx.note('cors: the policy allows no origin: an unknown origin and null must get no CORS headers');
  for (const { origin, check } of hostile) {
    for (const request of [preflight(origin), actual(origin)]) {
      await ctx.attempt(check, request.method === 'OPTIONS' ? preflightRoute.pattern : actualRoute.pattern, request, 'no Access-Control-Allow-Origin', (response) => refused(origin, response));
    }
  }

  for (const origin of allowed) {
    await ctx.attempt(CHECKS.corsAllowed, preflightRoute.pattern, preflight(origin), `2xx, Access-Control-Allow-Origin: ${origin}, Vary: Origin`, (response) => {
      const allowOrigin = response.headers.get('access-control-allow-origin');
      const shown = `${describeStatus(response)}, Access-Control-Allow-Origin: ${allowOrigin ?? '(none)'}, Vary: ${response.headers.get('vary') ?? '(none)'}`;
      if (!is2xx(response.status) || allowOrigin !== origin) return fail('warning', shown, `the preflight from the allowed origin ${origin} was not allowed`);
      if (!varies(response)) return fail('warning', shown, 'the preflight answer does not vary by Origin: a cache may serve it to another origin');
      if (credentials && response.headers.get('access-control-allow-credentials') !== 'true') return fail('warning', shown, 'the policy allows credentials, the preflight answer does not');
      return pass(shown);
    });
    await ctx.attempt(CHECKS.corsAllowed, actualRoute.pattern, actual(origin), `Access-Control-Allow-Origin: ${origin}, Vary: Origin`, (response) => {
      const allowOrigin = response.headers.get('access-control-allow-origin');
      const shown = `${describeStatus(response)}, Access-Control-Allow-Origin: ${allowOrigin ?? '(none)'}, Vary: ${response.headers.get('vary') ?? '(none)'}`;
      if (allowOrigin !== origin) return fail('warning', shown, `the allowed origin ${origin} was not echoed`);
      if (!varies(response)) return fail('warning', shown, 'the answer does not vary by Origin: a cache may serve one origin\'s answer to another');
      return pass(shown);
    });
  }
  if (cors && cors.origins.length > 3 && !wildcard) ctx.note(`cors: look-alikes of the first 3 of ${cors.origins.length} allowed origins tried`);
}
