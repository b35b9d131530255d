/**
 * One rate-limit bucket of the policy, compiled: its window, algorithm and how it keys a request
 * (client address, principal, API key, route, or a function).
 * @module
 */

import { formatIp, parseIp } from '../ip.ts';
import { parseDuration } from '../policy/duration.ts';
import type { KeyContext, RateLimitPolicy } from '../policy/types.ts';
import type { BucketSpec } from '../stores/types.ts';

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
