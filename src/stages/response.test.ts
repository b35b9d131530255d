/**
 * Response protection: which fields of a JSON answer reach which caller, and which answers are
 * refused instead (too large, not JSON, not the declared shape, a forbidden field in strict mode).
 */
import * as v from 'valibot';
import { describe, expect, it, test } from 'vitest';
import type { Principal } from '../authn/contract.ts';
import type { ResponsePolicy } from '../policy/types.ts';
import { compileHierarchy } from './authz.ts';
import { compileResponseFilter, parseFieldPath, type ResponseOutcome } from './response.ts';

const expandRoles = compileHierarchy({ admin: ['user'] });
const who = (id: string, roles: string[], extra: Partial<Principal> = {}): Principal => ({ id, method: 'user', roles, scopes: [], claims: { sub: id }, ...extra });
const ALICE = who('u_alice', ['user']);
const BOB = who('u_bob', ['admin']);

const USER = { id: 'u_alice', name: 'Alice', email: 'alice@example.com', lastLoginIp: '192.0.2.7' };

/** Runs `rule` (on a route whose owner rule is the `id` param) over `body` for `principal`. */
async function filter(rule: ResponsePolicy, body: unknown, principal: Principal, init: ResponseInit & { method?: string; params?: Record<string, string> } = {}) {
  const protect = compileResponseFilter(rule, { owners: [{ param: 'id' }], expandRoles });
  const response = body instanceof Response ? body : Response.json(body, init);
  return protect(response, { principal, params: init.params ?? { id: 'u_alice' }, method: init.method ?? 'GET' });
}

async function json(outcome: ResponseOutcome): Promise<unknown> {
  if (!outcome.ok) throw new Error(`refused: ${outcome.reason} (${outcome.detail})`);
  return outcome.response.json();
}

const USER_FIELDS: ResponsePolicy = { fields: { email: ['owner', 'admin'], lastLoginIp: ['admin'] } };

describe('fields by role and ownership', () => {
  test.each([
    ['the owner sees her email but not the login address', ALICE, { id: 'u_alice' }, { id: 'u_alice', name: 'Alice', email: 'alice@example.com' }],
    ['an admin sees everything', BOB, { id: 'u_alice' }, USER],
    ['another user sees neither', who('u_carol', ['user']), { id: 'u_alice' }, { id: 'u_alice', name: 'Alice' }],
    ['a client principal owns nothing, even with a matching id', who('u_alice', ['user'], { kind: 'client' }), { id: 'u_alice' }, { id: 'u_alice', name: 'Alice' }],
  ])('%s', async (_name, principal, params, expected) => {
    expect(await json(await filter(USER_FIELDS, USER, principal, { params }))).toEqual(expected);
  });

  it('applies the role hierarchy: an admin reads a field granted to users', async () => {
    expect(await json(await filter({ fields: { email: ['user'] } }, USER, BOB))).toHaveProperty('email');
  });

  it('reads ownership by the claim the owner rule names', async () => {
    const protect = compileResponseFilter({ fields: { email: ['owner'] } }, { owners: [{ param: 'id', claim: 'uid' }], expandRoles });
    const principal = who('sub-1', ['user'], { claims: { sub: 'sub-1', uid: 'u_alice' } });
    const outcome = await protect(Response.json(USER), { principal, params: { id: 'u_alice' }, method: 'GET' });
    expect(await json(outcome)).toHaveProperty('email');
  });

  it('names the removed fields (for the trace)', async () => {
    const outcome = await filter(USER_FIELDS, USER, ALICE);
    expect(outcome.ok && outcome.removed).toEqual(['lastLoginIp']);
  });
});

