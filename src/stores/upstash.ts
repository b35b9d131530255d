/**
 * A rate-limit store in Redis, reached over Upstash's REST API: `@upstash/ratelimit` on an
 * `@upstash/redis` client. Counters are shared by every process and isolate that uses the same
 * database, and the client is plain `fetch`, so it runs on Workers, Deno, Bun and Node alike.
 *
 * Time: `@upstash/ratelimit` counts with the runtime's own `Date.now()` (window numbers, token refill
 * times) and Redis's clock (key expiry). The `now` the engine passes — and so a clock pinned with
 * `createEngine(policy, { now })` — does not apply to this store. Pin clocks only with the memory store.
 * @module
 */

import { Ratelimit } from '@upstash/ratelimit';
import { QUOTA_SCRIPT, sha1Hex } from './redis-script.ts';
import type { BucketSpec, RateLimitResult, RateLimitStore } from './types.ts';

/** The Redis client `@upstash/ratelimit` accepts: an `@upstash/redis` `Redis`. */
export type UpstashRedis = ConstructorParameters<typeof Ratelimit>[0]['redis'];

/** Options of `upstashStore()`. */
export interface UpstashStoreOptions {
  /** `new Redis({ url, token })` or `Redis.fromEnv()` from `@upstash/redis` (any runtime entry point). */
  redis: UpstashRedis;
  /** Prefix of every Redis key; the bucket name follows it. @default 'portcullis' */
  prefix?: string;
  /**
   * Remembers, in this process or isolate, the keys that are over their limit until their reset, and
   * refuses them without a Redis round trip. A flooding client then costs no Redis command per
   * request. The cache can only refuse, never admit, so it cannot loosen a limit; its cost is that a
   * counter reset by hand in Redis is seen here only after the remembered reset time. It is bounded
   * (the library's own default is an unbounded Map): `maxKeys` per bucket, oldest forgotten first.
   * `false` sends every request to Redis.
   * @default true — on, at most 10000 keys per bucket
   */
  ephemeralCache?: boolean | { maxKeys: number };
}

