/**
 * Bodies, on every route that takes one, with credentials the policy admits (so that only the body
 * can be refused): over the size cap → 413, malformed JSON → 400, a media type the route does not
 * accept → 415, undeclared keys (mass assignment) → 422, prototype keys → 400 or 422.
 * @module
 */

import { CHECKS, type ProbeCheck } from '../checks.ts';
import { describeStatus, fail, inconclusive, is2xx, is5xx, isBusy, pass, type ProbeContext, type Verdict } from '../context.ts';
import type { NoAnswer, ProbeResponse } from '../http.ts';
import type { ProbeRoute } from '../model.ts';
import { declaredKeys, sampleBody } from '../samples.ts';

/** Body caps above this are tried only with --aggressive. */
const LARGEST_BODY = 8 * 1024 * 1024;

function refusedWith(expected: readonly number[], what: string, authzExpected = false) {
  return (response: ProbeResponse): Verdict => {
    const actual = describeStatus(response);
    if (expected.includes(response.status)) return pass(actual);
    if (isBusy(response.status)) return inconclusive(`answered ${response.status}`, actual);
    if ((response.status === 401 || response.status === 403) && !authzExpected) return inconclusive(`the probe's credentials were refused (${response.status}), so the body was never judged`, actual);
    if (is2xx(response.status)) return fail('error', actual, `${what} was accepted (${response.status})`);
    if (is5xx(response.status)) return fail('error', actual, `${what} made the deployment fail (${response.status}) instead of being refused`);
    return fail('warning', actual, `${what} was refused, but with ${response.status} instead of ${expected.join(' or ')}`);
  };
}

const isJson = (type: string) => type === 'application/json' || type.endsWith('+json');

export async function probeBodies(ctx: ProbeContext) {
  const routes = ctx.model.routes.filter((route) => route.contentTypes && route.method !== 'GET' && route.method !== 'HEAD');
  if (!routes.length) {
    ctx.note('bodies: no route takes a body');
    return;
  }
  for (const route of routes) {
    const params = ctx.ownParams(route);
    const credentials = ctx.credentialsFor(route, params);
    if (!credentials) {
      ctx.note(`bodies: ${route.pattern} skipped: the probe holds no credential the policy admits there (give --token, --login, --signing-key or --api-key)`);
      continue;
    }
    if (!route.contentTypes!.some(isJson)) {
      ctx.note(`bodies: ${route.pattern} skipped: it takes no JSON (${route.contentTypes!.join(', ')})`);
      continue;
    }
    await probeRoute(ctx, route, params, credentials);
  }
}

async function probeRoute(ctx: ProbeContext, route: ProbeRoute, params: Record<string, string>, credentials: Record<string, string>) {
  const target = ctx.model.pathOf(route, params);
  const json = { ...credentials, 'content-type': route.contentTypes!.find(isJson)! };
  const send = (check: ProbeCheck, body: string, bodyNote: string, expected: readonly number[], what: string, options: { headers?: Record<string, string>; authz?: boolean; onNoAnswer?: (error: NoAnswer) => Verdict } = {}) =>
    ctx.attempt(check, route.pattern, { method: route.method, target, headers: options.headers ?? json, body, bodyNote }, expected.join(' or '), refusedWith(expected, what, options.authz), options.onNoAnswer);

  const sample = sampleBody(route.policy.body);
  const sampleObject = typeof sample === 'object' && sample !== null && !Array.isArray(sample) ? (sample as Record<string, unknown>) : undefined;
  const sampleText = JSON.stringify(sample);
  // The sample's own members, to splice after an attack key written by hand.
  const members = sampleObject && Object.keys(sampleObject).length ? `,${sampleText.slice(1, -1)}` : '';

  await send(CHECKS.bodyMalformed, '{"portcullis-probe":', 'truncated JSON', [400], 'malformed JSON');

  if (!route.contentTypes!.includes('text/plain')) {
    await send(CHECKS.bodyContentType, sampleText, `${sampleText.length}-byte JSON labelled text/plain`, [415], 'a text/plain body', { headers: { ...credentials, 'content-type': 'text/plain' } });
  }

  if (sampleObject) {
    const declared = declaredKeys(route.policy.body);
    const fieldRoles = Object.keys(route.policy.fieldRoles ?? {}).filter((field) => !field.includes('.'));
    if (route.policy.unknownKeys !== 'strip') {
      const extra = Object.fromEntries(['role', 'isAdmin', 'portcullis_probe_admin'].filter((key) => !declared.has(key)).map((key) => [key, key === 'role' ? 'admin' : true]));
      const body = JSON.stringify({ ...sampleObject, ...extra });
      await send(CHECKS.massAssignment, body, `a valid body plus ${Object.keys(extra).join(', ')}`, [422], 'a body with undeclared keys');
    } else if (!fieldRoles.length) {
      ctx.note(`bodies: ${route.pattern}: mass assignment not judged: the route strips unknown keys (the origin never sees them) and restricts no field by role`);
    }
    if (fieldRoles.length) {
      const body = JSON.stringify({ ...sampleObject, ...Object.fromEntries(fieldRoles.map((field) => [field, 'admin'])) });
      await send(CHECKS.massAssignment, body, `a valid body plus the role-restricted ${fieldRoles.join(', ')}`, [403, 422], 'a body setting role-restricted fields', { authz: true });
    }
    await send(CHECKS.prototypePollution, `{"__proto__":{"isAdmin":true}${members}}`, '{"__proto__":{"isAdmin":true},…}', [400, 422], 'a __proto__ key');
    await send(CHECKS.prototypePollution, `{"constructor":{"prototype":{"isAdmin":true}}${members}}`, '{"constructor":{"prototype":{"isAdmin":true}},…}', [400, 422], 'a constructor.prototype key');
  } else {
    ctx.note(`bodies: ${route.pattern}: mass-assignment and prototype-pollution bodies skipped: its schema is not an object`);
  }

  const cap = route.maxBodyBytes;
  if (cap > LARGEST_BODY && !ctx.options.aggressive) {
    ctx.note(`bodies: ${route.pattern}: oversized body skipped: its cap is ${cap} bytes (--aggressive sends it)`);
    return;
  }
  const size = cap + 1;
  const oversized = `{"p":"${'x'.repeat(Math.max(0, size - 8))}"}`;
  await send(CHECKS.bodyOversized, oversized, `${oversized.length}-byte JSON (the cap is ${cap})`, [413], `a body of ${oversized.length} bytes`, {
    // A server may close the connection once the cap is passed instead of answering: refused too.
    onNoAnswer: (error) => (/timeout|no answer within/i.test(error.message) ? inconclusive(error.message, 'no answer') : pass('connection closed')),
  });
}
