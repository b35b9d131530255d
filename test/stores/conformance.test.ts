/**
 * One table for every rate-limit store: the same takes, refunds and peeks at the same clock give the
 * same answers, and concurrent takes never admit more than the limit. The memory store is the
 * reference; redisStore runs on a real redis-server, durableObjectStore on workerd (Miniflare) with
 * real Durable Objects, upstashStore on the same redis-server through the
 * Upstash REST bridge (its clock is the runtime's Date, pinned here to the table's clock, and its
 * ephemeral cache is off: that cache refuses a blocked key up to and including the millisecond of
 * its reset, one millisecond longer than the counters do). Where Upstash's algorithms answer
 * differently, the row says why, and the test checks that they still do.
 */
import { Redis } from '@upstash/redis';
import fc from 'fast-check';
import { createClient } from 'redis';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { memoryStore } from '../../src/stores/memory.ts';
import { redisStore, type RedisStore } from '../../src/stores/redis.ts';
import type { BucketSpec, RateLimitResult, RateLimitStore } from '../../src/stores/types.ts';
import { upstashStore } from '../../src/stores/upstash.ts';
import { startRedisServer, type RedisServer } from '../redis/redis-server.ts';
import { startUpstashBridge, type UpstashBridge } from '../redis/upstash-bridge.ts';
import { startWorkerdStores, type WorkerdStores } from './workerd-store.ts';

/** 2026-01-01T00:00:00Z: on a minute boundary, so the window arithmetic below is exact. */
const T0 = Date.UTC(2026, 0, 1);
const MINUTE = 60_000;

/**
 * One step: `take` (consume) once per expected answer, `peek`, or `refund`, at T0 + `at` ms.
 * An answer is `+` (admitted) or `-` (refused), the remaining count, and optionally `@` the reset
 * as an offset from T0: `+2`, `-0@60000`.
 */
type Step = ['take' | 'peek', number, string] | ['refund', number] | ['take' | 'peek', number, string, string];

interface Row {
  name: string;
  bucket: Omit<BucketSpec, 'name'>;
  steps: Step[];
  /** Stores that answer this sequence differently, with why. */
  differs?: Partial<Record<StoreName, string>>;
}

const fixed = { algorithm: 'fixed-window', limit: 3, windowMs: MINUTE } as const;
const sliding = { algorithm: 'sliding-window', limit: 4, windowMs: MINUTE } as const;
const bucket = { algorithm: 'token-bucket', limit: 4, windowMs: MINUTE } as const; // one token every 15 s

const rows: Row[] = [
  { name: 'fixed window: limit per window, reset at its end', bucket: fixed, steps: [['take', 10_000, '+2@60000 +1 +0 -0@60000']] },
  {
    name: 'fixed window: a burst of 2×limit across the boundary, then nothing more in the window',
    bucket: fixed,
    steps: [['take', 59_999, '+2 +1 +0 -0'], ['take', 60_000, '+2@120000 +1 +0 -0'], ['take', 119_999, '-0']],
  },
  { name: 'fixed window: empty again after an idle window', bucket: fixed, steps: [['take', 0, '+2 +1 +0'], ['take', 5 * MINUTE, '+2 +1 +0 -0']] },
  {
    name: 'fixed window: a refund gives a unit back',
    bucket: fixed,
    steps: [['take', 0, '+2 +1 +0'], ['refund', 1_000], ['take', 2_000, '+0 -0']],
  },
  {
    name: 'fixed window: a refund after a refusal still gives the unit back',
    bucket: fixed,
    steps: [['take', 0, '+2 +1 +0 -0'], ['refund', 1_000], ['take', 2_000, '+0 -0']],
    differs: { upstash: 'Upstash counts refused takes too (INCRBY before the check): the refund only offsets the refusal' },
  },
  {
    name: 'fixed window: a clock stepping back stays in the current window',
    bucket: fixed,
    steps: [['take', 61_000, '+2 +1'], ['take', 59_000, '+0 -0']],
    differs: { upstash: 'Upstash names windows by the clock: an earlier time counts in the earlier window' },
  },
  {
    name: 'sliding window: the previous window counts by its overlap',
    bucket: sliding,
    steps: [['take', 59_999, '+3 +2 +1 +0 -0'], ['take', 60_001, '+0@120000 -0'], ['take', 90_000, '+0 -0']],
  },
  { name: 'sliding window: forgets a window two windows old', bucket: sliding, steps: [['take', 0, '+3 +2 +1 +0'], ['take', 2 * MINUTE, '+3 +2 +1 +0 -0']] },
  {
    name: 'sliding window: a refund after the window rolled gives back a unit of the previous window',
    bucket: sliding,
    steps: [['take', 59_000, '+3 +2 +1 +0'], ['refund', 61_000], ['take', 61_000, '+1 +0 -0']],
  },
  {
    name: 'token bucket: starts full, refills one token every window/limit',
    bucket,
    steps: [['take', 0, '+3 +2 +1 +0 -0@15000'], ['take', 14_999, '-0'], ['take', 15_000, '+0 -0'], ['take', 45_000, '+1 +0 -0']],
  },
  {
    name: 'token bucket: never holds more than limit',
    bucket,
    steps: [['take', 0, '+3'], ['take', 10 * MINUTE, '+3 +2 +1 +0 -0']],
  },
  {
    name: 'token bucket: a refund gives a token back, never beyond limit',
    bucket,
    steps: [['take', 0, '+3 +2 +1 +0'], ['refund', 0], ['take', 0, '+0 -0'], ['refund', 20 * MINUTE], ['take', 20 * MINUTE, '+3 +2 +1 +0 -0']],
    differs: { upstash: 'Upstash lets a refund fill a full bucket one token beyond its limit' },
  },
  {
    name: 'peek: an unknown key would be admitted with the whole limit; a full one would not',
    bucket: fixed,
    steps: [['peek', 0, '+3@60000'], ['take', 0, '+2 +1 +0'], ['peek', 0, '-0'], ['refund', 0], ['peek', 0, '+1']],
  },
  {
    name: 'peek: a token bucket counts the refills due',
    bucket,
    steps: [['take', 0, '+3 +2 +1 +0'], ['peek', 30_000, '+2']],
  },
  {
    name: 'refund: an unknown key is left alone',
    bucket: fixed,
    steps: [['refund', 0], ['take', 0, '+2 +1 +0 -0']],
    differs: { upstash: 'Upstash counts the refund of a key it never saw as −1: one take more' },
  },
];

