/**
 * The default rate-limit store: in this process's memory, bounded, with no timers.
 *
 * State lives in three typed arrays indexed by slot; a Map from key to slot keeps the LRU order.
 * A flood of distinct keys evicts the least recently used key instead of growing memory. On
 * Workers each isolate has its own store: limits are per isolate, not global.
 * @module
 */

import { SeenKeys } from './seen-keys.ts';
import type { BucketSpec, RateLimitResult, RateLimitStore } from './types.ts';

/**
 * A bucket's key as one flat string. A template literal of this length makes a V8 cons string,
 * which a Map flattens on first hashing and then keeps as well: about 30 bytes per key for nothing.
 */
const keyOf = (bucket: { readonly name: string }, key: string) => [bucket.name, key].join('\u0000');

/** Options of `memoryStore()`. */
export interface MemoryStoreOptions {
  /** Most keys tracked at once (all buckets together). @default 100000 */
  maxKeys?: number;
  /**
   * Most replay-cache keys (`firstUse`: webhook ids, signatures) remembered at once. A full cache
   * refuses new keys until old ones expire, rather than forget one whose replay it must refuse.
   * @default 100000
   */
  maxReplayKeys?: number;
}

/** A memory store, with its current key count for monitoring. */
export interface MemoryStore extends RateLimitStore {
  readonly size: number;
}

/**
 * @example
 * ```ts
 * const engine = createEngine(policy, { rateLimitStore: memoryStore({ maxKeys: 1_000_000 }) });
 * ```
 */
