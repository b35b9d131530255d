/**
 * Any Standard Schema v1 library works: zod schemas beside valibot ones in one engine, with the
 * same unknown-key rule, the same RFC 9457 field errors and the transformed output handed on.
 */
import * as v from 'valibot';
import { describe, expect, it, test } from 'vitest';
import { z } from 'zod';
import type { Allow, Decision, Deny } from '../../src/decision.ts';
import { createEngine } from '../../src/engine.ts';
import { definePolicy } from '../../src/policy/define.ts';
import type { Policy, RoutePolicy } from '../../src/policy/types.ts';
import type { AuthnMethod } from '../../src/stages/authn.ts';

const FIXED = Date.parse('2026-03-01T12:00:00Z');
const API = 'https://api.example.com';

/** Authenticates whoever the `x-test-user` header names (JSON); absent without it. */
const testUser: AuthnMethod = {
  kind: 'test',
  challenge: 'Bearer',
  authenticate: async (request) => {
    const header = request.headers.get('x-test-user');
    if (header === null) return { kind: 'absent' };
    const who = JSON.parse(header) as { id: string; roles?: string[] };
    return { kind: 'success', principal: { roles: [], scopes: [], claims: { sub: who.id }, ...who } };
  },
};

const ZodThing = z.object({
  name: z.string().min(1),
  address: z.object({ zip: z.string().regex(/^\d{5}$/) }).optional(),
  items: z.array(z.object({ sku: z.string(), qty: z.number().int().positive() })).optional(),
});
const ValibotThing = v.object({
  name: v.pipe(v.string(), v.minLength(1)),
  address: v.optional(v.object({ zip: v.pipe(v.string(), v.regex(/^\d{5}$/)) })),
});

const routes = {
  'POST /v1/zod': { authn: ['test'], allow: 'authenticated', body: ZodThing },
  'POST /v1/valibot': { authn: ['test'], allow: 'authenticated', body: ValibotThing },
  'POST /v1/zod-strict': { authn: ['test'], allow: 'authenticated', body: z.object({ name: z.string() }).strict() },
  'POST /v1/zod-loose': { authn: ['test'], allow: 'authenticated', body: z.looseObject({ name: z.string() }) },
  'POST /v1/zod-strip': { authn: ['test'], allow: 'authenticated', body: z.object({ name: z.string() }), unknownKeys: 'strip' },
  'POST /v1/orders/:id/lines': {
    authn: ['test'],
    allow: 'authenticated',
    params: z.object({ id: z.string().regex(/^\d+$/).transform(Number) }),
    query: z.object({ page: z.coerce.number().int().min(1).default(1), tag: z.array(z.string()).optional() }),
    headers: z.object({ 'x-tenant-id': z.string().transform((value) => value.toUpperCase()) }),
    body: z.object({
      sku: z.string().trim(),
      qty: z.string().regex(/^\d+$/).transform(Number),
      note: z.string().default(''),
      deliverBy: z.iso.date().transform((value) => new Date(`${value}T00:00:00Z`).getTime()),
    }),
  },
  'PATCH /v1/users/:id': {
    authn: ['test'],
    allow: 'authenticated',
    body: z.object({ name: z.string().optional(), role: z.enum(['user', 'admin']).optional() }),
    fieldRoles: { role: ['admin'] },
  },
  'POST /v1/slugs': {
    authn: ['test'],
    allow: 'authenticated',
    body: z.object({ slug: z.string() }).refine(async ({ slug }) => slug !== 'taken', { message: 'slug is taken', path: ['slug'] }),
  },
} satisfies Record<string, RoutePolicy>;

function setup() {
  const engine = createEngine(definePolicy({ authn: { test: testUser }, routes } satisfies Policy), { now: () => FIXED, randomId: () => 'req-1', log: () => {} });
  const send = (method: string, path: string, body: unknown, headers: Record<string, string> = {}, who: object = { id: 'u_alice', roles: ['user'] }) =>
    engine.evaluate(
      new Request(`${API}${path}`, {
        method,
        headers: { 'content-type': 'application/json', 'x-test-user': JSON.stringify(who), ...headers },
        body: JSON.stringify(body),
      }),
      { rawTarget: path, peer: { address: '192.0.2.10' } },
    );
  return { engine, send };
}