type StoreName = 'memory' | 'redis' | 'durable-object' | 'upstash';

interface StoreUnderTest {
  name: StoreName;
  /** A store of its own for one row (its own prefix in a shared Redis). */
  make(row: string): RateLimitStore;
  /** Before each call: the time the store counts with, if it does not take `now` from the engine. */
  clock?(now: number): void;
}

let server: RedisServer;
let bridge: UpstashBridge;
let workerd: WorkerdStores;
const closers: (() => Promise<void>)[] = [];
beforeAll(async () => {
  [server, workerd] = await Promise.all([startRedisServer(), startWorkerdStores()]);
  bridge = await startUpstashBridge({ redisUrl: server.url });
}, 60_000);
afterAll(async () => {
  for (const close of closers.splice(0)) await close();
  await bridge?.close();
  await server?.stop();
  await workerd?.stop();
});

let rowCount = 0;
const stores: StoreUnderTest[] = [
  { name: 'memory', make: () => memoryStore() },
  {
    name: 'redis',
    make: () => {
      const store: RedisStore = redisStore({ url: server.url, createClient, prefix: `row${rowCount++}` });
      closers.push(() => store.close());
      return store;
    },
  },
  { name: 'durable-object', make: () => workerd.store({ prefix: `row${rowCount++}-` }) },
  {
    name: 'upstash',
    make: () => upstashStore({ redis: new Redis({ url: bridge.url, token: bridge.token }), prefix: `row${rowCount++}`, ephemeralCache: false }),
    clock: (now) => vi.setSystemTime(now),
  },
];

function answer(result: RateLimitResult, withReset: boolean): string {
  return `${result.success ? '+' : '-'}${result.remaining}${withReset ? `@${result.reset - T0}` : ''}`;
}

/** Runs a row's steps; returns what the store answered, in the row's own notation. */
async function play(store: RateLimitStore, under: StoreUnderTest, row: Row): Promise<string[]> {
  const spec: BucketSpec = { name: 'api', ...row.bucket };
  const answers: string[] = [];
  for (const [op, at, expected] of row.steps) {
    const now = T0 + at;
    under.clock?.(now);
    if (op === 'refund') {
      await store.refund!(spec, 'k', now);
      continue;
    }
    const got: string[] = [];
    for (const wanted of expected!.split(' ')) {
      const result = op === 'take' ? await store.consume(spec, 'k', now) : await store.peek(spec, 'k', now);
      got.push(answer(result, wanted.includes('@')));
    }
    answers.push(got.join(' '));
  }
  return answers;
}

const expectedOf = (row: Row) => row.steps.filter((step) => step[0] !== 'refund').map((step) => step[2]!);

