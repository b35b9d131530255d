/**
 * Rate limiting: named buckets applied per route, keyed by client, principal, API key, route or a
 * custom function, with IETF RateLimit headers.
 * @module
 */

import { formatIp, parseIp } from '../ip.ts';
import { parseDuration } from '../policy/duration.ts';
import type { BucketSpec, RateLimitResult, RateLimitStore } from '../stores/types.ts';
import type { KeyContext, RateLimitPolicy } from '../policy/types.ts';

export type { KeyContext, RateLimitingPolicy, RateLimitPolicy } from '../policy/types.ts';

export interface CompiledBucket extends BucketSpec {
  readonly preAuth: boolean;
  readonly failuresOnly: boolean;
  readonly failureStatuses: readonly number[];
  readonly reportOnly: boolean;
  /** This bucket's item of `RateLimit-Policy` (`"api";q=100;w=60`): the same on every response. */
  readonly policyItem: string;
  key(context: KeyContext): string;
}

/** The key of the client's address: IPv6 grouped by prefix, so rotating inside a /64 buys nothing. */
function ipKey(ip: string, prefix: number): string {
  const address = parseIp(ip);
  if (!address || address.family === 4) return ip;
  const mask = ((1n << BigInt(prefix)) - 1n) << BigInt(128 - prefix);
  return `${formatIp({ family: 6, value: address.value & mask })}/${prefix}`;
}

/** Compiles one bucket (the policy was validated, so the window parses). */
export function compileBucket(name: string, policy: RateLimitPolicy): CompiledBucket {
  const by = policy.by ?? 'principal';
  const prefix = policy.ipv6Prefix ?? 64;
  const clientKey = (context: KeyContext) => `ip:${ipKey(context.client.ip, prefix)}`;
  const key =
    typeof by === 'function'
      ? (context: KeyContext) => `fn:${by(context)}`
      : by === 'ip'
        ? clientKey
        : by === 'route'
          ? (context: KeyContext) => `route:${context.route}`
          : by === 'apiKey'
            ? (context: KeyContext) => {
                const keyId = context.principal.claims.keyId;
                return typeof keyId === 'string' ? `key:${keyId}` : clientKey(context);
              }
            : (context: KeyContext) =>
                context.principal.id === 'anonymous' ? clientKey(context) : `p:${context.principal.method}:${context.principal.id}`;
  return {
    name,
    limit: policy.limit,
    windowMs: parseDuration(policy.window)!,
    algorithm: policy.algorithm ?? 'sliding-window',
    preAuth: by === 'ip' || by === 'route',
    failuresOnly: policy.count === 'failures',
    failureStatuses: policy.failureStatuses ?? [401, 403],
    reportOnly: policy.mode === 'report',
    key,
    policyItem: `"${name}";q=${policy.limit};w=${Math.ceil(parseDuration(policy.window)! / 1000)}`,
  };
}

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