describe('paths into nested objects and arrays', () => {
  const rule: ResponsePolicy = {
    fields: { 'a.b.c': ['admin'], 'items[].secret': ['admin'], 'groups[].members[].email': ['admin'], 'matrix[][].x': ['admin'] },
  };
  const body = {
    a: { b: { c: 1, d: 2 } },
    items: [{ id: 1, secret: 's1' }, { id: 2 }, 'plain', null, { id: 3, secret: 's3' }],
    groups: [{ members: [{ name: 'm', email: 'm@example.com' }] }],
    matrix: [[{ x: 1, y: 2 }], [{ x: 3 }]],
  };

  it('removes every element\'s field for a caller who may not read it', async () => {
    expect(await json(await filter(rule, structuredClone(body), ALICE))).toEqual({
      a: { b: { d: 2 } },
      items: [{ id: 1 }, { id: 2 }, 'plain', null, { id: 3 }],
      groups: [{ members: [{ name: 'm' }] }],
      matrix: [[{ y: 2 }], [{}]],
    });
  });

  it('leaves them for a caller who may', async () => {
    expect(await json(await filter(rule, structuredClone(body), BOB))).toEqual(body);
  });

  it('filters an answer that is an array ([].email)', async () => {
    const list = [{ id: 'u_alice', email: 'a@example.com' }, { id: 'u_bob', email: 'b@example.com' }];
    expect(await json(await filter({ fields: { '[].email': ['admin'] } }, list, ALICE))).toEqual([{ id: 'u_alice' }, { id: 'u_bob' }]);
  });

  test.each([
    ['an object where the path says []', { items: { secret: 's' }, id: 1 }, { id: 1 }],
    ['an array where the path names a key', { a: [{ b: { c: 1 } }], id: 1 }, { id: 1 }],
    ['one element of the wrong kind', { items: [{ secret: 's' }, [{ secret: 's' }]], id: 1 }, { id: 1 }],
  ])('removes the enclosing field whole when the answer has %s (fail closed)', async (_name, input, expected) => {
    expect(await json(await filter(rule, input, ALICE))).toEqual(expected);
  });

  it('refuses an answer whose top level does not fit a path (a list where the rule expects a record)', async () => {
    const outcome = await filter({ fields: { email: ['admin'] } }, [{ email: 'a@example.com' }], ALICE);
    expect(outcome).toMatchObject({ ok: false, reason: 'response.invalid' });
  });

  it('matches keys exactly: a differently spelt key is not the protected field (use a schema for an allowlist)', async () => {
    expect(await json(await filter({ fields: { email: ['admin'] } }, { Email: 'x' }, ALICE))).toEqual({ Email: 'x' });
  });
});

describe('strict mode', () => {
  const strict: ResponsePolicy = { ...USER_FIELDS, mode: 'strict' };

  it('refuses an answer that holds a field the caller may not read', async () => {
    const outcome = await filter(strict, USER, ALICE);
    expect(outcome).toEqual({ ok: false, reason: 'response.forbidden_field', detail: 'fields the caller may not read: lastLoginIp' });
  });

  it('passes an answer without such fields, and every answer to a caller who may read them', async () => {
    expect(await json(await filter(strict, { id: 'u_alice', email: 'alice@example.com' }, ALICE))).toEqual({ id: 'u_alice', email: 'alice@example.com' });
    expect(await json(await filter(strict, USER, BOB))).toEqual(USER);
  });
});

describe('response schema', () => {
  const schema = v.object({ id: v.string(), name: v.string(), email: v.optional(v.string()), lastLoginIp: v.optional(v.string()) });

  it('sends the schema\'s output: keys it does not declare are gone', async () => {
    const outcome = await filter({ schema, ...USER_FIELDS }, { ...USER, passwordHash: 'scrypt$…' }, BOB);
    expect(await json(outcome)).toEqual(USER);
  });

  it('refuses a success that does not match', async () => {
    const outcome = await filter({ schema }, { id: 7 }, BOB);
    expect(outcome).toMatchObject({ ok: false, reason: 'response.invalid' });
    expect(!outcome.ok && outcome.detail).toContain('/id');
  });

  it('does not hold an error answer to the success schema, but still filters it', async () => {
    const outcome = await filter({ schema, ...USER_FIELDS }, { error: 'conflict', lastLoginIp: '192.0.2.7' }, ALICE, { status: 409 });
    expect(await json(outcome)).toEqual({ error: 'conflict' });
  });
});

