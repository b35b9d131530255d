/**
 * Security headers, computed once per policy and set on every response, denials included.
 * @module
 */

import type { HeadersPolicy, TransportPolicy } from '../policy/types.ts';

export const DEFAULT_HEADERS = {
  contentSecurityPolicy: "default-src 'none'; frame-ancestors 'none'",
  frameOptions: 'DENY',
  referrerPolicy: 'no-referrer',
  permissionsPolicy:
    'accelerometer=(), camera=(), geolocation=(), gyroscope=(), magnetometer=(), microphone=(), payment=(), usb=()',
  crossOriginOpenerPolicy: 'same-origin',
  crossOriginResourcePolicy: 'same-origin',
} as const;

export const DEFAULT_HSTS = { maxAge: 31536000, includeSubDomains: true, preload: false };

/** Headers that tell an attacker what the origin runs; removed from every response. */
export const REMOVED_RESPONSE_HEADERS = ['x-powered-by', 'server', 'x-aspnet-version', 'x-aspnetmvc-version'] as const;
const REMOVED: ReadonlySet<string> = new Set(REMOVED_RESPONSE_HEADERS);

/**
 * Whether a handler's (or origin's) response header, by lowercase name, never passes the gateway:
 * it tells what the origin runs, or it is CORS, whose authority is the gateway.
 */
export function leaks(name: string): boolean {
  return REMOVED.has(name) || name.startsWith('access-control-');
}

/** The fixed security headers of a policy, as name/value pairs. */
export function compileSecurityHeaders(headers: HeadersPolicy = {}, transport: TransportPolicy = {}): [string, string][] {
  const out: [string, string][] = [['x-content-type-options', 'nosniff']];
  const hsts = transport.hsts === undefined ? DEFAULT_HSTS : transport.hsts;
  if (hsts) {
    let value = `max-age=${hsts.maxAge}`;
    if (hsts.includeSubDomains ?? true) value += '; includeSubDomains';
    if (hsts.preload) value += '; preload';
    out.push(['strict-transport-security', value]);
  }
  const pick = <K extends keyof typeof DEFAULT_HEADERS>(key: K, name: string) => {
    const value = headers[key] === undefined ? DEFAULT_HEADERS[key] : headers[key];
    if (value !== false) out.push([name, value]);
  };
  pick('contentSecurityPolicy', 'content-security-policy');
  pick('frameOptions', 'x-frame-options');
  pick('referrerPolicy', 'referrer-policy');
  pick('permissionsPolicy', 'permissions-policy');
  pick('crossOriginOpenerPolicy', 'cross-origin-opener-policy');
  pick('crossOriginResourcePolicy', 'cross-origin-resource-policy');
  return out;
}
