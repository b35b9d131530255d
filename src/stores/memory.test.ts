import { describe, expect, it } from 'vitest';
import { memoryStore } from './memory.ts';
import type { BucketSpec, RateLimitStore } from './types.ts';

/** 2026-01-01T00:00:00Z, on a minute boundary: window arithmetic below is exact. */
const T0 = Date.UTC(2026, 0, 1);
const MINUTE = 60_000;

const bucket = (algorithm: BucketSpec['algorithm'], limit = 3, windowMs = MINUTE, name = 'api'): BucketSpec => ({ name, limit, windowMs, algorithm });

/** Takes `n` units at `now`; returns how many were granted. */
async function take(store: RateLimitStore, spec: BucketSpec, key: string, now: number, n: number): Promise<number> {
  let granted = 0;
  for (let i = 0; i < n; i++) if ((await store.consume(spec, key, now)).success) granted++;
  return granted;
}

describe('memoryStore: fixed window', () => {
  const spec = bucket('fixed-window');

  it('grants `limit` units per window and refuses the next, with reset at the end of the window', async () => {
    const store = memoryStore();
    const results = [];
    for (let i = 0; i < 4; i++) results.push(await store.consume(spec, 'k', T0 + 10_000));
    expect(results.map((r) => [r.success, r.remaining])).toEqual([[true, 2], [true, 1], [true, 0], [false, 0]]);
    expect(results[3]).toMatchObject({ limit: 3, reset: T0 + MINUTE });
  });

  it('allows a burst of 2×limit across a window boundary, but never more than limit inside one window', async () => {
    const store = memoryStore();
    expect(await take(store, spec, 'k', T0 + MINUTE - 1, 10)).toBe(3);
    expect(await take(store, spec, 'k', T0 + MINUTE, 10)).toBe(3);
    // The rest of that window: nothing more.
    expect(await take(store, spec, 'k', T0 + 2 * MINUTE - 1, 10)).toBe(0);
  });

  it('starts empty again after an idle window', async () => {
    const store = memoryStore();
    await take(store, spec, 'k', T0, 3);
    expect(await take(store, spec, 'k', T0 + 5 * MINUTE, 10)).toBe(3);
  });
});

describe('memoryStore: sliding window', () => {
  const spec = bucket('sliding-window', 4);

  it('smooths the boundary burst: the previous window still counts, weighted by its overlap', async () => {
    const store = memoryStore();
    expect(await take(store, spec, 'k', T0 + MINUTE - 1, 10)).toBe(4);
    // Just past the boundary the previous window overlaps almost fully: floor(4 × 0.99…) = 3 used.
    expect(await take(store, spec, 'k', T0 + MINUTE + 1, 10)).toBe(1);
    // Half-way: floor(4 × 0.5) = 2 from before, 1 taken in this window → 1 more.
    expect(await take(store, spec, 'k', T0 + MINUTE + 30_000, 10)).toBe(1);
    // Around the boundary: 4 + 1 in 2 ms, where a fixed window would grant 4 + 4.
  });

  it('forgets a window that is two windows old', async () => {
    const store = memoryStore();
    await take(store, spec, 'k', T0, 4);
    expect(await take(store, spec, 'k', T0 + 2 * MINUTE, 10)).toBe(4);
  });
});

describe('memoryStore: token bucket', () => {
  // 4 tokens, refilled at 4 per minute: one every 15 s.
  const spec = bucket('token-bucket', 4);

  it('starts full, refuses when empty, and refills one token per window/limit', async () => {
    const store = memoryStore();
    expect(await take(store, spec, 'k', T0, 10)).toBe(4);
    const empty = await store.consume(spec, 'k', T0);
    expect(empty).toMatchObject({ success: false, remaining: 0, reset: T0 + 15_000 });
    expect(await take(store, spec, 'k', T0 + 14_999, 1)).toBe(0);
    expect(await take(store, spec, 'k', T0 + 15_000, 10)).toBe(1);
    expect(await take(store, spec, 'k', T0 + 45_000, 10)).toBe(2);
  });

  it('never holds more than `limit` tokens, however long it rests', async () => {
    const store = memoryStore();
    await take(store, spec, 'k', T0, 1);
    expect(await take(store, spec, 'k', T0 + 60 * MINUTE, 10)).toBe(4);
  });
});

describe('memoryStore: keys, peek, concurrency', () => {
  it('keeps buckets apart by name and keys apart within a bucket', async () => {
    const store = memoryStore();
    const a = bucket('fixed-window', 1, MINUTE, 'a');
    const b = bucket('fixed-window', 1, MINUTE, 'b');
    expect(await take(store, a, 'k', T0, 2)).toBe(1);
    expect(await take(store, b, 'k', T0, 2)).toBe(1);
    expect(await take(store, a, 'other', T0, 2)).toBe(1);
  });

  it.each(['fixed-window', 'sliding-window', 'token-bucket'] as const)('%s: peek reads without taking', async (algorithm) => {
    const store = memoryStore();
    const spec = bucket(algorithm, 2);
    expect(await store.peek(spec, 'k', T0)).toMatchObject({ success: true, remaining: 2 });
    expect(store.size).toBe(0);
    await store.consume(spec, 'k', T0);
    for (let i = 0; i < 3; i++) expect(await store.peek(spec, 'k', T0)).toMatchObject({ success: true, remaining: 1 });
    await store.consume(spec, 'k', T0);
    expect(await store.peek(spec, 'k', T0)).toMatchObject({ success: false, remaining: 0 });
  });

  it.each(['fixed-window', 'sliding-window', 'token-bucket'] as const)('%s: of limit + 5 concurrent takes, exactly limit succeed', async (algorithm) => {
    const store = memoryStore();
    const spec = bucket(algorithm, 7);
    const results = await Promise.all(Array.from({ length: 12 }, () => store.consume(spec, 'k', T0)));
    expect(results.filter((r) => r.success)).toHaveLength(7);
  });

  it('does not reset a window when the clock steps backwards', async () => {
    const store = memoryStore();
    const spec = bucket('fixed-window');
    await take(store, spec, 'k', T0 + MINUTE, 3);
    expect(await take(store, spec, 'k', T0 + MINUTE - 1, 10)).toBe(0);
  });
});