describe('what is read, and what is refused', () => {
  it('refuses an answer over maxBytes by its Content-Length', async () => {
    const response = new Response(JSON.stringify(USER), { headers: { 'content-type': 'application/json', 'content-length': '5000' } });
    expect(await filter({ ...USER_FIELDS, maxBytes: 100 }, response, BOB)).toMatchObject({ ok: false, reason: 'response.too_large' });
  });

  it('refuses a streamed answer once it passes maxBytes, and stops reading it', async () => {
    let pulled = 0;
    const chunk = new TextEncoder().encode(`"${'x'.repeat(1022)}",`);
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        pulled++;
        controller.enqueue(chunk);
      },
    });
    const response = new Response(body, { headers: { 'content-type': 'application/json' } });
    expect(await filter({ ...USER_FIELDS, maxBytes: 64 * 1024 }, response, BOB)).toMatchObject({ ok: false, reason: 'response.too_large' });
    expect(pulled).toBeLessThan(70);
  });

  test.each([
    ['text/html', '<p>alice@example.com</p>', {}],
    ['no type', 'alice@example.com', { 'content-type': '' }],
    ['gzip JSON', '{}', { 'content-type': 'application/json', 'content-encoding': 'gzip' }],
    ['JSON in latin-1', '{}', { 'content-type': 'application/json; charset=iso-8859-1' }],
    ['malformed JSON', '{"email":', { 'content-type': 'application/json' }],
  ])('refuses a success that is %s (it cannot be checked)', async (type, text, headers) => {
    const response = new Response(text, { headers: { 'content-type': type, ...headers } });
    if ((headers as Record<string, string>)['content-type'] === '') response.headers.delete('content-type');
    expect(await filter(USER_FIELDS, response, BOB)).toMatchObject({ ok: false, reason: 'response.unreadable' });
  });

  it('passes a non-JSON error answer untouched (the same Response, still streaming)', async () => {
    const response = new Response('<h1>Not found</h1>', { status: 404, headers: { 'content-type': 'text/html' } });
    const outcome = await filter(USER_FIELDS, response, ALICE);
    expect(outcome.ok && outcome.response).toBe(response);
    expect(response.bodyUsed).toBe(false);
  });

  test.each([
    ['a 204', new Response(null, { status: 204 }), 'GET'],
    ['an answer to HEAD', Response.json(USER), 'HEAD'],
  ])('passes %s untouched', async (_name, response, method) => {
    const outcome = await filter(USER_FIELDS, response, ALICE, { method });
    expect(outcome.ok && outcome.response).toBe(response);
  });

  it('keeps the origin\'s bytes when nothing is removed (no number loses precision)', async () => {
    const text = '{"id":12345678901234567890,"name":"Alice"}';
    const outcome = await filter(USER_FIELDS, new Response(text, { headers: { 'content-type': 'application/json' } }), ALICE);
    expect(outcome.ok && (await outcome.response.text())).toBe(text);
  });

  it('drops the headers that described the old bytes, and keeps the rest', async () => {
    const response = Response.json(USER, { headers: { etag: '"abc"', 'content-length': '99', 'x-trace': 't-1' } });
    const outcome = await filter(USER_FIELDS, response, ALICE);
    if (!outcome.ok) throw new Error(outcome.reason);
    expect(outcome.response.headers.get('etag')).toBeNull();
    expect(outcome.response.headers.get('x-trace')).toBe('t-1');
    expect(outcome.response.headers.get('content-type')).toBe('application/json');
    expect(outcome.response.headers.get('content-length')).not.toBe('99');
  });
});

describe('parseFieldPath', () => {
  test.each([
    ['email', [{ key: 'email' }]],
    ['a.b', [{ key: 'a' }, { key: 'b' }]],
    ['items[].secret', [{ key: 'items' }, { each: true }, { key: 'secret' }]],
    ['[].email', [{ each: true }, { key: 'email' }]],
    ['m[][].x', [{ key: 'm' }, { each: true }, { each: true }, { key: 'x' }]],
  ])('%s', (path, steps) => expect(parseFieldPath(path)).toEqual(steps));

  test.each(['', 'a..b', 'a.', 'items[]', 'a[0].b', 'a]b', '[]'])('refuses %j', (path) => {
    expect(typeof parseFieldPath(path)).toBe('string');
  });
});
