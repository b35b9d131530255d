/**
 * The rate-limit store interface: memory (default) and Upstash/Redis implement it.
 * @module
 */

/** A compiled bucket: what a store needs to know to count. */
export interface BucketSpec {
  /** The bucket's name in the policy, part of every key. */
  readonly name: string;
  readonly limit: number;
  readonly windowMs: number;
  readonly algorithm: 'fixed-window' | 'sliding-window' | 'token-bucket';
}

/** The state of one key of a bucket after (or, for `peek`, without) taking a unit. */
export interface RateLimitResult {
  /** The request fits (for `peek`: a request would fit). */
  readonly success: boolean;
  readonly limit: number;
  readonly remaining: number;
  /** When the bucket is next at full capacity (or the window resets), epoch ms. */
  readonly reset: number;
  /** Writes still in flight (Upstash analytics, multi-region sync): hand to `waitUntil`. */
  readonly pending?: Promise<unknown>;
}

/** Where counters live. Implementations must be atomic per key under concurrent requests. */
export interface RateLimitStore {
  /** What kind of store this is (`memory`, `redis`), for metrics of its errors. @default 'custom' */
  readonly name?: string;
  /** In-process and synchronous at heart: it cannot hang, so the engine skips its store timeout. */
  readonly inProcess?: boolean;
  /** Takes one unit from `key` of `bucket` at time `now`. */
  consume(bucket: BucketSpec, key: string, now: number): Promise<RateLimitResult>;
  /** Reads `key` without taking a unit (buckets that count only failures check first, settle later). */
  peek(bucket: BucketSpec, key: string, now: number): Promise<RateLimitResult>;
  /**
   * Gives back one unit taken by `consume` (a login that succeeded). With it, failure-only buckets
   * reserve a unit per attempt, so concurrent attempts cannot all pass the check; without it they
   * fall back to check-then-count.
   */
  refund?(bucket: BucketSpec, key: string, now: number): Promise<void>;
  /**
   * Notes `value` under `key` of `bucket` for one window, unless a value noted earlier is still
   * there; returns the one that is. Alerts note the first request of a window with it. Without it,
   * an alert names its last request as the first.
   */
  remember?(bucket: BucketSpec, key: string, value: string, now: number): Promise<string>;
}
