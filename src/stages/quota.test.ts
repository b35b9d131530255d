/**
 * Quotas through a real engine on a pinned clock: calls per principal or key per UTC day or month,
 * plans from key records, the RateLimit items, 429 with Retry-After at the period's end.
 */
import { describe, expect, it } from 'vitest';
import { apiKey, createEngine, definePolicy, generateApiKey, memoryStore } from '../index.ts';
import type { Decision, Policy, RateLimitStore } from '../index.ts';
import { quotaPeriod } from './quota.ts';
import { userHeader } from '../../test/fixtures/user-header.ts';

/** 2026-01-31T22:00:00Z: two hours before both the day and the month end. */
const T0 = Date.UTC(2026, 0, 31, 22);


async function setup(quotas: Policy['quotas'], options: { store?: RateLimitStore; plan?: { limit: number; period: 'day' | 'month' }; route?: Partial<Policy['routes'][`GET /x`]> } = {}) {
  const { key, hash } = await generateApiKey({ prefix: 'pk_test' });
  const { key: planKey, hash: planHash } = await generateApiKey({ prefix: 'pk_test' });
  let clock = T0;
  const engine = createEngine(
    definePolicy({
      transport: { requireHttps: false },
      authn: {
        user: userHeader,
        service: apiKey({ keys: { [hash]: { principal: 'svc' }, [planHash]: { principal: 'svc_plan', ...(options.plan && { quota: options.plan }) } } }),
      },
      quotas,
      routes: {
        'GET /x': { authn: ['service', 'user'], allow: 'authenticated', quota: Object.keys(quotas ?? {})[0], ...options.route },
        'POST /x': { authn: ['service', 'user'], allow: 'authenticated', quota: Object.keys(quotas ?? {})[0], body: { '~standard': { version: 1, vendor: 't', validate: (value: unknown) => (typeof value === 'object' && value !== null && 'ok' in value ? { value } : { issues: [{ message: 'ok is required' }] }) } } },
      },
    } as Policy),
    { now: () => clock, log: () => {}, ...(options.store && { rateLimitStore: options.store }) },
  );
  const send = (headers: HeadersInit, init: RequestInit = {}) => engine.evaluate(new Request('https://api.test/x', { headers, ...init }));
  return { send, key, planKey, advance: (ms: number) => (clock += ms), setClock: (ms: number) => (clock = ms) };
}

const outcome = (decision: Decision) => (decision.kind === 'allow' ? 'allow' : `${decision.status} ${decision.reason}`);

describe('quotaPeriod', () => {
  it.each([
    ['day', Date.UTC(2026, 0, 31, 22), Date.UTC(2026, 0, 31), Date.UTC(2026, 1, 1)],
    ['day', Date.UTC(2026, 1, 1), Date.UTC(2026, 1, 1), Date.UTC(2026, 1, 2)],
    ['month', Date.UTC(2026, 0, 31, 22), Date.UTC(2026, 0, 1), Date.UTC(2026, 1, 1)],
    ['month', Date.UTC(2028, 1, 29, 23, 59), Date.UTC(2028, 1, 1), Date.UTC(2028, 2, 1)],
    ['month', Date.UTC(2026, 11, 31, 23, 59, 59, 999), Date.UTC(2026, 11, 1), Date.UTC(2027, 0, 1)],
  ] as const)('a %s around %i starts and ends on the UTC calendar', (period, now, start, end) => {
    expect(quotaPeriod(period, now)).toEqual({ start, end });
  });
});

