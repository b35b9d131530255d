/**
 * Input validation through the real engine: schemas for params, query, headers and body, unknown
 * keys, mass assignment, media types and charsets, size caps enforced on the stream, prototype
 * keys, depth, forms, and the request forwarded with the body already read.
 */
import * as v from 'valibot';
import { describe, expect, it, test } from 'vitest';
import { denialResponse, type Allow, type Decision, type Deny } from '../decision.ts';
import { createEngine } from '../engine.ts';
import type { SecurityEvent } from '../log.ts';
import { definePolicy } from '../policy/define.ts';
import type { Policy, RoutePolicy } from '../policy/types.ts';
import type { AuthnMethod } from './authn.ts';

const FIXED = Date.parse('2026-03-01T12:00:00Z');
const API = 'https://api.example.com';

interface Who {
  id: string;
  roles?: string[];
}

/** Authenticates whoever the `x-test-user` header names (JSON); absent without it. */
const testUser: AuthnMethod = {
  kind: 'test',
  challenge: 'Bearer',
  authenticate: async (request) => {
    const header = request.headers.get('x-test-user');
    if (header === null) return { kind: 'absent' };
    const who = JSON.parse(header) as Who;
    return { kind: 'success', principal: { roles: [], scopes: [], claims: { sub: who.id }, ...who } };
  },
};

const ALICE: Who = { id: 'u_alice', roles: ['user'] };
const ADMIN: Who = { id: 'u_root', roles: ['admin'] };

interface Send {
  body?: BodyInit | null;
  /** Content-Type; a string body without one is sent as text/plain (as fetch does). */
  type?: string;
  headers?: Record<string, string>;
  /** The caller. @default ALICE */
  who?: Who | null;
}

function request(method: string, path: string, init: Send = {}): Request {
  const headers = new Headers(init.headers);
  const who = init.who === undefined ? ALICE : init.who;
  if (who) headers.set('x-test-user', JSON.stringify(who));
  if (init.type !== undefined) headers.set('content-type', init.type);
  return new Request(`${API}${path}`, { method, headers, body: init.body ?? null, duplex: 'half' } as RequestInit);
}

function setup(routes: Record<string, RoutePolicy>, extra: Partial<Policy> = {}) {
  const events: SecurityEvent[] = [];
  const policy = definePolicy({ authn: { test: testUser }, ...extra, routes: routes as Policy['routes'] });
  const engine = createEngine(policy, { now: () => FIXED, randomId: () => 'req-1', log: (event) => events.push(event) });
  const evaluate = (req: Request) => engine.evaluate(req, { rawTarget: req.url.slice(API.length), peer: { address: '192.0.2.10' } });
  const send = (method: string, path: string, init: Send = {}) => evaluate(request(method, path, init));
  return { engine, events, evaluate, send };
}

const json = (value: unknown, type = 'application/json'): Send => ({ body: JSON.stringify(value), type });

function expectAllow(decision: Decision): Allow {
  if (decision.kind !== 'allow') return expect.unreachable(`denied: ${decision.reason} ${JSON.stringify(decision.problem)}`);
  return decision;
}

function expectDeny(decision: Decision, status: number, reason: string): Deny {
  if (decision.kind !== 'deny') return expect.unreachable(`allowed, expected ${status} ${reason}`);
  expect({ status: decision.status, reason: decision.reason }).toEqual({ status, reason });
  return decision;
}

/** The 422 field errors of a denial. */
function fieldErrors(decision: Decision) {
  const denied = expectDeny(decision, 422, 'validate.invalid');
  return denied.problem?.errors;
}

/** Pulls after which an "endless" stream errors instead: a reader that ignores the body cap fails fast, not out of memory. */
const RUNAWAY_PULLS = 10_000;

/** A stream that yields `chunk` "forever" (or `times` times), counting pulls and noticing cancellation. */
function endless(chunk: Uint8Array, times = Infinity) {
  const state = { pulls: 0, cancelled: false };
  const stream = new ReadableStream<Uint8Array>(
    {
      pull(controller) {
        state.pulls++;
        if (state.pulls > RUNAWAY_PULLS) controller.error(new Error(`read ${RUNAWAY_PULLS} chunks: the body cap did not stop the reader`));
        else if (state.pulls > times) controller.close();
        else controller.enqueue(chunk.slice());
      },
      cancel() {
        state.cancelled = true;
      },
    },
    { highWaterMark: 0 },
  );
  return { stream, state };
}

const bytesOf = (...parts: (string | number[])[]) =>
  new Uint8Array(parts.flatMap((part) => (typeof part === 'string' ? [...new TextEncoder().encode(part)] : part)));

const UserPatch = v.object({
  name: v.optional(v.string()),
  role: v.optional(v.picklist(['user', 'admin'])),
  isAdmin: v.optional(v.boolean()),
  profile: v.optional(v.object({ bio: v.optional(v.string()), verified: v.optional(v.boolean()) })),
});

