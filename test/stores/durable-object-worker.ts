/**
 * A Worker for the store tests on workerd: `POST /` runs one call of `durableObjectStore()` (the
 * real store, inside the Worker: a take, a quota, the replay cache) against the RATE_LIMITS namespace
 * and answers its result as JSON;
 * `GET /keys?object=<name>` lists what that object keeps (to watch idle keys being cleaned up).
 * @module
 */

import { durableObjectStore, RateLimitObject, type DurableObjectNamespaceLike, type DurableObjectStateLike } from '../../src/stores/durable-object.ts';
import type { BucketSpec, QuotaCounterSpec, QuotaPeriod } from '../../src/stores/types.ts';

interface Env {
  RATE_LIMITS: DurableObjectNamespaceLike;
}

/** RateLimitObject, plus a look at its storage for the tests. */
export class TestRateLimitObject extends RateLimitObject {
  readonly #state: DurableObjectStateLike;
  constructor(state: DurableObjectStateLike, env: unknown) {
    super(state, env);
    this.#state = state;
  }
  override async fetch(request: Request): Promise<Response> {
    if (request.method === 'GET') return Response.json([...(await this.#state.storage.list()).keys()]);
    return super.fetch(request);
  }
}

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    const url = new URL(request.url);
    if (request.method === 'GET') {
      const stub = env.RATE_LIMITS.get(env.RATE_LIMITS.idFromName(url.searchParams.get('object')!));
      return stub.fetch('https://rate-limit.portcullis/', { method: 'GET' });
    }
    const { op, bucket, key, now, shards, quota, period, expiresAt, maxReplayKeys } = (await request.json()) as {
      op: 'consume' | 'refund' | 'peek' | 'quota' | 'first-use' | 'forget';
      bucket: BucketSpec;
      key: string;
      now: number;
      shards?: number;
      quota: QuotaCounterSpec;
      period: QuotaPeriod;
      expiresAt: number;
      maxReplayKeys?: number;
    };
    const store = durableObjectStore({ namespace: env.RATE_LIMITS, shards, maxReplayKeys });
    if (op === 'quota') return Response.json(await store.takeQuota!(quota, key, period, now));
    if (op === 'first-use') return Response.json(await store.firstUse!(key, expiresAt, now));
    if (op === 'forget') {
      await store.forget!(key);
      return Response.json(null);
    }
    if (op === 'refund') {
      await store.refund!(bucket, key, now);
      return Response.json(null);
    }
    return Response.json(await store[op](bucket, key, now));
  },
};
