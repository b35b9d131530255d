/**
 * Type tests of the Hono adapter (checked by `tsc`, never run): `c.var` is typed from the policy.
 */
import { Hono } from 'hono';
import * as v from 'valibot';
import { definePolicy, type Allow, type Principal } from '../src/index.ts';
import { portcullis, routeInput, type PortcullisEnv } from './hono.ts';

const policy = definePolicy({
  routes: {
    'GET /v1/health': { authn: 'anonymous' },
    'GET /v1/orgs/:org/users/:id': { authn: 'anonymous' },
    'PATCH /v1/users/:id': { authn: 'anonymous', body: v.strictObject({ name: v.optional(v.string()) }), query: v.object({ dryRun: v.optional(v.string()) }) },
    'POST /v1/upload': { authn: 'anonymous', contentTypes: ['application/octet-stream'] },
  },
});

const reportPolicy = definePolicy({ mode: 'report', routes: { 'PATCH /v1/users/:id': { authn: 'anonymous', body: v.strictObject({ name: v.string() }) } } });

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
const assert = <T extends true>(_: T) => {};

new Hono<PortcullisEnv<typeof policy>>().use(portcullis(policy)).patch('/v1/users/:id', (c) => {
  assert<Equal<typeof c.var.principal, Principal>>(true);
  assert<Equal<typeof c.var.decision, Allow>>(true);
  // Narrowed by the route tag.
  const input = c.var.input;
  if (input.route === 'GET /v1/orgs/:org/users/:id') assert<Equal<typeof input.params, Readonly<Record<'org' | 'id', string>>>>(true);
  if (input.route === 'GET /v1/health') assert<Equal<typeof input.body, undefined>>(true);
  if (input.route === 'POST /v1/upload') assert<Equal<typeof input.body, unknown>>(true);

  const patch = routeInput(c, 'PATCH /v1/users/:id');
  assert<Equal<typeof patch.body, { name?: string | undefined }>>(true);
  assert<Equal<typeof patch.query, { dryRun?: string | undefined }>>(true);
  assert<Equal<typeof patch.params, Readonly<Record<'id', string>>>>(true);
  // @ts-expect-error not a route of the policy
  routeInput(c, 'DELETE /v1/users/:id');
  return c.json(patch.body);
});

// In report-only mode invalid input is let through, and so are requests no route matches.
new Hono<PortcullisEnv<typeof reportPolicy>>().use(portcullis(reportPolicy)).all('*', (c) => {
  const input = c.var.input;
  if (input.route === 'PATCH /v1/users/:id') assert<Equal<typeof input.body, { name: string } | undefined>>(true);
  else assert<Equal<typeof input.route, '*'>>(true);
  return c.body(null, 204);
});
