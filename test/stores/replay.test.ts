/**
 * The replay guard (DPoP proofs' `jti`) on every store that can hold it across gateways: each id is
 * accepted once until its lifetime is over, concurrent offers of one id admit exactly one, and two
 * gateways on one Redis share what they have seen. Memory is the reference; Redis is a real
 * redis-server, Upstash the same server through the REST bridge (its clock is the runtime's Date).
 */
import { Redis } from '@upstash/redis';
import { createClient } from 'redis';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { memoryStore } from '../../src/stores/memory.ts';
import { redisStore, type RedisStore } from '../../src/stores/redis.ts';
import { storeReplayGuard } from '../../src/stores/replay.ts';
import type { RateLimitStore } from '../../src/stores/types.ts';
import { upstashStore } from '../../src/stores/upstash.ts';
import { startRedisServer, type RedisServer } from '../redis/redis-server.ts';
import { startUpstashBridge, type UpstashBridge } from '../redis/upstash-bridge.ts';

const T0 = Date.UTC(2026, 0, 1);
const TTL = 70_000;

let server: RedisServer;
let bridge: UpstashBridge;
const closers: (() => Promise<void>)[] = [];
beforeAll(async () => {
  server = await startRedisServer();
  bridge = await startUpstashBridge({ redisUrl: server.url });
}, 60_000);
afterAll(async () => {
  for (const close of closers.splice(0)) await close();
  await bridge?.close();
  await server?.stop();
});

let prefixes = 0;
const stores: { name: string; make(prefix?: string): RateLimitStore; usesDate?: boolean }[] = [
  { name: 'memory', make: () => memoryStore() },
  {
    name: 'redis',
    make: (prefix = `replay${prefixes++}`) => {
      const store: RedisStore = redisStore({ url: server.url, createClient, prefix });
      closers.push(() => store.close());
      return store;
    },
  },
  {
    name: 'upstash',
    make: (prefix = `replay${prefixes++}`) => upstashStore({ redis: new Redis({ url: bridge.url, token: bridge.token }), prefix }),
    usesDate: true,
  },
];

describe.each(stores)('storeReplayGuard on the $name store', ({ make, usesDate }) => {
  let now = T0;
  const at = (ms: number) => {
    now = T0 + ms;
    if (usesDate) vi.setSystemTime(now);
  };
  beforeAll(() => void (usesDate && vi.useFakeTimers({ toFake: ['Date'] })));
  afterAll(() => void vi.useRealTimers());

  it('accepts an id once, until its lifetime is over; ids and scopes are apart', async () => {
    const guard = storeReplayGuard(make(), () => now);
    at(0);
    expect(await guard.firstUse('dpop', 'a', TTL)).toBe(true);
    at(1_000);
    expect(await guard.firstUse('dpop', 'a', TTL)).toBe(false);
    expect(await guard.firstUse('dpop', 'b', TTL)).toBe(true);
    expect(await guard.firstUse('webhook', 'a', TTL)).toBe(true);
    at(TTL - 1_000);
    expect(await guard.firstUse('dpop', 'a', TTL)).toBe(false);
    at(TTL + 1_000);
    expect(await guard.firstUse('dpop', 'a', TTL)).toBe(true);
  });

  it('admits exactly one of 20 concurrent offers of one id', async () => {
    const guard = storeReplayGuard(make(), () => now);
    at(0);
    const answers = await Promise.all(Array.from({ length: 20 }, () => guard.firstUse('dpop', 'same', TTL)));
    expect(answers.filter(Boolean)).toHaveLength(1);
  });
});

describe('two gateways on one Redis', () => {
  it('share the ids they have seen', async () => {
    const [one, two] = [storeReplayGuard(stores[1]!.make('fleet'), Date.now), storeReplayGuard(stores[1]!.make('fleet'), Date.now)];
    expect(await one.firstUse('dpop', 'proof-1', TTL)).toBe(true);
    expect(await two.firstUse('dpop', 'proof-1', TTL)).toBe(false);
  });
});