describe('mass assignment: fieldRoles', () => {
  const routes = {
    'PATCH /v1/users/:id': {
      authn: ['test'],
      allow: [{ roles: ['admin'] }, { owner: { param: 'id' } }],
      body: UserPatch,
      contentTypes: ['application/json', 'application/x-www-form-urlencoded'],
      fieldRoles: { role: ['admin'], isAdmin: ['admin'], 'profile.verified': ['admin'] },
    },
  } satisfies Record<string, RoutePolicy>;
  const roleHierarchy = { superadmin: ['admin'], admin: ['user'] };

  test.each<[string, Send]>([
    ['role', json({ role: 'admin' })],
    ['role, even to the value she has', json({ name: 'Alice', role: 'user' })],
    ['isAdmin: true', json({ isAdmin: true })],
    ['isAdmin: false (setting it at all)', json({ isAdmin: false })],
    ['a nested dotted field (profile.verified)', json({ profile: { bio: 'hi', verified: true } })],
    ['role spelled with a JSON escape', { body: '{"\\u0072ole":"admin"}', type: 'application/json' }],
    ['role in a form body', { body: 'name=Alice&role=admin', type: 'application/x-www-form-urlencoded' }],
  ])('refuses a non-admin setting %s with 403 authz.field_forbidden', async (_, init) => {
    const { send } = setup(routes, { roleHierarchy });
    const decision = expectDeny(await send('PATCH', '/v1/users/u_alice', init), 403, 'authz.field_forbidden');
    expect(decision.problem).toEqual({
      type: 'https://portcullis.dev/problems/authz.field_forbidden',
      title: 'Forbidden',
      status: 403,
      code: 'authz.field_forbidden',
      requestId: 'req-1',
    });
  });

  test('refuses role twice in one object (which one counts depends on the parser) with 400 before any field rule', async () => {
    const { send } = setup(routes, { roleHierarchy });
    const decision = expectDeny(await send('PATCH', '/v1/users/u_alice', { body: '{"role":"admin","role":"user"}', type: 'application/json' }), 400, 'validate.duplicate_key');
    expect(decision.problem?.detail).toBe('the key "role" appears twice in one object');
  });

  test.each<[string, Send]>([
    ['her name', json({ name: 'Alice' })],
    ['a sibling of a protected nested field', json({ profile: { bio: 'hi' } })],
    ['nothing', json({})],
  ])('lets a non-admin set %s', async (_, init) => {
    const { send } = setup(routes, { roleHierarchy });
    expectAllow(await send('PATCH', '/v1/users/u_alice', init));
  });

  test.each<[string, Who]>([
    ['an admin', ADMIN],
    ['a superadmin (admin through the hierarchy)', { id: 'u_boss', roles: ['superadmin'] }],
  ])('lets %s set role, isAdmin and profile.verified', async (_, who) => {
    const { send } = setup(routes, { roleHierarchy });
    const body = { role: 'admin', isAdmin: true, profile: { verified: true } };
    const decision = expectAllow(await send('PATCH', '/v1/users/u_alice', { ...json(body), who }));
    expect(decision.input.body).toEqual(body);
    expect(await decision.request.json()).toEqual(body);
  });

  it('names the forbidden field in the trace, not to the caller', async () => {
    const { send } = setup(routes);
    const decision = expectDeny(await send('PATCH', '/v1/users/u_alice', json({ isAdmin: true })), 403, 'authz.field_forbidden');
    expect(await denialResponse(decision).text()).not.toContain('isAdmin');
    expect(JSON.stringify(decision.trace)).toContain('isAdmin');
  });
});