/** A Map that forgets its oldest entry beyond `maxKeys`: blocked keys of a flood cannot grow it. */
export class BoundedMap extends Map<string, number> {
  readonly maxKeys: number;
  /**
   * Oldest first, and it stays where it stopped: a fresh iterator per eviction would step over every
   * deleted slot. Made at the first eviction: a live iterator keeps every table the map outgrew.
   */
  #oldest: MapIterator<string> | undefined;
  constructor(maxKeys: number) {
    super();
    this.maxKeys = maxKeys;
  }
  override set(key: string, value: number): this {
    if (!this.has(key) && this.size >= this.maxKeys) {
      let next = (this.#oldest ??= this.keys()).next();
      if (next.done) next = (this.#oldest = this.keys()).next();
      if (!next.done) this.delete(next.value);
    }
    return super.set(key, value);
  }
}

/**
 * The token bucket of the memory store refills `limit` tokens per window continuously; Upstash refills
 * `refillRate` tokens per `interval`. One token every `windowMs / limit` ms (rounded to whole ms) is
 * the closest match.
 */
function tokenBucketShape(limit: number, windowMs: number): { refillRate: number; intervalMs: number } {
  const refillRate = Math.max(1, Math.ceil(limit / windowMs));
  return { refillRate, intervalMs: Math.max(1, Math.round((windowMs * refillRate) / limit)) };
}

function limiterOf(bucket: BucketSpec) {
  switch (bucket.algorithm) {
    case 'fixed-window':
      return Ratelimit.fixedWindow(bucket.limit, `${bucket.windowMs} ms`);
    case 'sliding-window':
      return Ratelimit.slidingWindow(bucket.limit, `${bucket.windowMs} ms`);
    case 'token-bucket': {
      const { refillRate, intervalMs } = tokenBucketShape(bucket.limit, bucket.windowMs);
      return Ratelimit.tokenBucket(refillRate, `${intervalMs} ms`, bucket.limit);
    }
  }
}

/**
 * Rate limits in Redis through Upstash: one global limit for every instance that shares the database.
 *
 * `@upstash/ratelimit`'s own timeout *admits* a request when Redis is slow; it is switched off here.
 * The engine applies `rateLimiting.storeTimeoutMs` instead and then the policy's `onStoreError`
 * (fail closed with 503 by default), logging either way. Writes still in flight come back as
 * `pending`, which the engine hands to `waitUntil`.
 *
 * @example
 * ```ts
 * import { Redis } from '@upstash/redis/cloudflare';
 * const store = upstashStore({ redis: new Redis({ url: env.UPSTASH_REDIS_REST_URL, token: env.UPSTASH_REDIS_REST_TOKEN }) });
 * const engine = createEngine(policy, { rateLimitStore: store });
 * ```
 * @see https://github.com/upstash/ratelimit-js
 */
export function upstashStore(options: UpstashStoreOptions): RateLimitStore {
  const { redis } = options;
  const prefix = options.prefix ?? 'portcullis';
  const cache = options.ephemeralCache ?? true;
  const maxCached = typeof cache === 'object' ? cache.maxKeys : 10_000;
  if (!Number.isInteger(maxCached) || maxCached < 1) throw new TypeError('upstashStore: ephemeralCache.maxKeys must be a positive integer');
  const limiters = new Map<string, { spec: BucketSpec; ratelimit: Ratelimit; intervalMs: number; refillRate: number }>();
  // `@upstash/redis` clients have eval and evalsha; the type `@upstash/ratelimit` asks for names only evalsha.
  const scripts = redis as unknown as {
    evalsha(sha: string, keys: string[], args: string[]): Promise<unknown>;
    eval(script: string, keys: string[], args: string[]): Promise<unknown>;
  };
  const quotaSha = sha1Hex(QUOTA_SCRIPT);

  /** One Ratelimit per bucket, made on first use; a bucket redefined under the same name gets a new one. */
  function limiterFor(bucket: BucketSpec) {
    const known = limiters.get(bucket.name);
    if (known && known.spec.limit === bucket.limit && known.spec.windowMs === bucket.windowMs && known.spec.algorithm === bucket.algorithm) {
      return known;
    }
    const ratelimit = new Ratelimit({
      redis,
      limiter: limiterOf(bucket),
      // The bucket name is encoded so that no name/key pair can spell another bucket's Redis key.
      prefix: `${prefix}:${encodeURIComponent(bucket.name)}`,
      ephemeralCache: cache === false ? false : new BoundedMap(maxCached),
      // 0 disables the library's timeout, which would otherwise report success when Redis is slow.
      timeout: 0,
      analytics: false,
      enableTelemetry: false,
    });
    const entry = { spec: { ...bucket }, ratelimit, ...tokenBucketShape(bucket.limit, bucket.windowMs) };
    limiters.set(bucket.name, entry);
    return entry;
  }

  return {
    name: 'upstash',
    async consume(bucket, key): Promise<RateLimitResult> {
      const { success, remaining, reset, pending } = await limiterFor(bucket).ratelimit.limit(key);
      return { success, limit: bucket.limit, remaining, reset, pending };
    },
    /**
     * Gives back a unit (`limit(key, { rate: -1 })`), so failure-only buckets reserve one per attempt.
     * Approximate at the edges, as the library's refunds are: a unit taken in the window before is
     * given back in this one, and a full token bucket can briefly hold one token more than `limit`.
     */
    async refund(bucket, key): Promise<void> {
      const { pending } = await limiterFor(bucket).ratelimit.limit(key, { rate: -1 });
      await pending;
    },
    /** `SET key 1 NX PX ttl`: atomic in Redis, so one gateway of a fleet is told a key is new. */
    async firstUse(key, expiresAt, now): Promise<boolean> {
      const px = Math.max(1, Math.ceil(expiresAt - now));
      return (await redis.set(`${prefix}:seen:${key}`, '1', { nx: true, px })) !== null;
    },
    /** The client type `@upstash/ratelimit` takes has no DEL: a value that expires in 1 ms is gone as well. */
    async forget(key): Promise<void> {
      await redis.set(`${prefix}:seen:${key}`, '0', { px: 1 });
    },
    /** The quota counter of redisStore, by the same script: `now` is the engine's, as there. */
    async takeQuota(quota, key, period, now): Promise<RateLimitResult> {
      const keys = [`${prefix}:${encodeURIComponent(quota.name)}:quota:${key}`];
      const args = [String(quota.limit), String(period.start), String(period.end), String(now)];
      let reply: unknown;
      try {
        reply = await scripts.evalsha(await quotaSha, keys, args);
      } catch (error) {
        // Redis has not seen the script yet (or restarted): EVAL sends and caches it.
        if (!String(error).includes('NOSCRIPT')) throw error;
        reply = await scripts.eval(QUOTA_SCRIPT, keys, args);
      }
      if (!Array.isArray(reply) || reply.length !== 3) throw new TypeError(`upstashStore: unexpected quota reply ${JSON.stringify(reply)}`);
      return { success: Number(reply[0]) === 1, limit: quota.limit, remaining: Number(reply[1]), reset: Number(String(reply[2])) };
    },
    /** Notes the value unless one is there (`SET NX`), then reads what is. */
    async remember(bucket, key, value): Promise<string> {
      const id = `${prefix}:${encodeURIComponent(bucket.name)}:${key}:note`;
      await redis.set(id, value, { nx: true, px: bucket.windowMs });
      return String((await redis.get(id)) ?? value);
    },
    async peek(bucket, key): Promise<RateLimitResult> {
      const { ratelimit, intervalMs, refillRate } = limiterFor(bucket);
      let { remaining, reset } = await ratelimit.getRemaining(key);
      if (bucket.algorithm === 'token-bucket') {
        // getRemaining reports the tokens as of the last refill; add the refills due since then.
        const at = Date.now();
        if (at >= reset) {
          const refills = Math.floor((at - reset) / intervalMs) + 1;
          remaining = Math.min(bucket.limit, remaining + refills * refillRate);
          reset += refills * intervalMs;
        }
      }
      return { success: remaining > 0, limit: bucket.limit, remaining, reset };
    },
  };
}