export function memoryStore(options: MemoryStoreOptions = {}): MemoryStore {
  const maxKeys = options.maxKeys ?? 100_000;
  if (!Number.isInteger(maxKeys) || maxKeys < 1) throw new TypeError('memoryStore: maxKeys must be a positive integer');
  const maxReplayKeys = options.maxReplayKeys ?? 100_000;
  if (!Number.isInteger(maxReplayKeys) || maxReplayKeys < 1) throw new TypeError('memoryStore: maxReplayKeys must be a positive integer');
  const seen = new SeenKeys(maxReplayKeys);
  const slots = new Map<string, number>();
  /**
   * The eviction cursor: walks the keys in LRU order and stays where it stopped. Everything behind
   * it was evicted or moved to the young end (ahead of it again), so its next entry is the oldest.
   * A fresh iterator per eviction would step over every deleted slot V8 has not compacted yet —
   * 40 µs per new key in a full store of 100,000, which a client rotating addresses could buy.
   * Made at the first eviction: a live iterator keeps every table the map outgrew.
   */
  let oldest: MapIterator<[string, number]> | undefined;
  let capacity = Math.min(maxKeys, 1024);
  // Per slot: fixed/sliding window → [window start, count, previous count]; token bucket → [tokens, last refill, -].
  let a = new Float64Array(capacity);
  let b = new Float64Array(capacity);
  let c = new Float64Array(capacity);
  // When each slot was last moved to the young end of the LRU order (an insertion counter).
  let moved = new Uint32Array(capacity);
  let tick = 0;

  function grow() {
    capacity = Math.min(maxKeys, capacity * 2);
    const resize = (old: Float64Array) => {
      const next = new Float64Array(capacity);
      next.set(old);
      return next;
    };
    a = resize(a);
    b = resize(b);
    c = resize(c);
    const nextMoved = new Uint32Array(capacity);
    nextMoved.set(moved);
    moved = nextMoved;
  }

  /** The slot of a key, refreshed as most recently used; a new key starts empty. */
  function slotOf(bucket: BucketSpec, id: string, now: number): number {
    let slot = slots.get(id);
    if (slot !== undefined) {
      // Re-inserting moves a key to the young end; keys used within the young half stay put.
      if (tick - moved[slot]! > maxKeys / 2) {
        slots.delete(id);
        slots.set(id, slot);
        moved[slot] = ++tick;
      }
      return slot;
    }
    if (slots.size >= maxKeys) {
      let next = (oldest ??= slots.entries()).next();
      // Map iterators see entries added after them: this one only ends if the map ran empty.
      if (next.done) next = (oldest = slots.entries()).next();
      const [id, reused] = next.value as [string, number];
      slots.delete(id);
      slot = reused;
    } else {
      if (slots.size >= capacity) grow();
      slot = slots.size;
    }
    slots.set(id, slot);
    moved[slot] = ++tick;
    if (bucket.algorithm === 'token-bucket') {
      a[slot] = bucket.limit;
      b[slot] = now;
    } else {
      a[slot] = Math.floor(now / bucket.windowMs) * bucket.windowMs;
      b[slot] = 0;
      c[slot] = 0;
    }
    return slot;
  }

  /** Brings a slot up to `now` (window roll, token refill) and returns the units in use. */
  function advance(bucket: BucketSpec, slot: number, now: number): { used: number; reset: number } {
    const { limit, windowMs } = bucket;
    if (bucket.algorithm === 'token-bucket') {
      const rate = limit / windowMs;
      a[slot] = Math.min(limit, a[slot]! + Math.max(0, now - b[slot]!) * rate);
      b[slot] = Math.max(b[slot]!, now);
      const tokens = a[slot]!;
      const reset = now + Math.ceil((tokens >= 1 ? limit - tokens : 1 - tokens) / rate);
      return { used: limit - Math.floor(tokens), reset };
    }
    // A clock stepping backwards (an NTP correction) stays in the current window: rolling back to an
    // earlier one would start its count from zero.
    const start = Math.max(a[slot]!, Math.floor(now / windowMs) * windowMs);
    if (start !== a[slot]) {
      c[slot] = start - a[slot]! === windowMs ? b[slot]! : 0;
      b[slot] = 0;
      a[slot] = start;
    }
    if (bucket.algorithm === 'fixed-window') return { used: b[slot]!, reset: start + windowMs };
    // Sliding window: the previous window's count, weighted by how much of it still overlaps.
    const overlap = 1 - Math.max(0, now - start) / windowMs;
    return { used: Math.floor(c[slot]! * overlap) + b[slot]!, reset: start + windowMs };
  }

  /**
   * Quota counters, apart from the buckets: the period's start and the calls counted in it. Bounded
   * like the buckets (oldest first out); an evicted key starts its period from zero again.
   */
  const quotas = new Map<string, { start: number; count: number }>();

  function result(bucket: BucketSpec, success: boolean, used: number, reset: number): RateLimitResult {
    return { success, limit: bucket.limit, remaining: Math.max(0, bucket.limit - used), reset };
  }

  /** `remember`'s values: key → [value, expiry]. Few (one per alert window), bounded all the same. */
  const notes = new Map<string, [string, number]>();

  return {
    name: 'memory',
    inProcess: true,
    get size() {
      return slots.size;
    },
    async consume(bucket, key, now) {
      const slot = slotOf(bucket, keyOf(bucket, key), now);
      const { used, reset } = advance(bucket, slot, now);
      if (used >= bucket.limit) return result(bucket, false, used, reset);
      if (bucket.algorithm === 'token-bucket') a[slot] = a[slot]! - 1;
      else b[slot] = b[slot]! + 1;
      return result(bucket, true, used + 1, reset);
    },
    async refund(bucket, key, now) {
      const slot = slots.get(keyOf(bucket, key));
      if (slot === undefined) return;
      advance(bucket, slot, now);
      if (bucket.algorithm === 'token-bucket') a[slot] = Math.min(bucket.limit, a[slot]! + 1);
      // The unit was taken in this window or, if the window rolled since, in the previous one.
      else if (b[slot]! > 0) b[slot] = b[slot]! - 1;
      else if (c[slot]! > 0) c[slot] = c[slot]! - 1;
    },
    async firstUse(key, expiresAt, now) {
      return seen.firstUse(key, expiresAt, now);
    },
    async forget(key) {
      seen.forget(key);
    },
    async takeQuota(quota, key, period) {
      const id = keyOf(quota, key);
      let counter = quotas.get(id);
      if (!counter) {
        if (quotas.size >= maxKeys) quotas.delete(quotas.keys().next().value!);
        counter = { start: period.start, count: 0 };
        quotas.set(id, counter);
      }
      // A new period starts from zero; a clock stepping backwards stays in the period it counted in.
      if (period.start > counter.start) counter = Object.assign(counter, { start: period.start, count: 0 });
      const success = counter.count < quota.limit;
      if (success) counter.count++;
      return { success, limit: quota.limit, remaining: Math.max(0, quota.limit - counter.count), reset: period.end };
    },
    async remember(bucket, key, value, now) {
      const id = keyOf(bucket, key);
      const noted = notes.get(id);
      if (noted && noted[1] > now) return noted[0];
      notes.delete(id);
      if (notes.size >= maxKeys) notes.delete(notes.keys().next().value!);
      notes.set(id, [value, now + bucket.windowMs]);
      return value;
    },
    async peek(bucket, key, now) {
      const id = keyOf(bucket, key);
      const slot = slots.get(id);
      if (slot === undefined) return result(bucket, true, 0, now + bucket.windowMs);
      const { used, reset } = advance(bucket, slot, now);
      return result(bucket, used < bucket.limit, used, reset);
    },
  };
}