describe('unknown keys', () => {
  const Thing = v.object({
    name: v.string(),
    address: v.optional(v.object({ zip: v.string() })),
    items: v.optional(v.array(v.object({ sku: v.string() }))),
  });
  const route = (extra: Partial<RoutePolicy> = {}): Record<string, RoutePolicy> => ({
    'POST /v1/things': { authn: ['test'], allow: 'authenticated', body: Thing, ...extra },
  });

  test.each<[string, unknown, string[]]>([
    ['a top-level key', { name: 'a', isAdmin: true }, ['/isAdmin']],
    ['a key that differs from a declared one by case', { name: 'a', Name: 'b' }, ['/Name']],
    ['a key in a nested object', { name: 'a', address: { zip: '1', geo: 'x' } }, ['/address/geo']],
    ['a key in an array item', { name: 'a', items: [{ sku: '1' }, { sku: '2', price: 0 }] }, ['/items/1/price']],
    ['keys that need JSON Pointer escapes', { name: 'a', 'a/b': 1, 't~x': 2 }, ['/a~1b', '/t~0x']],
    ['several keys at once', { name: 'a', role: 'admin', address: { zip: '1', owner: 'u_bob' } }, ['/role', '/address/owner']],
  ])('refuses %s by default (422), although valibot’s object would strip it', async (_, body, pointers) => {
    const { send } = setup(route());
    const errors = fieldErrors(await send('POST', '/v1/things', json(body)));
    expect(errors).toEqual(pointers.map((pointer) => ({ in: 'body', pointer, detail: 'unknown key' })));
  });

  it('sends the field errors as the RFC 9457 errors extension of a problem+json 422', async () => {
    const { send } = setup(route());
    const response = denialResponse(expectDeny(await send('POST', '/v1/things', json({ name: 'a', isAdmin: true })), 422, 'validate.invalid'));
    expect(response.headers.get('content-type')).toBe('application/problem+json');
    expect(await response.json()).toEqual({
      type: 'https://portcullis.dev/problems/validate.invalid',
      title: 'Unprocessable content',
      status: 422,
      code: 'validate.invalid',
      requestId: 'req-1',
      errors: [{ in: 'body', pointer: '/isAdmin', detail: 'unknown key' }],
    });
  });

  it('refuses an unknown key through a strict schema’s own issue', async () => {
    const { send } = setup({ 'POST /v1/things': { authn: ['test'], allow: 'authenticated', body: v.strictObject({ name: v.string() }) } });
    expect(fieldErrors(await send('POST', '/v1/things', json({ name: 'a', isAdmin: true })))).toEqual([
      { in: 'body', pointer: '/isAdmin', detail: expect.stringContaining('isAdmin') },
    ]);
  });

  it('keeps a key a loose schema keeps: it was declared welcome', async () => {
    const { send } = setup({ 'POST /v1/things': { authn: ['test'], allow: 'authenticated', body: v.looseObject({ name: v.string() }) } });
    const decision = expectAllow(await send('POST', '/v1/things', json({ name: 'a', extra: 1 })));
    expect(decision.input.body).toEqual({ name: 'a', extra: 1 });
  });

  it('strips unknown keys with unknownKeys: "strip", and forwards the stripped body', async () => {
    const { send } = setup(route({ unknownKeys: 'strip' }));
    const sent = { name: 'a', isAdmin: true, address: { zip: '1', geo: 'x' }, items: [{ sku: '1', price: 0 }] };
    const decision = expectAllow(await send('POST', '/v1/things', json(sent)));
    const stripped = { name: 'a', address: { zip: '1' }, items: [{ sku: '1' }] };
    expect(decision.input.body).toEqual(stripped);
    const forwarded = await decision.request.text();
    expect(JSON.parse(forwarded)).toEqual(stripped);
    expect(forwarded).not.toContain('isAdmin');
  });

  it('strips unknown keys from a form body too: the forwarded form holds only the schema’s fields', async () => {
    const { send } = setup({
      'POST /v1/contact': {
        authn: ['test'],
        allow: 'authenticated',
        body: v.object({ name: v.string() }),
        contentTypes: ['application/x-www-form-urlencoded'],
        unknownKeys: 'strip',
      },
    });
    const decision = expectAllow(
      await send('POST', '/v1/contact', { body: 'name=Ann&isAdmin=true&constructor%5Bprototype%5D%5BisAdmin%5D=true', type: 'application/x-www-form-urlencoded' }),
    );
    expect(decision.input.body).toEqual({ name: 'Ann' });
    const forwarded = new URLSearchParams(await decision.request.text());
    expect([...forwarded]).toEqual([['name', 'Ann']]);
  });

  it('strips a multipart field the schema does not declare from the forwarded form', async () => {
    const { send } = setup({
      'POST /v1/uploads': {
        authn: ['test'],
        allow: 'authenticated',
        body: v.object({ title: v.string(), file: v.instance(File) }),
        contentTypes: ['multipart/form-data'],
        unknownKeys: 'strip',
      },
    });
    const form = new FormData();
    form.append('title', 'report');
    form.append('isAdmin', 'true');
    form.append('file', new File(['hello'], 'hello.txt', { type: 'text/plain' }));
    const decision = expectAllow(await send('POST', '/v1/uploads', { body: form }));
    const forwarded = await decision.request.formData();
    expect([...forwarded.keys()].sort()).toEqual(['file', 'title']);
    expect(await (forwarded.get('file') as File).text()).toBe('hello');
  });

  test.each<[string, unknown, { pointer: string }[]]>([
    ['a wrong type', { name: 5 }, [{ pointer: '/name' }]],
    ['a missing field', {}, [{ pointer: '/name' }]],
    ['a nested wrong type', { name: 'a', address: { zip: 1 } }, [{ pointer: '/address/zip' }]],
    ['an array item', { name: 'a', items: [{ sku: 'x' }, { sku: null }] }, [{ pointer: '/items/1/sku' }]],
    ['every issue, not only the first', { name: 1, address: { zip: 1 } }, [{ pointer: '/name' }, { pointer: '/address/zip' }]],
    ['a string where an object belongs', 'thing', [{ pointer: '' }]],
  ])('answers a schema failure (%s) with 422 and the issue paths as JSON pointers', async (_, body, expected) => {
    const { send } = setup(route());
    const errors = fieldErrors(await send('POST', '/v1/things', json(body)));
    expect(errors).toEqual(expected.map(({ pointer }) => ({ in: 'body', pointer, detail: expect.any(String) })));
  });
});