describe('memoryStore: bounded memory', () => {
  it('refuses a bound that is not a positive integer', () => {
    for (const maxKeys of [0, -1, 1.5, Number.NaN]) expect(() => memoryStore({ maxKeys })).toThrow(TypeError);
  });

  it('evicts the least recently used key beyond maxKeys', async () => {
    const store = memoryStore({ maxKeys: 3 });
    const spec = bucket('fixed-window', 1);
    for (const key of ['a', 'b', 'c']) await store.consume(spec, key, T0);
    await store.consume(spec, 'a', T0); // refused, and now the most recently used
    await store.consume(spec, 'd', T0); // evicts b
    expect(store.size).toBe(3);
    expect((await store.consume(spec, 'b', T0)).success).toBe(true); // b was forgotten: a fresh bucket (evicts c)
    expect((await store.consume(spec, 'a', T0)).success).toBe(false); // a is still counted
    expect((await store.consume(spec, 'd', T0)).success).toBe(false);
  });

  it('keeps evicting the least recently used key as keys are refreshed between evictions', async () => {
    const store = memoryStore({ maxKeys: 3 });
    const spec = bucket('fixed-window', 1);
    for (const key of ['a', 'b', 'c', 'd', 'e']) await store.consume(spec, key, T0); // d evicts a, e evicts b
    await store.consume(spec, 'c', T0); // refreshed: d, e, c from oldest to newest
    await store.consume(spec, 'f', T0); // evicts d
    await store.consume(spec, 'g', T0); // evicts e: c, f, g
    expect(store.size).toBe(3);
    expect((await store.consume(spec, 'd', T0)).success).toBe(true); // d was forgotten (and evicts c)
    expect((await store.consume(spec, 'e', T0)).success).toBe(true); // so was e (and evicts f)
    expect((await store.consume(spec, 'g', T0)).success).toBe(false); // g is still counted
    expect((await store.consume(spec, 'c', T0)).success).toBe(true); // c went when d came back
    expect(store.size).toBe(3);
  });

  it('stays at 1,000,000 keys under 1,000,000 distinct keys, and evicts the oldest beyond', async () => {
    const store = memoryStore({ maxKeys: 1_000_000 });
    const spec = bucket('sliding-window', 1);
    for (let i = 0; i < 1_000_000; i++) await store.consume(spec, `ip:${i}`, T0);
    expect(store.size).toBe(1_000_000);
    expect((await store.consume(spec, 'ip:0', T0)).success).toBe(false);
    await store.consume(spec, 'ip:new', T0); // evicts ip:1, the least recently used
    expect(store.size).toBe(1_000_000);
    expect((await store.consume(spec, 'ip:1', T0)).success).toBe(true);
  }, 30_000);

  it('holds a flood of 1,000,000 distinct keys to a small bound', async () => {
    const store = memoryStore({ maxKeys: 1_000 });
    const spec = bucket('token-bucket', 1);
    let largest = 0;
    for (let i = 0; i < 1_000_000; i++) {
      await store.consume(spec, `ip:${i}`, T0);
      if (store.size > largest) largest = store.size;
    }
    expect(largest).toBe(1_000);
    expect((await store.consume(spec, 'ip:999999', T0)).success).toBe(false);
    expect((await store.consume(spec, 'ip:0', T0)).success).toBe(true);
  }, 30_000);
});

describe('memoryStore: no timers', () => {
  it('leaves no timer or handle behind', async () => {
    const before = process.getActiveResourcesInfo().filter((kind) => kind !== 'TTYWrap');
    const store = memoryStore({ maxKeys: 10 });
    for (const algorithm of ['fixed-window', 'sliding-window', 'token-bucket'] as const) {
      for (let i = 0; i < 50; i++) await store.consume(bucket(algorithm), `k${i}`, T0 + i);
    }
    const after = process.getActiveResourcesInfo().filter((kind) => kind !== 'TTYWrap');
    expect(after).toEqual(before);
  });
});

describe('memoryStore: quotas', () => {
  const day = { start: T0, end: T0 + 86_400_000 };

  it('keeps at most maxKeys quota counters, forgetting the oldest, apart from the buckets', async () => {
    const store = memoryStore({ maxKeys: 2 });
    const quota = { name: 'plan', limit: 1 };
    expect((await store.takeQuota!(quota, 'a', day, T0)).success).toBe(true);
    expect((await store.takeQuota!(quota, 'b', day, T0)).success).toBe(true);
    expect((await store.takeQuota!(quota, 'a', day, T0)).success).toBe(false);
    // A third key evicts "a", the oldest: its count starts again.
    expect((await store.takeQuota!(quota, 'c', day, T0)).success).toBe(true);
    expect((await store.takeQuota!(quota, 'a', day, T0)).success).toBe(true);
    expect((await store.takeQuota!(quota, 'c', day, T0)).success).toBe(false);
    // Quota counters do not count against the buckets' keys.
    expect(store.size).toBe(0);
  });
});
