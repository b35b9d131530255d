/**
 * The rate-limit store interface: memory (default), Redis, Upstash and Durable Objects implement it.
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

/** A quota's counter: what a store needs to count calls in a calendar period. */
export interface QuotaCounterSpec {
  /** The quota's name in the policy, part of every key. */
  readonly name: string;
  /** Calls allowed in the period (the caller's plan may differ from the policy's default). */
  readonly limit: number;
}

/** One calendar period, `[start, end)` in epoch ms. */
export interface QuotaPeriod {
  readonly start: number;
  readonly end: number;
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
   * Remembers `key` until `expiresAt` (epoch ms): `true` the first time, `false` while it is
   * remembered — atomically, so that of two gateways offered the same key at once only one gets
   * `true`. Replay caches (a DPoP proof's `jti`, a webhook id, a signature) use it, so a fleet
   * refuses a replay that another gateway accepted. A store without it cannot back them: the engine
   * refuses such a policy.
   */
  firstUse?(key: string, expiresAt: number, now: number): Promise<boolean>;
  /** Forgets a key `firstUse` remembered: a delivery that failed may be retried with the same id. */
  forget?(key: string): Promise<void>;
  /**
   * Counts one call of `key` against a quota's fixed calendar period, atomically: the count starts
   * at zero in each new period and a call past `limit` is refused without being counted. `reset` is
   * the period's end. Stores without it cannot serve policies with `quotas` (createEngine says so).
   */
  takeQuota?(quota: QuotaCounterSpec, key: string, period: QuotaPeriod, now: number): Promise<RateLimitResult>;
  /**
   * Notes `value` under `key` of `bucket` for one window, unless a value noted earlier is still
   * there; returns the one that is. Alerts note the first request of a window with it. Without it,
   * an alert names its last request as the first.
   */
  remember?(bucket: BucketSpec, key: string, value: string, now: number): Promise<string>;
}