describe('body: media types and charsets', () => {
  const routes = {
    'POST /v1/things': { authn: ['test'], allow: 'authenticated', body: v.object({ name: v.string() }) },
    'PATCH /v1/things/:id': {
      authn: ['test'],
      allow: 'authenticated',
      body: v.object({ name: v.string() }),
      contentTypes: ['application/json', 'application/merge-patch+json'],
    },
  } satisfies Record<string, RoutePolicy>;
  const JSON_TEXT = '{"name":"a"}';

  test.each<[string, Send]>([
    ['text/plain carrying JSON', { body: JSON_TEXT, type: 'text/plain' }],
    ['a string body without a declared type (sent as text/plain)', { body: JSON_TEXT }],
    ['no Content-Type at all', { body: bytesOf(JSON_TEXT) }],
    ['an empty Content-Type', { body: JSON_TEXT, type: '' }],
    ['application/json-patch+json, not listed', { body: '[]', type: 'application/json-patch+json' }],
    ['application/merge-patch+json, listed on another route only', { body: JSON_TEXT, type: 'application/merge-patch+json' }],
    ['text/json', { body: JSON_TEXT, type: 'text/json' }],
    ['application/jsonx', { body: JSON_TEXT, type: 'application/jsonx' }],
    ['application/x-json', { body: JSON_TEXT, type: 'application/x-json' }],
    ['a wildcard', { body: JSON_TEXT, type: 'application/*' }],
    ['two types in one header', { body: JSON_TEXT, type: 'application/json, text/plain' }],
    ['a space inside the type', { body: JSON_TEXT, type: 'application /json' }],
    ['a form, not listed', { body: 'name=a', type: 'application/x-www-form-urlencoded' }],
    ['multipart, not listed', { body: (() => { const f = new FormData(); f.append('name', 'a'); return f; })() }],
    ['charset=utf-16', { body: new Uint8Array(Buffer.from(JSON_TEXT, 'utf16le')), type: 'application/json; charset=utf-16' }],
    ['charset=utf-16le', { body: new Uint8Array(Buffer.from(JSON_TEXT, 'utf16le')), type: 'application/json; charset=utf-16le' }],
    ['charset=latin1', { body: JSON_TEXT, type: 'application/json; charset=latin1' }],
    ['charset=iso-8859-1', { body: JSON_TEXT, type: 'application/json; charset=iso-8859-1' }],
    ['charset=utf-7', { body: JSON_TEXT, type: 'application/json; charset=utf-7' }],
    ['a quoted charset="utf-16"', { body: JSON_TEXT, type: 'application/json; charset="utf-16"' }],
    ['charset named twice, utf-16 first', { body: JSON_TEXT, type: 'application/json; charset=utf-16; charset=utf-8' }],
    ['charset named twice, utf-8 first', { body: JSON_TEXT, type: 'application/json; charset=utf-8; charset=utf-16' }],
  ])('refuses %s with 415', async (_, init) => {
    const { send } = setup(routes);
    expectDeny(await send('POST', '/v1/things', init), 415, 'validate.unsupported_media_type');
  });

  test.each<[string, string]>([
    ['application/json', 'application/json'],
    ['the type in capitals', 'Application/JSON'],
    ['charset=utf-8', 'application/json; charset=utf-8'],
    ['charset=UTF-8 without a space', 'application/json;charset=UTF-8'],
    ['a quoted charset="UTF-8"', 'application/json; charset="UTF-8"'],
    ['another parameter', 'application/json; profile="https://example.com/thing"'],
  ])('accepts %s', async (_, type) => {
    const { send } = setup(routes);
    expect(expectAllow(await send('POST', '/v1/things', { body: JSON_TEXT, type })).input.body).toEqual({ name: 'a' });
  });

  it('accepts a +json type the route lists, as JSON', async () => {
    const { send } = setup(routes);
    const decision = expectAllow(await send('PATCH', '/v1/things/t_1', { body: JSON_TEXT, type: 'application/merge-patch+json' }));
    expect(decision.input.body).toEqual({ name: 'a' });
  });

  test.each<[string, Uint8Array<ArrayBuffer>]>([
    ['a byte that is never UTF-8 (0xFF)', bytesOf('{"name":"', [0xff], '"}')],
    ['an overlong encoding of "/"', bytesOf('{"name":"', [0xc0, 0xaf], '"}')],
    ['an encoded surrogate', bytesOf('{"name":"', [0xed, 0xa0, 0x80], '"}')],
    ['a truncated sequence', bytesOf('{"name":"', [0xe2, 0x82], '"}')],
    ['Latin-1 é labelled as UTF-8', bytesOf('{"name":"caf', [0xe9], '"}')],
    ['UTF-16 with its byte order mark', new Uint8Array([0xff, 0xfe, ...Buffer.from(JSON_TEXT, 'utf16le')])],
    ['a UTF-8 byte order mark (refused, not guessed)', bytesOf([0xef, 0xbb, 0xbf], JSON_TEXT)],
  ])('refuses %s with 400', async (_, body) => {
    const { send } = setup(routes);
    expectDeny(await send('POST', '/v1/things', { body, type: 'application/json' }), 400, 'validate.malformed_body');
  });

  it('reads multi-byte UTF-8 as written', async () => {
    const { send } = setup(routes);
    const decision = expectAllow(await send('POST', '/v1/things', json({ name: 'café 🚪 \u2028' })));
    expect(decision.input.body).toEqual({ name: 'café 🚪 \u2028' });
  });
});

