/**
 * upstashStore() against a recording stand-in for `@upstash/redis`: what it asks Redis, and how it
 * reads the answers. The real thing (Redis, REST bridge, engines sharing one limit, outages) is in
 * test/redis/.
 */
import { Ratelimit } from '@upstash/ratelimit';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { BucketSpec } from './types.ts';
import { BoundedMap, upstashStore, type UpstashRedis } from './upstash.ts';

const T0 = Date.UTC(2026, 0, 1);

interface Call {
  keys: string[];
  args: unknown[];
}

/** Answers every EVALSHA with `reply(call)`; records the calls. */
function fakeRedis(reply: (call: Call) => unknown) {
  const calls: Call[] = [];
  const redis = {
    evalsha: vi.fn(async (_sha: string, keys: string[], args: unknown[]) => {
      const call = { keys, args };
      calls.push(call);
      return reply(call);
    }),
    eval: vi.fn(),
  };
  return { calls, redis: redis as unknown as UpstashRedis };
}

const bucket = (algorithm: BucketSpec['algorithm'], limit = 5, windowMs = 60_000, name = 'api'): BucketSpec => ({ name, limit, windowMs, algorithm });

beforeEach(() => void vi.useFakeTimers({ now: T0 }));
afterEach(() => void vi.useRealTimers());

describe('upstashStore: failures are the engine`s to decide', () => {
  it('does not admit a request while Redis hangs (the library`s own timeout, which admits, is off)', async () => {
    const { redis } = fakeRedis(() => new Promise(() => {}));
    const outcome = vi.fn();
    upstashStore({ redis }).consume(bucket('sliding-window'), 'ip:203.0.113.7', T0).then(outcome, outcome);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(outcome).not.toHaveBeenCalled();

    // What the store guards against: @upstash/ratelimit with its defaults says success after 5 s.
    const defaults = new Ratelimit({ redis, limiter: Ratelimit.slidingWindow(5, '60 s') });
    const admitted = defaults.limit('ip:203.0.113.7');
    await vi.advanceTimersByTimeAsync(5_000);
    expect(await admitted).toMatchObject({ success: true, reason: 'timeout' });
  });

  it.each(['consume', 'peek'] as const)('%s rejects when Redis fails', async (method) => {
    const { redis } = fakeRedis(() => Promise.reject(new Error('UpstashError: connection refused')));
    await expect(upstashStore({ redis })[method](bucket('fixed-window'), 'k', T0)).rejects.toThrow('connection refused');
  });
});

describe('upstashStore: keys and algorithms', () => {
  it('prefixes keys with the store prefix and the encoded bucket name', async () => {
    const { redis, calls } = fakeRedis(() => [1, 5]);
    await upstashStore({ redis }).consume(bucket('fixed-window', 5, 60_000, 'login'), 'ip:2001:db8::/64', T0);
    await upstashStore({ redis, prefix: 'app' }).consume(bucket('fixed-window', 5, 60_000, 'a:b'), 'c', T0);
    const window = Math.floor(T0 / 60_000);
    expect(calls.map((call) => call.keys[0])).toEqual([`portcullis:login:ip:2001:db8::/64:${window}`, `app:a%3Ab:c:${window}`]);
  });

  it('maps a fixed window to Ratelimit.fixedWindow(limit, window)', async () => {
    const { redis, calls } = fakeRedis(() => [6, 5]);
    const result = await upstashStore({ redis }).consume(bucket('fixed-window'), 'k', T0 + 1_000);
    expect(calls[0]!.args).toEqual([5, 60_000, 1]);
    expect(result).toMatchObject({ success: false, limit: 5, remaining: 0, reset: T0 + 60_000 });
  });

  it('maps a sliding window to Ratelimit.slidingWindow(limit, window)', async () => {
    const { redis, calls } = fakeRedis(() => [3, 5]);
    const result = await upstashStore({ redis }).consume(bucket('sliding-window'), 'k', T0);
    expect(calls[0]!.keys).toEqual([`portcullis:api:k:${T0 / 60_000}`, `portcullis:api:k:${T0 / 60_000 - 1}`]);
    expect(calls[0]!.args).toEqual([5, T0, 60_000, 1]);
    expect(result).toMatchObject({ success: true, remaining: 3 });
  });

  it.each([
    // limit, window → one token per interval, as the memory store refills (limit per window, continuously)
    [5, 60_000, 1, 12_000],
    [100, 900_000, 1, 9_000],
    [7, 900_000, 1, 128_571],
    [2_000, 1_000, 2, 1],
  ])('maps a token bucket of %i per %i ms to refills of %i token(s) every %i ms', async (limit, windowMs, refillRate, interval) => {
    const { redis, calls } = fakeRedis(() => [limit - 1, T0 + interval, limit]);
    await upstashStore({ redis }).consume(bucket('token-bucket', limit, windowMs), 'k', T0);
    expect(calls[0]!.args).toEqual([limit, interval, refillRate, T0, 1]);
  });

  it('counts with the runtime clock and Redis, not with the engine`s `now`', async () => {
    const { redis, calls } = fakeRedis(() => [4, 5]);
    await upstashStore({ redis }).consume(bucket('sliding-window'), 'k', 0);
    expect(calls[0]!.args[1]).toBe(T0);
  });

  it('passes pending work on, for waitUntil', async () => {
    const { redis } = fakeRedis(() => [1, 5]);
    const result = await upstashStore({ redis }).consume(bucket('fixed-window'), 'k', T0);
    expect(result.pending).toBeInstanceOf(Promise);
  });
});

