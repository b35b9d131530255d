/**
 * Authentication: no credentials, an unknown API key, and the JWT attack corpus, on every route
 * that requires them. Each must be a 401; a 2xx, a 403 (authorization ran: the token was believed),
 * an answer from behind the gateway (404, 422…) or a 5xx is a bypass.
 * @module
 */

import type { JWTPayload } from 'jose';
import { hexOf } from '../../../src/hex.ts';
import { CHECKS } from '../checks.ts';
import { describeStatus, fail, inconclusive, is2xx, isBusy, pass, type ProbeContext, type Verdict } from '../context.ts';
import type { ProbeResponse } from '../http.ts';
import { PROBE_ID, type ProbeRoute } from '../model.ts';
import { jwtCorpus } from '../tokens.ts';

/** A refusal by authentication: 401 (400 is a refusal too, but not the one RFC 6750 asks for). */
export function refusedByAuthn(response: ProbeResponse, what: string): Verdict {
  const actual = describeStatus(response);
  if (response.status === 401) {
    return response.headers.has('www-authenticate') ? pass(actual) : fail('warning', `${actual} without WWW-Authenticate`, `${what} was refused, but the 401 carries no WWW-Authenticate challenge`);
  }
  if (isBusy(response.status)) return inconclusive(`answered ${response.status} before authentication could be judged`, actual);
  if (response.status === 400) return fail('warning', actual, `${what} was refused with 400 instead of 401`);
  if (is2xx(response.status)) return fail('error', actual, `${what} was answered ${response.status}: the route is open`);
  if (response.status === 403) return fail('error', actual, `${what} reached authorization (403): authentication accepted it`);
  if (response.status >= 500) return fail('error', actual, `${what} made the deployment fail (${response.status}) instead of refusing it`);
  return fail('error', actual, `${what} got past authentication: ${response.status} is decided after it (by validation, or behind the gateway)`);
}

/** The route's request without a body (authentication runs before the body is read). */
function bare(ctx: ProbeContext, route: ProbeRoute, headers: Record<string, string> = {}) {
  return { method: route.method, target: ctx.model.pathOf(route, ctx.probeParams(route)), headers };
}

export async function probeMissingCredentials(ctx: ProbeContext) {
  for (const route of ctx.model.guarded) {
    await ctx.attempt(CHECKS.missingCredentials, route.pattern, bare(ctx, route), '401 with WWW-Authenticate', (response) => refusedByAuthn(response, 'a request without credentials'));
    for (const { method } of route.methods.filter(({ method }) => method.kind === 'apiKey')) {
      const header = (method.meta?.header as string | undefined) ?? 'x-api-key';
      const key = `pk_portcullis_probe_${hexOf(crypto.getRandomValues(new Uint8Array(12)))}`;
      await ctx.attempt(CHECKS.badApiKey, route.pattern, bare(ctx, route, { [header]: key }), '401', (response) => refusedByAuthn(response, 'an unknown API key'));
    }
  }
}

/** Sets a dotted claim path (`realm_access.roles`). */
function setClaim(claims: Record<string, unknown>, path: string, value: unknown) {
  const keys = path.split('.');
  let target = claims;
  for (const key of keys.slice(0, -1)) target = (target[key] ??= {}) as Record<string, unknown>;
  target[keys.at(-1)!] = value;
}

/** Claims a route would admit if their signature were believed: every role and scope its rules name, and the probe's id as owner. */
export function forgedClaims(ctx: ProbeContext, route: ProbeRoute, meta: Readonly<Record<string, unknown>>): JWTPayload {
  const first = (value: unknown) => (Array.isArray(value) ? value[0] : value) as string | undefined;
  const now = ctx.now();
  const claims: Record<string, unknown> = { iss: first(meta.issuer), aud: first(meta.audience), sub: PROBE_ID, iat: now, exp: now + 300 };
  const { roles, scopes } = ctx.model.privilegesOf(route);
  const rolesClaim = (meta.rolesClaim as string | undefined) ?? 'roles';
  const scopesClaim = (meta.scopesClaim as string | undefined) ?? 'scope';
  if (roles.length) setClaim(claims, rolesClaim, roles);
  if (scopes.length) setClaim(claims, scopesClaim, scopesClaim === 'scope' ? scopes.join(' ') : scopes);
  for (const { claim } of route.owners) if (claim !== 'sub') setClaim(claims, claim, PROBE_ID);
  return claims as JWTPayload;
}

export async function probeJwt(ctx: ProbeContext) {
  const routes = ctx.model.routes.filter((route) => !route.anonymous && route.methods.some(({ method }) => method.kind === 'jwt'));
  if (!routes.length) {
    ctx.note('jwt: no route accepts JWTs');
    return;
  }
  const selfUrl = `${ctx.session.origin}${ctx.session.prefix}/portcullis-probe/keys.json`;
  for (const route of routes) {
    const { name, method } = route.methods.find(({ method }) => method.kind === 'jwt')!;
    const meta = method.meta ?? {};
    const claims = forgedClaims(ctx, route, meta);
    let honest: string | undefined;
    if (ctx.identity?.method.name === name) honest = ctx.identity.token;
    else if (ctx.signer) honest = await ctx.signer.sign({ ...claims, sub: `${PROBE_ID}-honest`, roles: [] });
    const { tokens, notes } = await jwtCorpus({
      claims,
      algorithms: (meta.algorithms as string[] | undefined) ?? ['ES256'],
      publicKeys: ctx.publicKeys,
      kid: ctx.serverKid,
      selfUrl,
      honest,
      signer: ctx.signer,
      now: ctx.now(),
      requireExp: meta.requireExp !== false,
    });
    for (const text of notes) ctx.note(`jwt: ${text}`);
    if (!honest) ctx.note('jwt: tampered-payload token skipped: the probe holds no honest token (give --token, --login or --signing-key)');
    for (const { check, label, token } of tokens) {
      await ctx.attempt(check, route.pattern, bare(ctx, route, { authorization: `Bearer ${token}` }), '401', (response) => refusedByAuthn(response, `a token (${label})`));
    }
  }
}