describe('body: size, enforced while reading', () => {
  const routes = {
    'POST /v1/notes': { authn: ['test'], allow: 'authenticated', body: v.object({ data: v.string() }), maxBodyBytes: 1024 },
    'POST /v1/blobs': { authn: ['test'], allow: 'authenticated', contentTypes: ['application/octet-stream'], maxBodyBytes: 1024 },
    'POST /v1/big': { authn: ['test'], allow: 'authenticated', body: v.object({ data: v.string() }) },
  } satisfies Record<string, RoutePolicy>;
  /** A JSON body of exactly `size` bytes. */
  const noteOf = (size: number) => JSON.stringify({ data: 'x'.repeat(size - '{"data":""}'.length) });

  it('accepts a body of exactly the limit and refuses one byte more with 413', async () => {
    const { send } = setup(routes);
    expect(noteOf(1024)).toHaveLength(1024);
    expectAllow(await send('POST', '/v1/notes', { body: noteOf(1024), type: 'application/json' }));
    expectDeny(await send('POST', '/v1/notes', { body: noteOf(1025), type: 'application/json' }), 413, 'validate.body_too_large');
  });

  it('refuses an endless chunked body without Content-Length with 413, having read little more than the limit', async () => {
    const { evaluate } = setup(routes);
    const { stream, state } = endless(new Uint8Array(100).fill(0x20));
    const req = request('POST', '/v1/notes', { body: stream, type: 'application/json' });
    expect(req.headers.has('content-length')).toBe(false);
    expectDeny(await evaluate(req), 413, 'validate.body_too_large');
    expect(state.pulls).toBeLessThanOrEqual(1024 / 100 + 2);
    expect(state.cancelled).toBe(true);
  });

  it('refuses a chunked body of no accepted type with 415 without reading it', async () => {
    const { evaluate } = setup(routes);
    const { stream, state } = endless(new Uint8Array(100).fill(0x20));
    const decision = await evaluate(request('POST', '/v1/notes', { body: stream, type: 'text/plain' }));
    expectDeny(decision, 415, 'validate.unsupported_media_type');
    expect(state.pulls).toBeLessThanOrEqual(1);
  });

  it('refuses a chunked body without any Content-Type with 415', async () => {
    const { evaluate } = setup(routes);
    const { stream } = endless(new Uint8Array(100).fill(0x20), 3);
    expectDeny(await evaluate(request('POST', '/v1/notes', { body: stream })), 415, 'validate.unsupported_media_type');
  });

  it('refuses a body whose Content-Length says less than it sends', async () => {
    const { evaluate } = setup(routes);
    const req = request('POST', '/v1/notes', { body: noteOf(5000), type: 'application/json', headers: { 'content-length': '10' } });
    expect(req.headers.get('content-length')).toBe('10');
    expectDeny(await evaluate(req), 413, 'validate.body_too_large');
  });

  it('refuses an honest Content-Length over the limit before reading the stream', async () => {
    const { evaluate } = setup(routes);
    const { stream, state } = endless(new Uint8Array(100).fill(0x20));
    expectDeny(await evaluate(request('POST', '/v1/notes', { body: stream, type: 'application/json', headers: { 'content-length': '5000' } })), 413, 'validate.body_too_large');
    expect(state.pulls).toBeLessThanOrEqual(1);
  });

  it('does not pass a lying Content-Length on: the origin gets every byte read, and no length that cuts them short', async () => {
    const { evaluate } = setup(routes);
    const sent = bytesOf('0123456789'.repeat(10));
    const decision = expectAllow(await evaluate(request('POST', '/v1/blobs', { body: sent, type: 'application/octet-stream', headers: { 'content-length': '5' } })));
    expect(decision.request.headers.get('content-length')).not.toBe('5');
    expect(new Uint8Array(await decision.request.arrayBuffer())).toEqual(sent);
  });

  it('takes the policy-wide limit when the route sets none, and 100 KiB when neither does', async () => {
    const limited = setup(routes, { limits: { maxBodyBytes: 64 } });
    expectDeny(await limited.send('POST', '/v1/big', { body: noteOf(65), type: 'application/json' }), 413, 'validate.body_too_large');
    expectAllow(await limited.send('POST', '/v1/notes', { body: noteOf(1000), type: 'application/json' }));
    const { send } = setup(routes);
    expectAllow(await send('POST', '/v1/big', { body: noteOf(100 * 1024), type: 'application/json' }));
    expectDeny(await send('POST', '/v1/big', { body: noteOf(100 * 1024 + 1), type: 'application/json' }), 413, 'validate.body_too_large');
  });
});

