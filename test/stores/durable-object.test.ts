/**
 * durableObjectStore() on workerd (Miniflare) beyond the conformance table: where keys live (one
 * object per key, or shards), and the clean-up of idle keys by the object's alarm.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { durableObjectStore } from '../../src/stores/durable-object.ts';
import type { BucketSpec } from '../../src/stores/types.ts';
import { startWorkerdStores, type WorkerdStores } from './workerd-store.ts';

const T0 = Date.UTC(2026, 0, 1);
let workerd: WorkerdStores;
beforeAll(async () => (workerd = await startWorkerdStores()), 60_000);
afterAll(async () => workerd?.stop());

describe('durableObjectStore on workerd', () => {
  it('keeps each bucket and client key in an object of its own by default', async () => {
    const store = workerd.store({ prefix: 'own-' });
    const spec: BucketSpec = { name: 'api', limit: 2, windowMs: 60_000, algorithm: 'fixed-window' };
    await store.consume(spec, 'ip:203.0.113.7', T0);
    await store.consume(spec, 'ip:203.0.113.8', T0);
    expect(await workerd.keys('own-api:ip:203.0.113.7')).toEqual(['fixed-window\u0000own-api\u0000ip:203.0.113.7']);
    expect(await workerd.keys('own-api:ip:203.0.113.8')).toEqual(['fixed-window\u0000own-api\u0000ip:203.0.113.8']);
  });

  it('spreads keys over `shards` objects, each key still counted on its own', async () => {
    const store = workerd.store({ prefix: 'sharded-', shards: 2 });
    const spec: BucketSpec = { name: 'api', limit: 1, windowMs: 60_000, algorithm: 'sliding-window' };
    const keys = Array.from({ length: 8 }, (_, i) => `ip:198.51.100.${i}`);
    for (const key of keys) expect((await store.consume(spec, key, T0)).success).toBe(true);
    for (const key of keys) expect((await store.consume(spec, key, T0)).success).toBe(false);
    const held = [...(await workerd.keys('sharded-api:0')), ...(await workerd.keys('sharded-api:1'))];
    expect(held.sort()).toEqual(keys.map((key) => `sliding-window\u0000sharded-api\u0000${key}`).sort());
    expect((await workerd.keys('sharded-api:0')).length).toBeGreaterThan(0);
    expect((await workerd.keys('sharded-api:1')).length).toBeGreaterThan(0);
  });

  it('forgets a key two windows (and a second) after its last use', async () => {
    const store = workerd.store({ prefix: 'idle-' });
    const spec: BucketSpec = { name: 'api', limit: 1, windowMs: 100, algorithm: 'token-bucket' };
    await store.consume(spec, 'k', T0);
    expect(await workerd.keys('idle-api:k')).toHaveLength(1);
    const until = Date.now() + 10_000;
    while ((await workerd.keys('idle-api:k')).length && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 200));
    expect(await workerd.keys('idle-api:k')).toEqual([]);
  });

  it('refuses shards that are not a positive integer', () => {
    const namespace = { idFromName: () => ({}), get: () => ({ fetch: async () => new Response() }) };
    expect(() => durableObjectStore({ namespace, shards: 0 })).toThrow(/shards/);
  });
});
