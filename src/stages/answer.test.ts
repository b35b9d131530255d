/**
 * The answer rules through the engine: `handle` (every adapter but Hono) and `protect` (the Hono
 * middleware) remove what the caller may not read, refuse with a logged 502 what cannot be checked,
 * leave routes without a response rule streaming, and mask server errors — of an in-process handler
 * and of an origin behind `forwardTo` alike.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it, test } from 'vitest';
import type { AuthnMethod } from '../authn/contract.ts';
import { problemResponse, type Allow } from '../decision.ts';
import { createEngine, type Handler } from '../engine.ts';
import type { SecurityEvent } from '../log.ts';
import { definePolicy } from '../policy/define.ts';
import { forwardTo } from '../proxy.ts';

/** Authenticates whoever `x-test-user` names (`id:role`). */
const testUser: AuthnMethod = {
  kind: 'test',
  challenge: 'Bearer',
  authenticate: async (request) => {
    const header = request.headers.get('x-test-user');
    if (header === null) return { kind: 'absent' };
    const [id, role] = header.split(':') as [string, string];
    return { kind: 'success', principal: { id, roles: [role], scopes: [], claims: { sub: id } } };
  },
};

const policy = definePolicy({
  authn: { test: testUser },
  roleHierarchy: { admin: ['user'] },
  routes: {
    'GET /v1/users/:id': {
      authn: ['test'],
      allow: [{ roles: ['admin'] }, { owner: { param: 'id' } }],
      response: { fields: { email: ['owner', 'admin'], lastLoginIp: ['admin'] } },
    },
    'GET /v1/audit/:id': { authn: ['test'], allow: [{ roles: ['user'] }], response: { fields: { lastLoginIp: ['admin'] }, mode: 'strict' } },
    'GET /v1/plain': { authn: 'anonymous' },
  },
});

const USER = { id: 'u_alice', name: 'Alice', email: 'alice@example.com', lastLoginIp: '203.0.113.9' };
const events: SecurityEvent[] = [];
const engine = createEngine(policy, { log: (event) => events.push(event) });
const PEER = { peer: { address: '127.0.0.1', scheme: 'https' as const } };
const get = (path: string, who?: string) => new Request(`https://api.example.com${path}`, { headers: who ? { 'x-test-user': who } : {} });

describe('engine.handle with an in-process handler', () => {
  test.each([
    ['the owner', 'u_alice:user', { id: 'u_alice', name: 'Alice', email: 'alice@example.com' }],
    ['an admin', 'u_bob:admin', USER],
  ])('%s reads what the response rule grants', async (_name, who, expected) => {
    const response = await engine.handle(get('/v1/users/u_alice', who), PEER, () => Response.json(USER));
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual(expected);
    // The policy's headers are on the rewritten answer.
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect(response.headers.get('x-content-type-options')).toBe('nosniff');
  });

  it('refuses a strict route\'s answer with a 502 that names nothing, and logs which field', async () => {
    events.length = 0;
    const response = await engine.handle(get('/v1/audit/u_alice', 'u_alice:user'), PEER, () => Response.json(USER));
    expect(response.status).toBe(502);
    expect(response.headers.get('content-type')).toBe('application/problem+json');
    const body = await response.text();
    expect(JSON.parse(body)).toMatchObject({ code: 'response.forbidden_field', status: 502 });
    expect(body).not.toContain('lastLoginIp');
    expect(body).not.toContain('203.0.113.9');
    expect(events).toEqual([
      expect.objectContaining({ event: 'portcullis.deny', reason: 'response.forbidden_field', status: 502, route: 'GET /v1/audit/:id', principal: 'test:u_alice', reasons: ['response.forbidden_field: fields the caller may not read: lastLoginIp'] }),
    ]);
    expect(JSON.stringify(events)).not.toContain('203.0.113.9');
  });

  it('hands back the handler\'s own Response, unread, on a route without a response rule', async () => {
    const answer = new Response(new ReadableStream({ pull: (controller) => controller.enqueue(new TextEncoder().encode('x')) }), { headers: { 'content-type': 'text/plain' } });
    const response = await engine.handle(get('/v1/plain'), PEER, () => answer);
    expect(response).toBe(answer);
    expect(response.bodyUsed).toBe(false);
    await response.body?.cancel();
  });

  test.each<[string, () => Response, number, string, Record<string, string>]>([
    ['a 500 with a stack trace', () => new Response('Error: boom\n    at db (/srv/app/db.js:12)', { status: 500 }), 500, 'internal.error', {}],
    ['a 503 with a valid Retry-After', () => Response.json({ error: 'db-2.internal down' }, { status: 503, headers: { 'retry-after': '7' } }), 502, 'origin.unavailable', { 'retry-after': '7' }],
    ['a 502 with a Retry-After that is not one', () => new Response('upstream 10.0.0.5', { status: 502, headers: { 'retry-after': '5, <script>' } }), 502, 'origin.unavailable', {}],
  ])('masks %s from a handler', async (_name, answer, status, code, headers) => {
    const response = await engine.handle(get('/v1/plain'), PEER, answer);
    expect(response.status).toBe(status);
    expect(await response.json()).toMatchObject({ code, status });
    expect(response.headers.get('retry-after')).toBe(headers['retry-after'] ?? null);
    expect(response.headers.get('x-content-type-options')).toBe('nosniff');
  });

  it('passes a problem the gateway wrote itself (the handler chose its code)', async () => {
    const response = await engine.handle(get('/v1/plain'), PEER, (_request, decision) => problemResponse('origin.redirect_refused', decision.requestId));
    expect(await response.json()).toMatchObject({ code: 'origin.redirect_refused', status: 502 });
  });
});

describe('engine.protect (the Hono middleware\'s step)', () => {
  it('filters an answer for an allowed decision, and returns one it has no rule for as it is', async () => {
    const decision = (await engine.evaluate(get('/v1/users/u_alice', 'u_alice:user'), PEER)) as Allow;
    expect(decision.kind).toBe('allow');
    expect(await (await engine.protect(Response.json(USER), decision)).json()).not.toHaveProperty('lastLoginIp');
    const plain = (await engine.evaluate(get('/v1/plain'), PEER)) as Allow;
    const answer = Response.json(USER);
    expect(await engine.protect(answer, plain)).toBe(answer);
  });
});

describe('forwardTo to an origin over HTTP', () => {
  let origin: Server;
  let url: string;
  beforeAll(async () => {
    origin = createServer((req, res) => {
      if (req.url === '/v1/plain') return void res.writeHead(500, { 'content-type': 'text/plain' }).end('postgres://app:hunter2@10.0.0.5/db');
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(USER));
    });
    await new Promise<void>((resolve) => origin.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(origin.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise((resolve) => origin.close(resolve)));

  it('removes the fields of an origin\'s answer', async () => {
    const response = await engine.handle(get('/v1/users/u_alice', 'u_alice:user'), PEER, forwardTo(url));
    expect(await response.json()).toEqual({ id: 'u_alice', name: 'Alice', email: 'alice@example.com' });
  });

  it('masks the origin\'s 500, and relays it as it is with originErrors: "pass"', async () => {
    const masked = await engine.handle(get('/v1/plain'), PEER, forwardTo(url));
    expect(await masked.json()).toMatchObject({ code: 'internal.error' });
    const passed = await engine.handle(get('/v1/plain'), PEER, forwardTo(url, { originErrors: 'pass' }) as Handler);
    expect(passed.status).toBe(500);
    expect(await passed.text()).toContain('hunter2');
  });
});