describe('body: JSON syntax, prototype keys and depth', () => {
  const routes = {
    'POST /v1/docs': { authn: ['test'], allow: 'authenticated', body: v.any() },
    'POST /v1/forms': { authn: ['test'], allow: 'authenticated', body: v.any(), contentTypes: ['application/x-www-form-urlencoded', 'multipart/form-data'] },
  } satisfies Record<string, RoutePolicy>;

  test.each([['{'], ['{"a":1,}'], ["{'a':1}"], ['{"a":NaN}'], ['{a:1}'], [''], ['{"a":1}x'], ['{"a":1}{"b":2}'], ['undefined'], ['[1,2'], ['"unterminated']])(
    'refuses %j with 400 malformed_body',
    async (text) => {
      const { send } = setup(routes);
      expectDeny(await send('POST', '/v1/docs', { body: text, type: 'application/json' }), 400, 'validate.malformed_body');
    },
  );

  test.each([
    ['{"__proto__":{"isAdmin":true}}'],
    ['{"constructor":{"prototype":{"isAdmin":true}}}'],
    ['{"prototype":{"isAdmin":true}}'],
    ['{"user":{"profile":{"__proto__":{"isAdmin":true}}}}'],
    ['[{"ok":1},{"constructor":{"prototype":{"polluted":1}}}]'],
    ['{"\\u005f\\u005fproto\\u005f\\u005f":{"isAdmin":true}}'],
    ['{"a":{"__proto__":{"isAdmin":true}},"a":1}'],
  ])('refuses the JSON pollution payload %s with 400', async (text) => {
    const { send } = setup(routes);
    expectDeny(await send('POST', '/v1/docs', { body: text, type: 'application/json' }), 400, 'validate.forbidden_key');
    expect(({} as Record<string, unknown>).isAdmin).toBeUndefined();
  });

  test.each<[string, Send]>([
    ['__proto__ as a form field', { body: '__proto__=x', type: 'application/x-www-form-urlencoded' }],
    ['constructor as a form field', { body: 'name=a&constructor=x', type: 'application/x-www-form-urlencoded' }],
    ['prototype as a form field', { body: 'prototype=x', type: 'application/x-www-form-urlencoded' }],
    ['__proto__ percent-encoded', { body: '%5F%5Fproto%5F%5F=x', type: 'application/x-www-form-urlencoded' }],
    ['__proto__ as a multipart field', { body: (() => { const f = new FormData(); f.append('__proto__', 'x'); return f; })() }],
    ['constructor as a multipart file field', { body: (() => { const f = new FormData(); f.append('constructor', new File(['x'], 'x.txt')); return f; })() }],
  ])('refuses %s with 400', async (_, init) => {
    const { send } = setup(routes);
    expectDeny(await send('POST', '/v1/forms', init), 400, 'validate.forbidden_key');
  });

  test.each([['{"note":"__proto__"}'], ['["constructor"]'], ['{"__proto__x":1,"Constructor":2}']])('accepts %s: the words as values or parts of keys are not keys', async (text) => {
    const { send } = setup(routes);
    expect(expectAllow(await send('POST', '/v1/docs', { body: text, type: 'application/json' })).input.body).toEqual(JSON.parse(text));
  });

  const nested = (depth: number, kind: 'array' | 'object' | 'mixed') => {
    let text = '1';
    for (let i = 0; i < depth; i++) text = kind === 'array' || (kind === 'mixed' && i % 2) ? `[${text}]` : `{"a":${text}}`;
    return text;
  };

  test.each([['array' as const], ['object' as const], ['mixed' as const]])('caps %s nesting at limits.maxJsonDepth: the cap is accepted, one more is 400', async (kind) => {
    const { send } = setup(routes, { limits: { maxJsonDepth: 4 } });
    expectAllow(await send('POST', '/v1/docs', { body: nested(4, kind), type: 'application/json' }));
    expectDeny(await send('POST', '/v1/docs', { body: nested(5, kind), type: 'application/json' }), 400, 'validate.too_deep');
  });

  it('caps nesting at 32 by default', async () => {
    const { send } = setup(routes);
    expectAllow(await send('POST', '/v1/docs', { body: nested(32, 'mixed'), type: 'application/json' }));
    expectDeny(await send('POST', '/v1/docs', { body: nested(33, 'mixed'), type: 'application/json' }), 400, 'validate.too_deep');
    expectDeny(await send('POST', '/v1/docs', { body: '['.repeat(50_000), type: 'application/json' }), 400, 'validate.too_deep');
  });

  it('does not count brackets inside strings as nesting', async () => {
    const { send } = setup(routes, { limits: { maxJsonDepth: 2 } });
    const text = JSON.stringify({ a: '[[[[[[{{{{{{', b: ['"]]]]'] });
    expect(expectAllow(await send('POST', '/v1/docs', { body: text, type: 'application/json' })).input.body).toEqual(JSON.parse(text));
  });
});

describe('body: forms', () => {
  const routes = {
    'POST /v1/contact': {
      authn: ['test'],
      allow: 'authenticated',
      body: v.object({ name: v.string(), tag: v.optional(v.union([v.string(), v.array(v.string())])) }),
      contentTypes: ['application/x-www-form-urlencoded'],
    },
    'POST /v1/uploads': {
      authn: ['test'],
      allow: 'authenticated',
      body: v.object({ title: v.string(), file: v.instance(File) }),
      contentTypes: ['multipart/form-data'],
    },
  } satisfies Record<string, RoutePolicy>;
  const form = 'application/x-www-form-urlencoded';

  test.each<[string, string, unknown]>([
    ['one field', 'name=Ann', { name: 'Ann' }],
    ['a repeated key as an array', 'name=Ann&tag=a&tag=b&tag=c', { name: 'Ann', tag: ['a', 'b', 'c'] }],
    ['a single key as a string', 'name=Ann&tag=a', { name: 'Ann', tag: 'a' }],
    ['+ as a space and percent-encoded UTF-8', 'name=Ann+Caf%C3%A9', { name: 'Ann Café' }],
  ])('parses %s from application/x-www-form-urlencoded', async (_, body, expected) => {
    const { send } = setup(routes);
    const decision = expectAllow(await send('POST', '/v1/contact', { body, type: form }));
    expect(decision.input.body).toEqual(expected);
    expect(await decision.request.text()).toBe(body);
  });

  it('parses multipart/form-data fields and a file, and forwards them whole', async () => {
    const { send } = setup(routes);
    const sent = new FormData();
    sent.append('title', 'quarterly report');
    const content = new Uint8Array([0, 1, 2, 0xff, 0xfe, 13, 10, 45, 45]);
    sent.append('file', new File([content], 'report.bin', { type: 'application/octet-stream' }));
    const decision = expectAllow(await send('POST', '/v1/uploads', { body: sent }));

    const input = decision.input.body as { title: string; file: File };
    expect(input.title).toBe('quarterly report');
    expect(input.file.name).toBe('report.bin');
    expect(new Uint8Array(await input.file.arrayBuffer())).toEqual(content);

    const forwarded = await decision.request.formData();
    expect(forwarded.get('title')).toBe('quarterly report');
    const file = forwarded.get('file') as File;
    expect(file.name).toBe('report.bin');
    expect(new Uint8Array(await file.arrayBuffer())).toEqual(content);
  });

  test.each<[string, Send]>([
    ['a multipart body that does not parse', { body: 'garbage', type: 'multipart/form-data; boundary=xyz' }],
    ['a multipart type without a boundary', { body: '--xyz\r\n\r\n--xyz--', type: 'multipart/form-data' }],
  ])('refuses %s with 400', async (_, init) => {
    const { send } = setup(routes);
    expectDeny(await send('POST', '/v1/uploads', init), 400, 'validate.malformed_body');
  });

  it('refuses JSON on a form route with 415', async () => {
    const { send } = setup(routes);
    expectDeny(await send('POST', '/v1/contact', json({ name: 'Ann' })), 415, 'validate.unsupported_media_type');
  });
});