function expectAllow(decision: Decision): Allow {
  if (decision.kind !== 'allow') return expect.unreachable(`denied: ${decision.reason} ${JSON.stringify(decision.problem)}`);
  return decision;
}

function expectDeny(decision: Decision, status: number, reason: string): Deny {
  if (decision.kind !== 'deny') return expect.unreachable(`allowed, expected ${status} ${reason}`);
  expect({ status: decision.status, reason: decision.reason }).toEqual({ status, reason });
  return decision;
}

const errorsOf = (decision: Decision) => expectDeny(decision, 422, 'validate.invalid').problem?.errors;

describe('zod beside valibot in one engine', () => {
  test.each([['/v1/zod'], ['/v1/valibot']])('accepts a valid body on %s', async (path) => {
    const { send } = setup();
    const body = { name: 'lamp', address: { zip: '12345' } };
    const decision = expectAllow(await send('POST', path, body));
    expect(decision.input.body).toEqual(body);
    expect(await decision.request.json()).toEqual(body);
  });

  test.each<[string, unknown, string[]]>([
    ['a missing field', { address: { zip: '12345' } }, ['/name']],
    ['a nested field', { name: 'lamp', address: { zip: '1234' } }, ['/address/zip']],
    ['two fields at once', { name: '', address: { zip: 'x' } }, ['/name', '/address/zip']],
  ])('maps %s to the same pointers from both libraries', async (_, body, pointers) => {
    const { send } = setup();
    for (const path of ['/v1/zod', '/v1/valibot']) {
      const errors = errorsOf(await send('POST', path, body));
      expect(errors).toEqual(pointers.map((pointer) => ({ in: 'body', pointer, detail: expect.any(String) })));
    }
  });

  it('maps an array index in a zod issue path to a JSON pointer segment', async () => {
    const { send } = setup();
    const errors = errorsOf(await send('POST', '/v1/zod', { name: 'lamp', items: [{ sku: 'a', qty: 1 }, { sku: 'b', qty: 1.5 }] }));
    expect(errors).toEqual([{ in: 'body', pointer: '/items/1/qty', detail: expect.any(String) }]);
  });

  it('reports the zod message as the detail', async () => {
    const { send } = setup();
    const [error] = errorsOf(await send('POST', '/v1/zod', { name: 42 })) ?? [];
    expect(error).toEqual({ in: 'body', pointer: '/name', detail: ZodThing.safeParse({ name: 42 }).error?.issues[0]?.message });
  });

  it('awaits an async zod refinement', async () => {
    const { send } = setup();
    expectAllow(await send('POST', '/v1/slugs', { slug: 'fresh' }));
    expect(errorsOf(await send('POST', '/v1/slugs', { slug: 'taken' }))).toEqual([{ in: 'body', pointer: '/slug', detail: 'slug is taken' }]);
  });
});

