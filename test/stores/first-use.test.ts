/**
 * `firstUse`, the replay cache of every store that has one: a key is new once until it expires, and
 * of many gateways offered the same key at the same moment exactly one is told it is new. The memory
 * store in-process; redisStore on a real redis-server; upstashStore on the same redis-server through
 * the Upstash REST bridge.
 */
import { Redis } from '@upstash/redis';
import { createClient } from 'redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { memoryStore } from '../../src/stores/memory.ts';
import { redisStore, type RedisStore } from '../../src/stores/redis.ts';
import type { RateLimitStore } from '../../src/stores/types.ts';
import { upstashStore } from '../../src/stores/upstash.ts';
import { startRedisServer, type RedisServer } from '../redis/redis-server.ts';
import { startUpstashBridge, type UpstashBridge } from '../redis/upstash-bridge.ts';

let server: RedisServer;
let bridge: UpstashBridge;
const closers: (() => Promise<void>)[] = [];
let prefixes = 0;

beforeAll(async () => {
  server = await startRedisServer();
  bridge = await startUpstashBridge({ redisUrl: server.url });
}, 60_000);
afterAll(async () => {
  for (const close of closers.splice(0)) await close();
  await bridge?.close();
  await server?.stop();
});

/** Two handles on one store: for memory the same object, for Redis two clients (two gateways). */
const stores: { name: string; pair: () => [RateLimitStore, RateLimitStore] }[] = [
  {
    name: 'memory',
    pair: () => {
      const store = memoryStore();
      return [store, store];
    },
  },
  {
    name: 'redis',
    pair: () => {
      const prefix = `seen${prefixes++}`;
      const make = () => {
        const store: RedisStore = redisStore({ url: server.url, createClient, prefix });
        closers.push(() => store.close());
        return store;
      };
      return [make(), make()];
    },
  },
  {
    name: 'upstash',
    pair: () => {
      const prefix = `seen${prefixes++}`;
      const make = () => upstashStore({ redis: new Redis({ url: bridge.url, token: bridge.token }), prefix });
      return [make(), make()];
    },
  },
];

describe.each(stores)('$name store: firstUse', ({ pair }) => {
  it('is new once, then remembered on every gateway until it expires', async () => {
    const [one, two] = pair();
    const now = Date.now();
    expect(await one.firstUse!('msg_1', now + 300, now)).toBe(true);
    expect(await one.firstUse!('msg_1', now + 300, now)).toBe(false);
    expect(await two.firstUse!('msg_1', now + 300, now)).toBe(false);
    expect(await two.firstUse!('msg_2', now + 300, now)).toBe(true);
    // After the expiry (on Redis's own clock there), the key is new again.
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(await two.firstUse!('msg_1', Date.now() + 300, Date.now())).toBe(true);
  });

  it('forgets a key on request, on every gateway (a delivery that failed may be retried)', async () => {
    const [one, two] = pair();
    const now = Date.now();
    expect(await one.firstUse!('msg_failed', now + 60_000, now)).toBe(true);
    await two.forget!('msg_failed');
    expect(await one.firstUse!('msg_failed', now + 60_000, now)).toBe(true);
    expect(await two.firstUse!('msg_failed', now + 60_000, now)).toBe(false);
  });

  it('tells exactly one of 50 concurrent offers of one key that it is new', async () => {
    const [one, two] = pair();
    const now = Date.now();
    const answers = await Promise.all(Array.from({ length: 50 }, (_, i) => (i % 2 ? one : two).firstUse!('msg_race', now + 60_000, now)));
    expect(answers.filter(Boolean)).toHaveLength(1);
  });
});

describe('memory store: a full replay cache fails closed', () => {
  it('refuses a new key while full, rather than forget a remembered one', async () => {
    const store = memoryStore({ maxReplayKeys: 2 });
    const now = 1_000_000;
    expect(await store.firstUse!('a', now + 1000, now)).toBe(true);
    expect(await store.firstUse!('b', now + 1000, now)).toBe(true);
    expect(await store.firstUse!('c', now + 1000, now)).toBe(false);
    expect(await store.firstUse!('a', now + 1000, now)).toBe(false);
    // Once the first two expire there is room again.
    expect(await store.firstUse!('c', now + 3000, now + 1000)).toBe(true);
  });
});
