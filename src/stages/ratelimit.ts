/**
 * Rate limiting: named buckets applied per route, keyed by client, principal, API key, route or a
 * custom function, with IETF RateLimit headers.
 * @module
 */

import { ANONYMOUS, type Principal } from '../authn/contract.ts';
import { describeError, refuse, type Exchange, type Stage, type StageEnv, type StageResult } from '../exchange.ts';
import type { KeyContext, Policy } from '../policy/types.ts';
import type { RateLimitResult, RateLimitStore } from '../stores/types.ts';
import { compileBucket, type CompiledBucket } from './bucket.ts';

export { compileBucket, type CompiledBucket } from './bucket.ts';
export type { KeyContext, RateLimitingPolicy, RateLimitPolicy } from '../policy/types.ts';

/** Store failure or timeout. */
export class StoreUnavailable extends Error {
  override readonly name = 'StoreUnavailable';
}

/** Runs a store call with a timeout; a slow store is a failed store. */
export function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new StoreUnavailable(`rate-limit store did not answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => {
    if (timer !== undefined) clearTimeout(timer);
  });
}

/** The IETF RateLimit-Policy / RateLimit header values for the buckets a request touched. */
export function rateLimitHeaders(entries: readonly { bucket: CompiledBucket; result: RateLimitResult }[], now: number): [string, string][] {
  if (!entries.length) return [];
  const policy = entries.length === 1 ? entries[0]!.bucket.policyItem : entries.map(({ bucket }) => bucket.policyItem).join(', ');
  const state = entries
    .map(({ bucket, result }) => `"${bucket.name}";r=${result.remaining};t=${Math.max(0, Math.ceil((result.reset - now) / 1000))}`)
    .join(', ');
  return [
    ['ratelimit-policy', policy],
    ['ratelimit', state],
  ];
}

function take(store: RateLimitStore, bucket: CompiledBucket, key: string, now: number, timeoutMs: number): Promise<RateLimitResult> {
  // A failure bucket reserves a unit when the store can refund it later, and only looks otherwise.
  const call = bucket.failuresOnly && !store.refund ? store.peek(bucket, key, now) : store.consume(bucket, key, now);
  return store.inProcess ? call : withTimeout(call, timeoutMs);
}

/** Takes (or, for failure buckets, checks) one unit from each bucket. */
export async function checkBuckets(
  store: RateLimitStore,
  buckets: readonly CompiledBucket[],
  context: KeyContext,
  now: number,
  timeoutMs: number,
): Promise<{ bucket: CompiledBucket; key: string; result: RateLimitResult }[]> {
  if (buckets.length === 1) {
    // One bucket (the usual case): nothing to keep in order.
    const bucket = buckets[0]!;
    const key = bucket.key(context);
    return [{ bucket, key, result: await take(store, bucket, key, now, timeoutMs) }];
  }
  const checks = buckets.map((bucket) => {
    const key = bucket.key(context);
    const guarded = take(store, bucket, key, now, timeoutMs);
    guarded.catch(() => {}); // handled below, in order; never an unhandled rejection meanwhile
    return { bucket, key, call: guarded };
  });
  const out: { bucket: CompiledBucket; key: string; result: RateLimitResult }[] = [];
  // Started together above; awaited in order (a rejection surfaces as the store failure).
  for (const { bucket, key, call } of checks) out.push({ bucket, key, result: await call });
  return out;
}

/** The rate-limit steps of the pipeline, and the settlement of failure-counting buckets after the response. */
export interface RateLimitStages {
  /** Buckets keyed by client address or route: they run before authentication, to protect it. */
  beforeAuthn: Stage;
  /** Buckets keyed by principal or API key. */
  afterAuthn: Stage;
  /**
   * What settles this exchange's failure-counting buckets once the response status is known (login
   * brute force). With a store that can refund, every attempt took a unit up front and a non-failure
   * gives it back — so attempts racing each other cannot all slip past the check; otherwise a
   * failure takes its unit now.
   */
  settler(x: Exchange): (status: number) => Promise<void>;
}

/** The settle of a decision with nothing to settle: the engine answers it without a promise hop. */
export const settleNothing = async (): Promise<void> => {};

export function rateLimitStages(policy: Policy, env: StageEnv): RateLimitStages {
  const { store } = env;
  const onStoreError = policy.rateLimiting?.onStoreError ?? 'deny';
  const timeoutMs = policy.rateLimiting?.storeTimeoutMs ?? 1000;
  const buckets = new Map(Object.entries(policy.rateLimits ?? {}).map(([name, bucket]) => [name, compileBucket(name, bucket)]));
  const byRoute = new Map(
    Object.entries(policy.routes).map(([pattern, route]) => {
      const list = (route.rateLimit ?? []).map((name) => buckets.get(name)!);
      return [pattern, { before: list.filter((bucket) => bucket.preAuth), after: list.filter((bucket) => !bucket.preAuth) }];
    }),
  );

  const storeFailed = (x: Exchange) => (error: unknown) => {
    env.observer?.storeFailed?.(store.name ?? 'custom');
    env.emit(x, { event: 'portcullis.error', reason: 'ratelimit.store_error', error: describeError(error) });
  };

  /** Store work that may finish after the response: handed to waitUntil, or at least never unhandled. */
  function background(x: Exchange, work: Promise<unknown> | undefined) {
    if (!work) return;
    const guarded = work.catch(storeFailed(x));
    x.context.waitUntil?.(guarded);
  }

  /** Takes from the buckets; a refusal when one is empty (or the store fails and the policy says deny). */
  async function limit(x: Exchange, list: readonly CompiledBucket[], principal: Principal): Promise<StageResult> {
    const at = env.now();
    const context: KeyContext = { client: x.client, principal, route: x.route!, params: x.params!, request: x.request };
    let results: Exchange['touched'];
    try {
      results = await checkBuckets(store, list, context, at, timeoutMs);
    } catch (error) {
      if (onStoreError === 'deny') {
        env.observer?.storeFailed?.(store.name ?? 'custom');
        return refuse('ratelimit', 'ratelimit.unavailable', { error });
      }
      storeFailed(x)(error);
      x.trace.push({ stage: 'ratelimit', outcome: 'pass', detail: 'store failed; let through (onStoreError: allow)' });
      return undefined;
    }
    x.touched.push(...results);
    for (const [name, value] of rateLimitHeaders(x.touched, at)) x.headers.set(name, value);
    let blocked: (typeof results)[number] | undefined;
    let left = '';
    for (const entry of results) {
      const { bucket, result } = entry;
      background(x, result.pending);
      left += `${left ? ', ' : ''}${bucket.name}: ${result.remaining} left`;
      if (result.success) continue;
      env.observer?.rateLimited?.(bucket.name);
      if (!bucket.reportOnly) {
        blocked ??= entry;
        continue;
      }
      env.emit(x, { event: 'portcullis.report', reason: 'ratelimit.exceeded', status: 429 });
      x.trace.push({ stage: 'ratelimit', outcome: 'pass', detail: `ratelimit.exceeded: ${bucket.name} (report only)` });
    }
    if (!blocked) {
      x.trace.push({ stage: 'ratelimit', outcome: 'pass', detail: left });
      return undefined;
    }
    x.headers.set('retry-after', String(Math.max(1, Math.ceil((blocked.result.reset - at) / 1000))));
    return refuse('ratelimit', 'ratelimit.exceeded', { reasons: [`ratelimit.exceeded: ${blocked.bucket.name}`] });
  }

  function settler(x: Exchange): (status: number) => Promise<void> {
    const failureBuckets = x.touched.filter(({ bucket }) => bucket.failuresOnly);
    if (!failureBuckets.length) return settleNothing;
    let settled = false;
    return async (status) => {
      if (settled) return;
      settled = true;
      await Promise.all(
        failureBuckets.map(async ({ bucket, key, result }) => {
          const failed = bucket.failureStatuses.includes(status);
          if (store.refund) {
            // Only a unit that was taken is given back: a refused attempt (429) took none.
            if (!failed && result.success) await withTimeout(store.refund(bucket, key, env.now()), timeoutMs);
          } else if (failed) {
            const taken = await withTimeout(store.consume(bucket, key, env.now()), timeoutMs);
            background(x, taken.pending);
          }
        }),
      ).catch(storeFailed(x));
    };
  }

  return {
    // No bucket: no await, the request does not wait a microtask for nothing.
    beforeAuthn: (x) => {
      const list = byRoute.get(x.route!)!.before;
      return list.length ? limit(x, list, ANONYMOUS) : undefined;
    },
    afterAuthn: (x) => {
      const list = byRoute.get(x.route!)!.after;
      return list.length ? limit(x, list, x.principal!) : undefined;
    },
    settler,
  };
}