describe('unknown keys with zod', () => {
  test.each<[string, unknown, string[]]>([
    ['a top-level key', { name: 'lamp', isAdmin: true }, ['/isAdmin']],
    ['a nested key', { name: 'lamp', address: { zip: '12345', owner: 'u_bob' } }, ['/address/owner']],
    ['a key in an array item', { name: 'lamp', items: [{ sku: 'a', qty: 1, price: 0 }] }, ['/items/0/price']],
  ])('refuses %s although zod’s object strips it by default', async (_, body, pointers) => {
    const { send } = setup();
    expect(errorsOf(await send('POST', '/v1/zod', body))).toEqual(pointers.map((pointer) => ({ in: 'body', pointer, detail: 'unknown key' })));
  });

  it('refuses an unknown key through .strict() with zod’s own issue', async () => {
    const { send } = setup();
    expectAllow(await send('POST', '/v1/zod-strict', { name: 'lamp' }));
    const errors = errorsOf(await send('POST', '/v1/zod-strict', { name: 'lamp', isAdmin: true }));
    expect(errors).toEqual([{ in: 'body', pointer: expect.any(String), detail: expect.stringContaining('isAdmin') }]);
  });

  it('keeps a key a loose zod object keeps', async () => {
    const { send } = setup();
    const decision = expectAllow(await send('POST', '/v1/zod-loose', { name: 'lamp', colour: 'red' }));
    expect(decision.input.body).toEqual({ name: 'lamp', colour: 'red' });
  });

  it('strips with unknownKeys: "strip", and forwards the stripped body', async () => {
    const { send } = setup();
    const decision = expectAllow(await send('POST', '/v1/zod-strip', { name: 'lamp', isAdmin: true }));
    expect(decision.input.body).toEqual({ name: 'lamp' });
    expect(await decision.request.text()).toBe('{"name":"lamp"}');
  });

  it('applies fieldRoles to a zod body', async () => {
    const { send } = setup();
    expectDeny(await send('PATCH', '/v1/users/u_alice', { role: 'admin' }), 403, 'authz.field_forbidden');
    expectAllow(await send('PATCH', '/v1/users/u_alice', { role: 'admin' }, {}, { id: 'u_root', roles: ['admin'] }));
    expectAllow(await send('PATCH', '/v1/users/u_alice', { name: 'Alice' }));
  });
});

describe('zod transformations flow into decision.input', () => {
  const path = '/v1/orders/42/lines?page=3&tag=a&tag=b';
  const body = { sku: '  A-1  ', qty: '7', deliverBy: '2026-04-01' };

  it('hands on the output of every zod schema: params, query, headers and body', async () => {
    const { send } = setup();
    const decision = expectAllow(await send('POST', path, body, { 'x-tenant-id': 'acme' }));
    expect(decision.input).toEqual({
      params: { id: 42 },
      query: { page: 3, tag: ['a', 'b'] },
      headers: { 'x-tenant-id': 'ACME' },
      body: { sku: 'A-1', qty: 7, note: '', deliverBy: Date.parse('2026-04-01T00:00:00Z') },
    });
    expect({ ...decision.params }).toEqual({ id: '42' });
  });

  it('forwards the transformed body, defaults included', async () => {
    const { send } = setup();
    const decision = expectAllow(await send('POST', path, body, { 'x-tenant-id': 'acme' }));
    expect(await decision.request.json()).toEqual({ sku: 'A-1', qty: 7, note: '', deliverBy: Date.parse('2026-04-01T00:00:00Z') });
  });

  it('applies a zod default when the query leaves a key out', async () => {
    const { send } = setup();
    expect(expectAllow(await send('POST', '/v1/orders/42/lines', body, { 'x-tenant-id': 'acme' })).input.query).toEqual({ page: 1 });
  });

  test.each<[string, string, unknown, Record<string, string>, { in: string; pointer: string }[]]>([
    ['a param that fails its pattern', '/v1/orders/x42/lines', body, { 'x-tenant-id': 'acme' }, [{ in: 'params', pointer: '/id' }]],
    ['a query value zod cannot coerce', '/v1/orders/42/lines?page=zero', body, { 'x-tenant-id': 'acme' }, [{ in: 'query', pointer: '/page' }]],
    ['an unknown query key', '/v1/orders/42/lines?debug=1', body, { 'x-tenant-id': 'acme' }, [{ in: 'query', pointer: '/debug' }]],
    ['a missing header', '/v1/orders/42/lines', body, {}, [{ in: 'headers', pointer: '/x-tenant-id' }]],
    ['a body date that is not one', '/v1/orders/42/lines', { ...body, deliverBy: '2026-02-30' }, { 'x-tenant-id': 'acme' }, [{ in: 'body', pointer: '/deliverBy' }]],
  ])('answers %s with 422 naming where', async (_, target, sent, headers, expected) => {
    const { send } = setup();
    expect(errorsOf(await send('POST', target, sent, headers))).toEqual(expected.map((entry) => ({ ...entry, detail: expect.any(String) })));
  });
});
