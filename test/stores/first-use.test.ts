/**
 * `firstUse`, the one replay cache of every store (DPoP proofs' `jti`, webhook ids, signatures): a
 * key is new once until it expires, and of many gateways offered the same key at the same moment
 * exactly one is told it is new. The memory store in-process; redisStore on a real redis-server;
 * upstashStore on the same redis-server through the Upstash REST bridge; durableObjectStore on
 * workerd (Miniflare) with real Durable Objects. Then DPoP through two engines on each store: a
 * proof one gateway accepted is refused by the other.
 */
import { Redis } from '@upstash/redis';
import { calculateThumbprint, generateKeyPair, generateProof } from 'dpop';
import { createClient } from 'redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jwt } from '../../src/authn/jwt.ts';
import { createEngine } from '../../src/engine.ts';
import { definePolicy } from '../../src/policy/define.ts';
import { memoryStore } from '../../src/stores/memory.ts';
import { redisStore, type RedisStore } from '../../src/stores/redis.ts';
import type { RateLimitStore } from '../../src/stores/types.ts';
import { upstashStore } from '../../src/stores/upstash.ts';
import { AUDIENCE, es256, ISSUER, jwksOf, signToken } from '../fixtures/keys.ts';
import { startRedisServer, type RedisServer } from '../redis/redis-server.ts';
import { startUpstashBridge, type UpstashBridge } from '../redis/upstash-bridge.ts';
import { startWorkerdStores, type WorkerdStores } from './workerd-store.ts';

let server: RedisServer;
let bridge: UpstashBridge;
let workerd: WorkerdStores;
const closers: (() => Promise<void>)[] = [];
let prefixes = 0;

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

/** Two handles on one store: for memory the same object, otherwise two clients (two gateways). */
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
  {
    name: 'durable-object',
    pair: () => {
      const prefix = `seen${prefixes++}-`;
      return [workerd.store({ prefix }), workerd.store({ prefix })];
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
    // After the expiry (on Redis's own clock there, on the engine's elsewhere), the key is new again.
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(await two.firstUse!('msg_1', Date.now() + 300, Date.now())).toBe(true);
  });

  it('keeps keys apart: one that another method remembers is still new', async () => {
    const [one] = pair();
    const now = Date.now();
    expect(await one.firstUse!('dpop:a', now + 60_000, now)).toBe(true);
    expect(await one.firstUse!('webhook:a', now + 60_000, now)).toBe(true);
    expect(await one.firstUse!('dpop:a', now + 60_000, now)).toBe(false);
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

describe('a full replay cache fails closed', () => {
  it('memory: refuses a new key while full, rather than forget a remembered one', async () => {
    const store = memoryStore({ maxReplayKeys: 2 });
    const now = 1_000_000;
    expect(await store.firstUse!('a', now + 1000, now)).toBe(true);
    expect(await store.firstUse!('b', now + 1000, now)).toBe(true);
    expect(await store.firstUse!('c', now + 1000, now)).toBe(false);
    expect(await store.firstUse!('a', now + 1000, now)).toBe(false);
    // Once the first two expire there is room again.
    expect(await store.firstUse!('c', now + 3000, now + 1000)).toBe(true);
  });

  it('memory: makes room from expired keys behind a longer-lived one (a webhook id before DPoP proofs)', async () => {
    const store = memoryStore({ maxReplayKeys: 2 });
    const now = 1_000_000;
    expect(await store.firstUse!('webhook:1', now + 300_000, now)).toBe(true);
    expect(await store.firstUse!('dpop:1', now + 70_000, now)).toBe(true);
    expect(await store.firstUse!('dpop:2', now + 70_000, now + 1_000)).toBe(false);
    expect(await store.firstUse!('dpop:2', now + 140_000, now + 70_000)).toBe(true);
    expect(await store.firstUse!('webhook:1', now + 300_000, now + 70_000)).toBe(false);
  });

  it('durable-object: an object holding maxReplayKeys refuses a new key until one expires', async () => {
    // One shard: every key in one object.
    const store = workerd.store({ prefix: 'full-', shards: 1, maxReplayKeys: 2 });
    const now = 1_000_000;
    expect(await store.firstUse!('a', now + 1000, now)).toBe(true);
    expect(await store.firstUse!('b', now + 2000, now)).toBe(true);
    expect(await store.firstUse!('c', now + 1000, now)).toBe(false);
    expect(await store.firstUse!('a', now + 1000, now)).toBe(false);
    // Forgetting one makes room; so does an expiry (on the engine's clock).
    await store.forget!('b');
    expect(await store.firstUse!('c', now + 5000, now)).toBe(true);
    expect(await store.firstUse!('d', now + 5000, now + 500)).toBe(false);
    expect(await store.firstUse!('d', now + 5000, now + 1000)).toBe(true);
    expect(await store.firstUse!('c', now + 5000, now + 1000)).toBe(false);
  });
});

describe('durable-object: expired keys leave the object', () => {
  it('deletes a remembered key a second after its expiry, by the object alarm', async () => {
    const store = workerd.store({ prefix: 'gone-' });
    expect(await store.firstUse!('k', Date.now() + 100, Date.now())).toBe(true);
    expect(await workerd.keys(':seen:gone-k')).toEqual(['seen\u0000gone-k']);
    const until = Date.now() + 10_000;
    while ((await workerd.keys(':seen:gone-k')).length && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 200));
    expect(await workerd.keys(':seen:gone-k')).toEqual([]);
  });
});

describe.each(stores)('$name store: DPoP across two engines', ({ pair }) => {
  it('refuses at one gateway a proof the other accepted', async () => {
    const client = await generateKeyPair('ES256');
    const nowSeconds = Math.floor(Date.now() / 1000);
    const token = await signToken(es256, { iat: nowSeconds, exp: nowSeconds + 600, cnf: { jkt: await calculateThumbprint(client.publicKey) } });
    const policy = definePolicy({
      transport: { requireHttps: false },
      authn: { user: jwt({ jwks: jwksOf(es256), algorithms: ['ES256'], issuer: ISSUER, audience: AUDIENCE, dpop: 'required' }) },
      routes: { 'GET /me': { authn: ['user'], allow: 'authenticated' } },
    });
    const gateways = pair().map((store) => createEngine(policy, { rateLimitStore: store, log: () => {} }));
    const url = 'https://api.test/me';
    const headers = { authorization: `DPoP ${token}`, dpop: await generateProof(client, url, 'GET', undefined, token) };
    const first = await gateways[0]!.evaluate(new Request(url, { headers }));
    expect(first.kind).toBe('allow');
    const again = await gateways[1]!.evaluate(new Request(url, { headers }));
    expect(again.kind === 'deny' && again.reason).toBe('authn.dpop_replayed');
  });
});
