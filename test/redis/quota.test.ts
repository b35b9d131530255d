/**
 * Quotas in a real redis-server through redisStore(): one count per key across gateway instances,
 * atomic under concurrent calls, calendar periods on the engine's pinned clock, and the key's expiry.
 */
import { createClient } from 'redis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createEngine, definePolicy } from '../../src/index.ts';
import type { Decision } from '../../src/index.ts';
import { redisStore, type RedisStore } from '../../src/stores/redis.ts';
import { startRedisServer, type RedisServer } from './redis-server.ts';
import { userHeader } from '../fixtures/user-header.ts';

/** 2026-03-31T23:00:00Z: an hour before the day and the month end. */
const T0 = Date.UTC(2026, 2, 31, 23);


let server: RedisServer;
const stores: RedisStore[] = [];
beforeAll(async () => (server = await startRedisServer()));
afterEach(async () => {
  await Promise.all(stores.splice(0).map((store) => store.close()));
});
afterAll(async () => server?.stop());

/** One gateway instance with its own client, on a clock the test moves. */
function instance(clock: { ms: number }, limit: number, period: 'day' | 'month') {
  const store = redisStore({ url: server.url, createClient });
  stores.push(store);
  const engine = createEngine(
    definePolicy({
      transport: { requireHttps: false },
      authn: { user: userHeader },
      quotas: { plan: { limit, period } },
      routes: { 'GET /x': { authn: ['user'], allow: 'authenticated', quota: 'plan' } },
    }),
    { rateLimitStore: store, now: () => clock.ms, log: () => {} },
  );
  return (user = 'alice') => engine.evaluate(new Request('https://api.test/x', { headers: { authorization: `User ${user}` } }));
}

const outcome = (decision: Decision) => (decision.kind === 'allow' ? 'allow' : `${decision.status} ${decision.reason}`);

describe('quotas in redisStore', () => {
  it('two instances share one count, taken atomically by concurrent calls', async () => {
    const clock = { ms: T0 };
    const a = instance(clock, 25, 'day');
    const b = instance(clock, 25, 'day');
    const decisions = await Promise.all(Array.from({ length: 60 }, (_, i) => (i % 2 ? a : b)('carol')));
    expect(decisions.filter((decision) => decision.kind === 'allow')).toHaveLength(25);
    const refused = decisions.find((decision) => decision.kind === 'deny')!;
    expect(outcome(refused)).toBe('429 quota.exhausted');
    expect(refused.headers.get('retry-after')).toBe('3600');
    const remaining = decisions.flatMap((decision) => (decision.kind === 'allow' ? [decision.quota!.remaining] : [])).sort((x, y) => x - y);
    expect(remaining).toEqual(Array.from({ length: 25 }, (_, i) => i));
  });

  it('starts a new count when the UTC period rolls over, on the engine clock', async () => {
    const clock = { ms: T0 };
    const send = instance(clock, 1, 'month');
    expect(outcome(await send())).toBe('allow');
    expect(outcome(await send())).toBe('429 quota.exhausted');
    clock.ms = Date.UTC(2026, 3, 1);
    const next = await send();
    expect(outcome(next)).toBe('allow');
    expect(next.kind === 'allow' && next.quota).toMatchObject({ remaining: 0, reset: Date.UTC(2026, 4, 1) });
  });

  it('keeps the counter in one hash-tagged key that expires after its period', async () => {
    const clock = { ms: T0 };
    await instance(clock, 5, 'day')('dave');
    const client = createClient({ url: server.url });
    await client.connect();
    try {
      const keys = await client.keys('portcullis:{plan:p:user:dave}:quota');
      expect(keys).toHaveLength(1);
      expect(await client.hGetAll(keys[0]!)).toEqual({ s: String(Date.UTC(2026, 2, 31)), n: '1' });
      const ttl = await client.pTTL(keys[0]!);
      // An hour left of the day, plus an hour of grace.
      expect(ttl).toBeGreaterThan(2 * 3600_000 - 60_000);
      expect(ttl).toBeLessThanOrEqual(2 * 3600_000);
    } finally {
      client.destroy();
    }
  });
});