describe('quotas', () => {
  it('counts calls per principal, refuses past the limit with 429 and Retry-After at midnight UTC, and refills then', async () => {
    const { send, advance } = await setup({ daily: { limit: 2, period: 'day' } });
    const alice = { authorization: 'User alice' };
    const first = await send(alice);
    expect(first.kind === 'allow' && first.quota).toEqual({ name: 'daily', limit: 2, remaining: 1, period: 'day', reset: Date.UTC(2026, 1, 1) });
    expect(first.headers.get('ratelimit-policy')).toBe('"daily";q=2;w=86400');
    expect(first.headers.get('ratelimit')).toBe('"daily";r=1;t=7200');
    expect(outcome(await send(alice))).toBe('allow');
    const refused = await send(alice);
    expect(outcome(refused)).toBe('429 quota.exhausted');
    expect(refused.headers.get('retry-after')).toBe('7200');
    expect(refused.headers.get('ratelimit')).toBe('"daily";r=0;t=7200');
    // Another principal has its own count.
    expect(outcome(await send({ authorization: 'User bob' }))).toBe('allow');
    advance(2 * 3600_000);
    expect(outcome(await send(alice))).toBe('allow');
  });

  it('counts a month from the 1st, 00:00 UTC', async () => {
    const { send, advance } = await setup({ monthly: { limit: 1, period: 'month' } });
    expect(outcome(await send({ authorization: 'User alice' }))).toBe('allow');
    advance(3600_000);
    const refused = await send({ authorization: 'User alice' });
    expect(refused.headers.get('retry-after')).toBe('3600');
    expect(refused.headers.get('ratelimit-policy')).toBe(`"monthly";q=1;w=${31 * 86400}`);
    advance(3600_000);
    expect(outcome(await send({ authorization: 'User alice' }))).toBe('allow');
  });

  it("gives a key its own plan from its record, and counts only keys when by: 'apiKey'", async () => {
    const { send, key, planKey } = await setup({ reports: { limit: 1, period: 'day', by: 'apiKey' } }, { plan: { limit: 3, period: 'month' } });
    expect(outcome(await send({ 'x-api-key': key }))).toBe('allow');
    expect(outcome(await send({ 'x-api-key': key }))).toBe('429 quota.exhausted');
    const planned = await send({ 'x-api-key': planKey });
    expect(planned.kind === 'allow' && planned.quota).toMatchObject({ limit: 3, remaining: 2, period: 'month' });
    expect(outcome(await send({ 'x-api-key': planKey }))).toBe('allow');
    expect(outcome(await send({ 'x-api-key': planKey }))).toBe('allow');
    expect(outcome(await send({ 'x-api-key': planKey }))).toBe('429 quota.exhausted');
    // A user's token is not a key: its calls use no quota.
    for (let i = 0; i < 3; i++) {
      const user = await send({ authorization: 'User alice' });
      expect(outcome(user)).toBe('allow');
      expect(user.kind === 'allow' && user.quota).toBeUndefined();
    }
  });

  it('does not count a call the policy refuses (authentication, validation)', async () => {
    const { send } = await setup({ daily: { limit: 1, period: 'day' } });
    const alice = { authorization: 'User alice' };
    expect(outcome(await send(alice, { method: 'POST', body: '{"nope":1}', headers: { ...alice, 'content-type': 'application/json' } }))).toBe('422 validate.invalid');
    expect(outcome(await send({ authorization: 'Nobody' }))).toBe('401 authn.required');
    expect(outcome(await send(alice))).toBe('allow');
    expect(outcome(await send(alice))).toBe('429 quota.exhausted');
  });

  it('fails closed (503 quota.unavailable) when the store fails', async () => {
    const broken: RateLimitStore = {
      ...memoryStore(),
      takeQuota: () => Promise.reject(new Error('down')),
    };
    const closed = await setup({ daily: { limit: 5, period: 'day' } }, { store: broken });
    expect(outcome(await closed.send({ authorization: 'User alice' }))).toBe('503 quota.unavailable');
  });

  it('refuses to build an engine with quotas on a store that cannot count them', () => {
    const { takeQuota: _, ...bucketsOnly } = memoryStore();
    const policy = definePolicy({
      transport: { requireHttps: false },
      authn: { user: userHeader },
      quotas: { daily: { limit: 5, period: 'day' } },
      routes: { 'GET /x': { authn: ['user'], allow: 'authenticated', quota: 'daily' } },
    });
    expect(() => createEngine(policy, { rateLimitStore: bucketsOnly })).toThrow(/takeQuota/);
  });

  it.each([
    [{ quotas: { q: { limit: 0, period: 'day' } } }, 'quotas.q.limit'],
    [{ quotas: { q: { limit: 5, period: 'week' } } }, 'quotas.q.period: must be "day" or "month"'],
    [{ quotas: { q: { limit: 5, period: 'day' } }, routes: { 'GET /x': { authn: 'anonymous', quota: 'q' } } }, 'routes["GET /x"].quota: an anonymous route has no principal'],
    [{ routes: { 'GET /x': { authn: ['user'], allow: 'authenticated', quota: 'nope' } } }, 'routes["GET /x"].quota: no quota named "nope"'],
    [{ quotas: { api: { limit: 5, period: 'day' } }, rateLimits: { api: { limit: 5, window: '1m' } } }, 'quotas.api: a rate-limit bucket is named "api" too'],
  ])('definePolicy refuses %j', (policy, message) => {
    expect(() => definePolicy({ authn: { user: userHeader }, routes: { 'GET /x': { authn: ['user'], allow: 'authenticated' } }, ...policy } as Policy)).toThrow(message);
  });
});
