/**
 * durableObjectStore() on workerd (Miniflare), driven from Node: a RateLimitStore whose every call
 * runs the real store inside test/stores/durable-object-worker.ts, against real Durable Objects.
 * @module
 */

import { Miniflare } from 'miniflare';
import type { BucketSpec, RateLimitResult, RateLimitStore } from '../../src/stores/types.ts';
import { bundleWorker } from '../cloudflare/workerd.ts';

export interface WorkerdStores {
  /**
   * A store; `shards` and `maxReplayKeys` as durableObjectStore's options, `prefix` before every
   * bucket name and replay-cache key (a store of its own).
   */
  store(options?: { shards?: number; prefix?: string; maxReplayKeys?: number }): RateLimitStore;
  /** The storage keys of the object named `object`. */
  keys(object: string): Promise<string[]>;
  stop(): Promise<void>;
}

export async function startWorkerdStores(): Promise<WorkerdStores> {
  const mf = new Miniflare({
    modules: true,
    script: await bundleWorker('test/stores/durable-object-worker.ts'),
    compatibilityDate: '2025-07-18',
    durableObjects: { RATE_LIMITS: 'TestRateLimitObject' },
  });
  await mf.ready;

  async function call(body: unknown): Promise<unknown> {
    const response = await mf.dispatchFetch('http://store.test/', { method: 'POST', body: JSON.stringify(body) });
    if (!response.ok) throw new Error(`the store Worker answered ${response.status}: ${await response.text()}`);
    return response.json();
  }

  return {
    store(options = {}) {
      const send = (op: string, { name, limit, windowMs, algorithm }: BucketSpec, key: string, now: number) =>
        call({ op, bucket: { name: `${options.prefix ?? ''}${name}`, limit, windowMs, algorithm }, key, now, shards: options.shards });
      return {
        consume: (bucket, key, now) => send('consume', bucket, key, now) as Promise<RateLimitResult>,
        peek: (bucket, key, now) => send('peek', bucket, key, now) as Promise<RateLimitResult>,
        async refund(bucket, key, now) {
          await send('refund', bucket, key, now);
        },
        takeQuota: (quota, key, period, now) =>
          call({ op: 'quota', quota: { name: `${options.prefix ?? ''}${quota.name}`, limit: quota.limit }, key, period, now, shards: options.shards }) as Promise<RateLimitResult>,
        firstUse: (key, expiresAt, now) =>
          call({ op: 'first-use', key: `${options.prefix ?? ''}${key}`, expiresAt, now, shards: options.shards, maxReplayKeys: options.maxReplayKeys }) as Promise<boolean>,
        async forget(key) {
          await call({ op: 'forget', key: `${options.prefix ?? ''}${key}`, shards: options.shards });
        },
      };
    },
    async keys(object) {
      return (await (await mf.dispatchFetch(`http://store.test/keys?object=${encodeURIComponent(object)}`)).json()) as string[];
    },
    stop: () => mf.dispose(),
  };
}
