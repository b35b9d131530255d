/**
 * Quotas: a number of calls per principal or API key per calendar period (UTC), counted in the
 * rate-limit store, for plans and fair use. Only calls the policy allows count: the stage runs last,
 * after authorization and validation, so a refused request costs no allowance.
 * @module
 */

import type { Principal, QuotaSpec } from '../authn/contract.ts';
import type { QuotaInfo } from '../decision.ts';
import { describeError, refuse, type Stage, type StageEnv } from '../exchange.ts';
import type { Policy, QuotaPolicy } from '../policy/types.ts';
import type { QuotaPeriod, RateLimitResult, RateLimitStore } from '../stores/types.ts';
import { withTimeout } from './ratelimit.ts';

export type { QuotaPolicy } from '../policy/types.ts';
export type { QuotaInfo } from '../decision.ts';

/** A quota compiled once. */
export interface CompiledQuota {
  readonly name: string;
  /** The counter's key for a principal; undefined when its calls do not count (`by: 'apiKey'`, no key). */
  key(principal: Principal): string | undefined;
  /** The caller's limit and period: its own plan, or the policy's. */
  spec(principal: Principal): QuotaSpec;
}

/** The outcome of taking one call from a quota. */
export type QuotaOutcome =
  | { readonly kind: 'uncounted' }
  | { readonly kind: 'counted'; readonly info: QuotaInfo; readonly result: RateLimitResult }
  | { readonly kind: 'exhausted'; readonly info: QuotaInfo; readonly result: RateLimitResult };

const DAY_MS = 86_400_000;

/**
 * The calendar period (UTC) that `now` falls in: the day from 00:00, or the month from the 1st.
 * @example
 * quotaPeriod('month', Date.UTC(2027, 1, 14)); // { start: Date.UTC(2027, 1, 1), end: Date.UTC(2027, 2, 1) }
 */
export function quotaPeriod(period: QuotaSpec['period'], now: number): QuotaPeriod {
  if (period === 'day') {
    const start = Math.floor(now / DAY_MS) * DAY_MS;
    return { start, end: start + DAY_MS };
  }
  const date = new Date(now);
  return { start: Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), 1), end: Date.UTC(date.getUTCFullYear(), date.getUTCMonth() + 1, 1) };
}

/** Compiles one named quota (the policy was validated). */
export function compileQuota(name: string, policy: QuotaPolicy): CompiledQuota {
  const byKey = policy.by === 'apiKey';
  const fallback: QuotaSpec = { limit: policy.limit, period: policy.period };
  return {
    name,
    key(principal) {
      const keyId = principal.claims.keyId;
      if (byKey) return typeof keyId === 'string' ? `key:${keyId}` : undefined;
      return `p:${principal.method}:${principal.id}`;
    },
    spec: (principal) => principal.quota ?? fallback,
  };
}

/** `"name";q=1000;w=86400` and `"name";r=999;t=3600`: the quota as items of the RateLimit fields. */
export function quotaHeaderItems(info: QuotaInfo, now: number): { policy: string; state: string } {
  const window = (info.reset - quotaPeriod(info.period, info.reset - 1).start) / 1000;
  return {
    policy: `"${info.name}";q=${info.limit};w=${window}`,
    state: `"${info.name}";r=${info.remaining};t=${Math.max(0, Math.ceil((info.reset - now) / 1000))}`,
  };
}

/**
 * Takes one call from the principal's quota. A store failure (or one slower than `timeoutMs`) is
 * thrown: the caller applies the policy's `onStoreError`.
 */
export async function takeQuota(
  store: RateLimitStore,
  quota: CompiledQuota,
  principal: Principal,
  now: number,
  timeoutMs: number,
): Promise<QuotaOutcome> {
  const key = quota.key(principal);
  if (key === undefined) return { kind: 'uncounted' };
  const spec = quota.spec(principal);
  const period = quotaPeriod(spec.period, now);
  const call = store.takeQuota!({ name: quota.name, limit: spec.limit }, key, period, now);
  const result = await (store.inProcess ? call : withTimeout(call, timeoutMs));
  const info: QuotaInfo = { name: quota.name, limit: spec.limit, remaining: result.remaining, period: spec.period, reset: period.end };
  return { kind: result.success ? 'counted' : 'exhausted', info, result };
}

/**
 * The quota step, last before an allow. Throws a `TypeError` when the policy has quotas and the
 * store cannot count them: a policy that says "1000 a day" must not quietly admit every call.
 */
export function quotaStage(policy: Policy, env: StageEnv): Stage {
  const quotas = new Map(Object.entries(policy.quotas ?? {}).map(([name, quota]) => [name, compileQuota(name, quota)]));
  if (quotas.size && !env.store.takeQuota) {
    throw new TypeError('createEngine: policy.quotas needs a rate-limit store with takeQuota (memory, Redis, Upstash or Durable Objects)');
  }
  const byRoute = new Map(Object.entries(policy.routes).map(([pattern, route]) => [pattern, route.quota === undefined ? undefined : quotas.get(route.quota)]));
  const onStoreError = policy.rateLimiting?.onStoreError ?? 'deny';
  const timeoutMs = policy.rateLimiting?.storeTimeoutMs ?? 1000;

  return function quota(x) {
    const compiled = byRoute.get(x.route!);
    return compiled && use(compiled);

    async function use(compiled: CompiledQuota) {
      const at = env.now();
      let outcome: QuotaOutcome;
      try {
        outcome = await takeQuota(env.store, compiled, x.principal!, at, timeoutMs);
      } catch (error) {
        if (onStoreError === 'deny') return refuse('quota', 'quota.unavailable', { error });
        env.emit(x, { event: 'portcullis.error', reason: 'quota.unavailable', error: describeError(error) });
        x.trace.push({ stage: 'quota', outcome: 'pass', detail: 'store failed; let through (onStoreError: allow)' });
        return undefined;
      }
      if (outcome.kind === 'uncounted') {
        x.trace.push({ stage: 'quota', outcome: 'skip', detail: `${compiled.name}: not counted for this caller` });
        return undefined;
      }
      // The quota is one more item of the RateLimit fields, beside the route's buckets.
      const items = quotaHeaderItems(outcome.info, at);
      for (const [name, item] of [['ratelimit-policy', items.policy], ['ratelimit', items.state]] as const) {
        const before = x.headers.get(name);
        x.headers.set(name, before ? `${before}, ${item}` : item);
      }
      if (outcome.kind === 'exhausted') {
        x.headers.set('retry-after', String(Math.max(1, Math.ceil((outcome.info.reset - at) / 1000))));
        return refuse('quota', 'quota.exhausted', { reasons: [`quota.exhausted: ${compiled.name}`] });
      }
      x.quota = outcome.info;
      x.trace.push({ stage: 'quota', outcome: 'pass', detail: `${compiled.name}: ${outcome.info.remaining} left` });
      return undefined;
    }
  };
}