describe('a route without a body', () => {
  const routes = {
    'POST /v1/things/:id/archive': { authn: ['test'], allow: 'authenticated' },
    'DELETE /v1/things/:id': { authn: ['test'], allow: 'authenticated' },
  } satisfies Record<string, RoutePolicy>;

  test.each<[string, string, Send]>([
    ['text', 'POST', { body: 'x', type: 'text/plain' }],
    ['JSON', 'POST', json({ force: true })],
    ['bytes without a type', 'POST', { body: bytesOf('x') }],
    ['a chunked stream', 'POST', { body: endless(bytesOf('x'), 2).stream }],
    ['a body on DELETE', 'DELETE', json({ force: true })],
    ['an empty body that claims a length', 'POST', { body: '', headers: { 'content-length': '4' } }],
  ])('refuses %s with 415', async (_, method, init) => {
    const { send } = setup(routes);
    const path = method === 'DELETE' ? '/v1/things/t_1' : '/v1/things/t_1/archive';
    expectDeny(await send(method, path, init), 415, 'validate.unsupported_media_type');
  });

  test.each<[string, Send]>([
    ['no body', {}],
    ['an empty string body', { body: '' }],
    ['an empty stream', { body: endless(bytesOf('x'), 0).stream }],
    ['Content-Length: 0', { body: '', headers: { 'content-length': '0' } }],
  ])('accepts %s, and forwards none', async (_, init) => {
    const { send } = setup(routes);
    const decision = expectAllow(await send('POST', '/v1/things/t_1/archive', init));
    expect(decision.input.body).toBeUndefined();
    expect(await decision.request.text()).toBe('');
  });
});

describe('the forwarded request carries the body already read', () => {
  const routes = {
    'POST /v1/orders': {
      authn: ['test'],
      allow: 'authenticated',
      body: v.object({ sku: v.string(), qty: v.pipe(v.string(), v.regex(/^\d+$/), v.transform(Number)) }),
    },
    'PUT /v1/blobs/:id': { authn: ['test'], allow: 'authenticated', contentTypes: ['application/octet-stream'] },
  } satisfies Record<string, RoutePolicy>;

  it('reads the original body once and forwards the validated output, headers and target intact', async () => {
    const { evaluate } = setup(routes);
    const original = request('POST', '/v1/orders?src=app', { ...json({ sku: 'A-1', qty: '3' }), headers: { 'x-trace': 't-1' } });
    const decision = expectAllow(await evaluate(original));
    expect(original.bodyUsed).toBe(true);
    expect(decision.request).not.toBe(original);
    expect(decision.request.bodyUsed).toBe(false);
    expect(decision.request.method).toBe('POST');
    expect(decision.request.url).toBe(`${API}/v1/orders?src=app`);
    expect(decision.request.headers.get('content-type')).toBe('application/json');
    expect(decision.request.headers.get('x-trace')).toBe('t-1');
    expect(decision.input.body).toEqual({ sku: 'A-1', qty: 3 });
    const forwarded = await decision.request.text();
    expect(JSON.parse(forwarded)).toEqual({ sku: 'A-1', qty: 3 });
    const length = decision.request.headers.get('content-length');
    if (length !== null) expect(Number(length)).toBe(new TextEncoder().encode(forwarded).byteLength);
  });

  it('forwards every byte of an opaque body exactly, from a stream of many chunks', async () => {
    const { evaluate } = setup(routes);
    const all = new Uint8Array(256).map((_, i) => i);
    const chunks = [all.slice(0, 1), all.slice(1, 100), all.slice(100, 101), all.slice(101)];
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        for (const chunk of chunks) controller.enqueue(chunk);
        controller.close();
      },
    });
    const decision = expectAllow(await evaluate(request('PUT', '/v1/blobs/b_1', { body: stream, type: 'application/octet-stream' })));
    expect(new Uint8Array(await decision.request.arrayBuffer())).toEqual(all);
  });

  it('forwards a JSON body that arrived in chunks, whole', async () => {
    const { evaluate } = setup(routes);
    const text = JSON.stringify({ sku: 'Ü-1', qty: '12' });
    const encoded = new TextEncoder().encode(text);
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        // Split inside the two-byte Ü as well.
        for (let i = 0; i < encoded.length; i += 3) controller.enqueue(encoded.slice(i, i + 3));
        controller.close();
      },
    });
    const decision = expectAllow(await evaluate(request('POST', '/v1/orders', { body: stream, type: 'application/json' })));
    expect(await decision.request.json()).toEqual({ sku: 'Ü-1', qty: 12 });
  });

  it('does not read the body of a request authorization refused', async () => {
    const { evaluate } = setup({ 'POST /v1/orders': { ...routes['POST /v1/orders'], allow: [{ roles: ['admin'] }] } });
    const original = request('POST', '/v1/orders', json({ sku: 1 }));
    expectDeny(await evaluate(original), 403, 'authz.denied');
    expect(original.bodyUsed).toBe(false);
  });
});

