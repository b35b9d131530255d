/**
 * A replay guard in the rate-limit store: "accept this id once" is a bucket of one unit per id that
 * refills only after the id can no longer be replayed. Every gateway sharing the store (Redis,
 * Upstash, a Durable Object) shares the guard, and no store needs a new operation for it.
 * @module
 */

import type { ReplayGuard } from '../authn/contract.ts';
import type { BucketSpec, RateLimitStore } from './types.ts';

/**
 * A guard over `store`, counting time with `now` (the engine's clock). A token bucket, not a window:
 * a fixed window would forget every id at its boundary, whenever it was first seen.
 *
 * @example
 * ```ts
 * const guard = storeReplayGuard(memoryStore(), Date.now);
 * await guard.firstUse('dpop', 'proof-id', 70_000); // true, then false for 70 s
 * ```
 */
export function storeReplayGuard(store: RateLimitStore, now: () => number): ReplayGuard {
  // One spec per scope and lifetime: stores such as Upstash keep a limiter per bucket name.
  const specs = new Map<string, BucketSpec>();
  return {
    async firstUse(scope, id, ttlMs) {
      const name = `replay:${scope}:${ttlMs}`;
      let spec = specs.get(name);
      if (spec === undefined) specs.set(name, (spec = Object.freeze({ name, limit: 1, windowMs: ttlMs, algorithm: 'token-bucket' })));
      return (await store.consume(spec, id, now())).success;
    },
  };
}