describe.each(stores)('$name store', (under) => {
  if (under.clock) {
    beforeAll(() => void vi.useFakeTimers({ toFake: ['Date'] }));
    afterAll(() => void vi.useRealTimers());
  }

  it.each(rows.filter((row) => !row.differs?.[under.name]))('$name', async (row) => {
    expect(await play(under.make(row.name), under, row)).toEqual(expectedOf(row));
  });

  const differing = rows.filter((row) => row.differs?.[under.name]);
  if (differing.length) {
    it.each(differing)('differs from the memory store where the table says so: $name', async (row) => {
      expect(await play(under.make(row.name), under, row)).not.toEqual(expectedOf(row));
    });
  }

  // Stores that take `now` from the engine answer any sequence exactly as the memory store does,
  // resets included: random sequences, with odd limits and times that leave fractional tokens.
  if (under.name !== 'memory' && !under.clock) {
    it('answers random sequences of takes, refunds and peeks exactly as the memory store does', async () => {
      const operation = fc.record({ op: fc.constantFrom('consume', 'consume', 'refund', 'peek'), key: fc.constantFrom('a', 'b'), step: fc.integer({ min: -50, max: 4_000 }) });
      const spec = fc.record({
        algorithm: fc.constantFrom('fixed-window', 'sliding-window', 'token-bucket'),
        limit: fc.integer({ min: 1, max: 9 }),
        windowMs: fc.constantFrom(1_000, 2_500, 7_000),
      });
      await fc.assert(
        fc.asyncProperty(spec, fc.array(operation, { minLength: 1, maxLength: 40 }), async (bucket, operations) => {
          const reference = memoryStore();
          const store = under.make('random');
          const spec: BucketSpec = { name: 'api', ...bucket } as BucketSpec;
          let now = T0 + 333;
          for (const { op, key, step } of operations) {
            now += step;
            if (op === 'refund') {
              await Promise.all([reference.refund!(spec, key, now), store.refund!(spec, key, now)]);
              continue;
            }
            const [want, got] = await Promise.all([reference[op](spec, key, now), store[op](spec, key, now)]);
            expect({ op, now, ...got }).toEqual({ op, now, ...want });
          }
        }),
        { numRuns: 40 },
      );
    });
  }

  it('counts a quota per period: refused past the limit (uncounted), from zero in a later period, in place when the clock steps back', async () => {
    const store = under.make('quota');
    const day = (n: number) => ({ start: T0 + n * 86_400_000, end: T0 + (n + 1) * 86_400_000 });
    const take = async (limit: number, period: { start: number; end: number }, key = 'k') => {
      under.clock?.(period.start);
      return answer(await store.takeQuota!({ name: 'plan', limit }, key, period, period.start + 1), true);
    };
    const seen = [];
    for (let i = 0; i < 4; i++) seen.push(await take(3, day(0)));
    // A bigger plan for the same key sees the calls already counted (the refused one was not).
    seen.push(await take(5, day(0)));
    seen.push(await take(3, day(0), 'other'));
    seen.push(await take(3, day(1)));
    // A call stamped with the earlier period (a lagging clock) counts in the later one.
    seen.push(await take(3, day(0)));
    expect(seen).toEqual(['+2@86400000', '+1@86400000', '+0@86400000', '-0@86400000', '+1@86400000', '+2@86400000', '+2@172800000', '+1@86400000']);
  });

  it('admits exactly the limit of 60 concurrent quota calls', async () => {
    under.clock?.(T0);
    const store = under.make('concurrent quota');
    const period = { start: T0, end: T0 + 86_400_000 };
    const results = await Promise.all(Array.from({ length: 60 }, () => store.takeQuota!({ name: 'plan', limit: 7 }, 'k', period, T0)));
    expect(results.filter((result) => result.success).map((result) => result.remaining).sort()).toEqual([0, 1, 2, 3, 4, 5, 6]);
  });

  it.each(['fixed-window', 'sliding-window', 'token-bucket'] as const)(
    '%s: 60 concurrent takes on a limit of 7 admit exactly 7, each seeing its own count',
    async (algorithm) => {
      under.clock?.(T0);
      const store = under.make(`concurrent ${algorithm}`);
      const spec: BucketSpec = { name: 'api', algorithm, limit: 7, windowMs: MINUTE };
      const results = await Promise.all(Array.from({ length: 60 }, () => store.consume(spec, 'k', T0)));
      const admitted = results.filter((result) => result.success);
      expect(admitted).toHaveLength(7);
      expect(admitted.map((result) => result.remaining).sort()).toEqual([0, 1, 2, 3, 4, 5, 6]);
    },
  );
});