describe('params, query and headers', () => {
  const digits = v.pipe(v.string(), v.regex(/^\d+$/), v.transform(Number));
  const routes = {
    'GET /v1/orders/:id': {
      authn: ['test'],
      allow: 'authenticated',
      params: v.object({ id: digits }),
      query: v.object({ page: v.optional(digits, '1'), tag: v.optional(v.array(v.string())) }),
      headers: v.object({ 'x-tenant-id': v.pipe(v.string(), v.minLength(1), v.transform((value) => value.toUpperCase())) }),
    },
    'GET /v1/search': {
      authn: ['test'],
      allow: 'authenticated',
      query: v.object({ q: v.string() }),
      unknownKeys: 'strip',
    },
  } satisfies Record<string, RoutePolicy>;
  const tenant = { 'x-tenant-id': 'acme' };

  it('hands on the transformed output of every schema, and keeps the raw params beside it', async () => {
    const { send } = setup(routes);
    const decision = expectAllow(await send('GET', '/v1/orders/42?page=2&tag=a&tag=b', { headers: { ...tenant, 'x-other': 'kept out' } }));
    expect(decision.input).toEqual({ params: { id: 42 }, query: { page: 2, tag: ['a', 'b'] }, headers: { 'x-tenant-id': 'ACME' }, body: undefined });
    expect({ ...decision.params }).toEqual({ id: '42' });
  });

  it('applies a schema default when the query leaves a key out', async () => {
    const { send } = setup(routes);
    expect(expectAllow(await send('GET', '/v1/orders/42', { headers: tenant })).input.query).toEqual({ page: 1 });
  });

  test.each<[string, string, Record<string, string>, { in: string; pointer: string }[]]>([
    ['a param that fails its schema', '/v1/orders/abc', tenant, [{ in: 'params', pointer: '/id' }]],
    ['an unknown query key', '/v1/orders/42?debug=1', tenant, [{ in: 'query', pointer: '/debug' }]],
    ['a query key the schema wants once, repeated', '/v1/orders/42?page=1&page=2', tenant, [{ in: 'query', pointer: '/page' }]],
    ['a missing header', '/v1/orders/42', {}, [{ in: 'headers', pointer: '/x-tenant-id' }]],
    ['every part at once', '/v1/orders/abc?page=x', {}, [{ in: 'params', pointer: '/id' }, { in: 'query', pointer: '/page' }, { in: 'headers', pointer: '/x-tenant-id' }]],
  ])('answers %s with 422 naming where', async (_, path, headers, expected) => {
    const { send } = setup(routes);
    const errors = fieldErrors(await send('GET', path, { headers }));
    expect(errors).toEqual(expect.arrayContaining(expected.map((entry) => ({ ...entry, detail: expect.any(String) }))));
    expect(errors).toHaveLength(expected.length);
  });

  test.each([['a "?" inside the query', '/v1/orders/42?page=3&tag=a?b&tag=c', { page: 3, tag: ['a?b', 'c'] }]])('reads the query alone, with %s', async (_, path, query) => {
    const { send } = setup(routes);
    expect(expectAllow(await send('GET', path, { headers: tenant })).input.query).toEqual(query);
  });

  test.each([
    ['after the query', '/v1/orders/42?page=2#frag&debug=1'],
    ['with a "?" and no query', '/v1/orders/42#frag?debug=1'],
  ])('refuses a target with a fragment %s before any query is read', async (_, path) => {
    const { send } = setup(routes);
    const decision = await send('GET', path, { headers: tenant });
    expect(decision.kind === 'deny' && decision.reason).toBe('request.malformed_path');
  });

  test.each([['?__proto__=x'], ['?constructor=x'], ['?q=a&__proto__=x'], ['?__proto__=x&__proto__=y']])('refuses the query key in %s on a route with a query schema', async (query) => {
    const { send } = setup({ 'GET /v1/items': { authn: ['test'], allow: 'authenticated', query: v.object({ q: v.optional(v.string()) }) } });
    const decision = await send('GET', `/v1/items${query}`);
    expect(decision.kind).toBe('deny');
    expect([400, 422]).toContain((decision as Deny).status);
  });

  it('strips unknown query keys with unknownKeys: "strip", from the input and from the forwarded target', async () => {
    const { send } = setup(routes);
    const decision = expectAllow(await send('GET', '/v1/search?role=admin&q=red%20shoes&__proto__=x&q2=x'));
    expect(decision.input.query).toEqual({ q: 'red shoes' });
    // The pair that stays keeps its spelling.
    expect(decision.request.url).toBe(`${API}/v1/search?q=red%20shoes`);
  });

  it('does not count headers the schema leaves out as unknown keys', async () => {
    const { send } = setup(routes);
    expectAllow(await send('GET', '/v1/orders/42', { headers: { ...tenant, 'x-anything': '1', accept: 'application/json' } }));
  });
});