describe('upstashStore: refund', () => {
  it.each([
    ['fixed-window', [6, 5], [5, 60_000, -1]],
    ['sliding-window', [2, 5], [5, T0, 60_000, -1]],
    ['token-bucket', [3, T0 + 12_000, 5], [5, 12_000, 1, T0, -1]],
  ] as const)('%s: gives one unit back (rate −1)', async (algorithm, reply, args) => {
    const { redis, calls } = fakeRedis(() => reply);
    await upstashStore({ redis }).refund!(bucket(algorithm), 'k', T0);
    expect(calls[0]!.args).toEqual(args);
  });

  it('lifts the ephemeral block of the key', async () => {
    let used = 6;
    const { redis, calls } = fakeRedis(() => [used, 5]);
    const store = upstashStore({ redis });
    const spec = bucket('fixed-window');
    expect((await store.consume(spec, 'k', T0)).success).toBe(false);
    used = 5;
    await store.refund!(spec, 'k', T0);
    used = 5;
    expect((await store.consume(spec, 'k', T0)).success).toBe(true);
    expect(calls).toHaveLength(3);
  });
});

describe('upstashStore: peek', () => {
  it('reads the remaining units: success while one is left', async () => {
    let remaining = 1;
    const { redis } = fakeRedis(() => [remaining, 5]);
    const store = upstashStore({ redis });
    expect(await store.peek(bucket('fixed-window'), 'k', T0)).toMatchObject({ success: true, remaining: 1, limit: 5 });
    remaining = 0;
    expect(await store.peek(bucket('fixed-window'), 'k', T0)).toMatchObject({ success: false, remaining: 0 });
  });

  it('counts the token-bucket refills due since the last refill (getRemaining does not)', async () => {
    // Empty since T0 − 30 s; one token every 12 s: two refills are due, the next at T0 + 6 s.
    const { redis } = fakeRedis(() => [0, T0 - 30_000, 5]);
    const result = await upstashStore({ redis }).peek(bucket('token-bucket'), 'k', T0);
    expect(result).toMatchObject({ success: true, remaining: 2, reset: T0 + 6_000 });
  });

  it('reads a token bucket that was never used as full', async () => {
    const { redis } = fakeRedis(() => [5, -1, 5]);
    expect(await upstashStore({ redis }).peek(bucket('token-bucket'), 'k', T0)).toMatchObject({ success: true, remaining: 5 });
  });
});

describe('upstashStore: ephemeral cache', () => {
  const over = () => [6, 5]; // fixed window: 6 used of 5

  it('is on: a key over its limit is refused without asking Redis again until its reset', async () => {
    const { redis, calls } = fakeRedis(over);
    const store = upstashStore({ redis });
    const spec = bucket('fixed-window');
    for (let i = 0; i < 5; i++) expect((await store.consume(spec, 'k', T0)).success).toBe(false);
    expect(calls).toHaveLength(1);
    vi.setSystemTime(T0 + 60_001);
    await store.consume(spec, 'k', T0 + 60_001);
    expect(calls).toHaveLength(2);
  });

  it('is kept per bucket', async () => {
    const { redis, calls } = fakeRedis(over);
    const store = upstashStore({ redis });
    await store.consume(bucket('fixed-window', 5, 60_000, 'a'), 'k', T0);
    await store.consume(bucket('fixed-window', 5, 60_000, 'b'), 'k', T0);
    expect(calls).toHaveLength(2);
  });

  it('sends every request to Redis when off', async () => {
    const { redis, calls } = fakeRedis(over);
    const store = upstashStore({ redis, ephemeralCache: false });
    for (let i = 0; i < 3; i++) await store.consume(bucket('fixed-window'), 'k', T0);
    expect(calls).toHaveLength(3);
  });

  it('is bounded: beyond maxKeys the oldest blocked key is forgotten (and asked about again)', async () => {
    const { redis, calls } = fakeRedis(over);
    const store = upstashStore({ redis, ephemeralCache: { maxKeys: 2 } });
    const spec = bucket('fixed-window');
    for (const key of ['a', 'b', 'c']) await store.consume(spec, key, T0);
    expect(calls).toHaveLength(3);
    await store.consume(spec, 'c', T0);
    expect(calls).toHaveLength(3);
    await store.consume(spec, 'a', T0);
    expect(calls).toHaveLength(4);
  });

  it('refuses a bound that is not a positive integer', () => {
    const { redis } = fakeRedis(over);
    expect(() => upstashStore({ redis, ephemeralCache: { maxKeys: 0 } })).toThrow(TypeError);
  });

  it('starts afresh for a bucket redefined under the same name', async () => {
    const { redis, calls } = fakeRedis(over);
    const store = upstashStore({ redis });
    await store.consume(bucket('fixed-window', 5), 'k', T0);
    await store.consume(bucket('fixed-window', 10), 'k', T0);
    expect(calls.map((call) => call.args[0])).toEqual([5, 10]);
  });
});

describe('the bounded ephemeral cache', () => {
  it('forgets the oldest key beyond its bound, through deletions and re-sets', () => {
    const cache = new BoundedMap(3);
    for (const key of ['a', 'b', 'c', 'd']) cache.set(key, 1); // d pushes a out
    cache.delete('c'); // the library lifts a block
    cache.set('b', 2); // an update, not a new key: nothing is forgotten
    cache.set('e', 1); // room left by c
    cache.set('f', 1); // pushes b out, the oldest left
    expect([...cache.keys()]).toEqual(['d', 'e', 'f']);
    for (let i = 0; i < 10_000; i++) cache.set(`flood-${i}`, 1);
    expect(cache.size).toBe(3);
    expect([...cache.keys()]).toEqual(['flood-9997', 'flood-9998', 'flood-9999']);
  });
});
