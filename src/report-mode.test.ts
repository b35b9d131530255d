import * as v from 'valibot';
import { describe, expect, it } from 'vitest';
import type { SecurityEvent } from './index.ts';
import { createEngine, definePolicy } from './index.ts';

const FIXED = Date.parse('2026-11-24T12:00:00Z');
const sink = () => {
  const events: SecurityEvent[] = [];
  return { events, log: (event: SecurityEvent) => void events.push(event) };
};
const denyAll = { kind: 'test', challenge: 'Bearer realm="api"', authenticate: async () => ({ kind: 'absent' as const }) };

describe('report-only mode', () => {
  it('lets a request through that the policy would refuse, and logs what it would have done', async () => {
    const { events, log } = sink();
    const engine = createEngine(
      definePolicy({ mode: 'report', transport: { requireHttps: false }, authn: { user: denyAll }, routes: { 'GET /me': { authn: ['user'], allow: 'authenticated' } } }),
      { now: () => FIXED, log },
    );
    const decision = await engine.evaluate(new Request('https://api.test/me'));
    expect(decision.kind).toBe('allow');
    expect(decision.kind === 'allow' && decision.reported).toEqual({ reason: 'authn.required', status: 401, reasons: ['authn.required'] });
    expect(decision.headers.get('www-authenticate')).toBeNull();
    expect(events).toMatchObject([{ event: 'portcullis.report', reason: 'authn.required', status: 401, route: 'GET /me' }]);
  });

  it('keeps an authenticated route\'s Cache-Control on a request it lets through, so no shared cache keeps that answer', async () => {
    const engine = createEngine(
      definePolicy({ mode: 'report', transport: { requireHttps: false }, authn: { user: denyAll }, routes: { 'GET /me': { authn: ['user'], allow: 'authenticated' } } }),
      { now: () => FIXED, log: () => {} },
    );
    const cacheable = () => new Response('{"email":"alice@example.com"}', { headers: { 'cache-control': 'public, max-age=600' } });
    const response = await engine.handle(new Request('https://api.test/me'), {}, cacheable);
    expect(response.status).toBe(200);
    expect(response.headers.get('cache-control')).toBe('no-store');
    // No route matched: nothing says the answer is public.
    const unrouted = await engine.handle(new Request('https://api.test/elsewhere'), {}, cacheable);
    expect(unrouted.headers.get('cache-control')).toBe('no-store');
  });

  it.each([
    ['an invalid body', '{"name":1}'],
    ['malformed JSON', '{"name":'],
    ['a body over the limit', JSON.stringify({ name: 'x'.repeat(100) })],
  ])('hands the handler the whole body of a request it lets through with %s', async (_, body) => {
    const { events, log } = sink();
    const engine = createEngine(
      definePolicy({
        mode: 'report',
        transport: { requireHttps: false },
        limits: { maxBodyBytes: 32 },
        routes: { 'POST /things': { authn: 'anonymous', body: v.strictObject({ name: v.string() }) } },
      }),
      { now: () => FIXED, log },
    );
    const echo = async (request: Request) => new Response(await request.text());
    const response = await engine.handle(new Request('https://api.test/things', { method: 'POST', headers: { 'content-type': 'application/json' }, body }), {}, echo);
    expect(response.status).toBe(200);
    expect(await response.text()).toBe(body);
    expect(events.map((event) => event.event)).toEqual(['portcullis.report']);
  });

  it('reports only the routes in report mode and enforces the rest', async () => {
    const { events, log } = sink();
    const engine = createEngine(
      definePolicy({
        transport: { requireHttps: false },
        authn: { user: denyAll },
        routes: {
          'GET /new': { authn: ['user'], allow: 'authenticated', mode: 'report' },
          'GET /old': { authn: ['user'], allow: 'authenticated' },
        },
      }),
      { now: () => FIXED, log },
    );
    expect((await engine.evaluate(new Request('https://api.test/new'))).kind).toBe('allow');
    const old = await engine.evaluate(new Request('https://api.test/old'));
    expect(old.kind === 'deny' && old.status).toBe(401);
    expect(events.map((event) => event.event)).toEqual(['portcullis.report', 'portcullis.deny']);
  });

  it('logs an exceeded report-only bucket without refusing, while an enforced bucket still refuses', async () => {
    const { events, log } = sink();
    const engine = createEngine(
      definePolicy({
        transport: { requireHttps: false },
        rateLimits: {
          trial: { limit: 1, window: '1m', by: 'ip', mode: 'report' },
          hard: { limit: 2, window: '1m', by: 'ip' },
        },
        routes: { 'GET /x': { authn: 'anonymous', rateLimit: ['trial', 'hard'] } },
      }),
      { now: () => FIXED, log },
    );
    const send = () => engine.evaluate(new Request('https://api.test/x'), { peer: { address: '203.0.113.9' } });
    expect((await send()).kind).toBe('allow');
    expect((await send()).kind).toBe('allow');
    const third = await send();
    expect(third.kind === 'deny' && third.status).toBe(429);
    expect(events.filter((event) => event.event === 'portcullis.report')).toHaveLength(2);
  });

  it('still refuses with a 500 when the engine itself fails', async () => {
    const broken = { kind: 'test', challenge: 'Bearer', authenticate: async () => { throw new Error('boom'); } };
    const engine = createEngine(
      definePolicy({ mode: 'report', transport: { requireHttps: false }, authn: { user: broken }, routes: { 'GET /me': { authn: ['user'], allow: 'authenticated' } } }),
      { now: () => FIXED, log: () => {} },
    );
    const decision = await engine.evaluate(new Request('https://api.test/me'));
    expect(decision.kind === 'deny' && decision.status).toBe(500);
  });
});
