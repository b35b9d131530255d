/**
 * `X-Forwarded-For` rotation: limit + 1 requests to a limited route, each claiming a new client
 * address, must still meet a 429. Without --trusted-proxy the whole header is the client's lie;
 * with it, the probe stands where a trusted proxy stands and only the left part rotates (the
 * right-most hop stays one fixed address), which is the spoof a proxy passes through.
 * @module
 */

import { CHECKS } from '../checks.ts';
import { describeStatus, fail, inconclusive, pass, type ProbeContext } from '../context.ts';
import type { ProbeRequest, ProbeResponse } from '../http.ts';
import { parseDuration } from '../../../src/policy/duration.ts';
import type { ProbeRoute } from '../model.ts';
import { sampleBody } from '../samples.ts';

/** Buckets above this limit are tried only with --aggressive: the request count stays bounded. */
export const LIMIT_WITHOUT_AGGRESSIVE = 50;
/** Windows shorter than this refill while the probe is still sending: no verdict. */
const SHORTEST_WINDOW_MS = 10_000;

/** The n-th rotated address: documentation ranges, then distinct IPv6 /64s of 2001:db8::/32. */
export function rotatedAddress(n: number): string {
  const nets = ['192.0.2', '198.51.100', '203.0.113'];
  if (n < nets.length * 254) return `${nets[n % 3]}.${1 + Math.floor(n / 3)}`;
  return `2001:db8:${(n & 0xffff).toString(16)}:${((n >> 16) & 0xffff).toString(16)}::1`;
}

export async function probeRateLimits(ctx: ProbeContext) {
  const buckets = Object.entries(ctx.model.policy.rateLimits ?? {});
  if (!buckets.length) {
    ctx.note('ratelimit: the policy has no rate limits');
    return;
  }
  // Smallest first: a large bucket's run would otherwise spend a small one's allowance on the way.
  buckets.sort(([, a], [, b]) => a.limit - b.limit);
  let index = 0;
  for (const [name, bucket] of buckets) {
    index++;
    const by = bucket.by ?? 'principal';
    const at = `ratelimit: bucket "${name}"`;
    if (bucket.mode === 'report') {
      ctx.note(`${at} skipped: report-only, it never refuses`);
      continue;
    }
    if (typeof by === 'function' || by === 'route' || by === 'apiKey') {
      ctx.note(`${at} skipped: keyed by ${typeof by === 'function' ? 'a custom function' : by}, not by client address`);
      continue;
    }
    const routes = ctx.model.routes.filter((route) => route.policy.rateLimit?.includes(name));
    // `principal` buckets key anonymous callers by address: only a public route shows the rotation.
    const route = by === 'ip' ? (routes.find((r) => r.anonymous) ?? routes[0]) : routes.find((r) => r.anonymous || r.optional);
    if (!route) {
      ctx.note(`${at} skipped: ${routes.length ? 'keyed by principal on authenticated routes only' : 'no route uses it'}`);
      continue;
    }
    const windowMs = parseDuration(bucket.window) ?? 0;
    if (windowMs < SHORTEST_WINDOW_MS) {
      ctx.note(`${at} skipped: its window (${bucket.window}) refills while the probe sends`);
      continue;
    }
    if (bucket.limit > LIMIT_WITHOUT_AGGRESSIVE && !ctx.options.aggressive) {
      ctx.note(`${at} skipped: limit ${bucket.limit} > ${LIMIT_WITHOUT_AGGRESSIVE} (--aggressive sends ${bucket.limit + 1} requests)`);
      continue;
    }
    const count = bucket.limit + 1 + (bucket.algorithm === 'token-bucket' ? Math.ceil(bucket.limit / 10) + 1 : 0);
    if (count > ctx.session.remaining) {
      ctx.note(`${at} skipped: it needs ${count} requests, ${ctx.session.remaining} are left of --max-requests`);
      continue;
    }
    await rotate(ctx, name, route, count, bucket.count === 'failures' ? (bucket.failureStatuses ?? [401, 403]) : undefined, `198.51.100.${200 + (index % 50)}`);
  }
}

/** Does the response say that this bucket refused it (`RateLimit: "login";r=0;…`)? Unknown headers count as yes. */
function refusedBy(response: ProbeResponse, name: string): boolean {
  const header = response.headers.get('ratelimit');
  if (response.status !== 429) return false;
  if (!header || !header.includes('"')) return true;
  const entry = header.split(',').find((part) => part.trim().startsWith(`"${name}"`));
  return entry === undefined ? false : /;\s*r=0\b/.test(entry);
}

async function rotate(ctx: ProbeContext, name: string, route: ProbeRoute, count: number, failureStatuses: readonly number[] | undefined, fixedHop: string) {
  const trusted = ctx.options.trustedProxy;
  const body = route.contentTypes?.includes('application/json') ? JSON.stringify(sampleBody(route.policy.body)) : undefined;
  const target = ctx.model.pathOf(route, ctx.probeParams(route));
  let last: ProbeRequest | undefined;
  let lastResponse: ProbeResponse | undefined;
  let failures = 0;
  const expected = `429 within ${count} requests`;
  for (let i = 0; i < count; i++) {
    const address = rotatedAddress(i);
    const headers: Record<string, string> = trusted
      ? // As a TLS-terminating proxy would send it: the client reached the proxy over https.
        { 'x-forwarded-for': `${address}, ${fixedHop}`, 'x-forwarded-proto': 'https', forwarded: `for=${address.includes(':') ? `"[${address}]"` : address}, for=${fixedHop};proto=https` }
      : // The client's own lie, in full: a gateway that believes it sees a new client over https each time.
        { 'x-forwarded-for': address, 'x-forwarded-proto': 'https', 'x-real-ip': address, forwarded: `for=${address.includes(':') ? `"[${address}]"` : address};proto=https` };
    if (body !== undefined) headers['content-type'] = 'application/json';
    last = { method: route.method, target, headers, ...(body !== undefined ? { body, bodyNote: 'a sample body (a failing attempt)' } : {}) };
    try {
      lastResponse = (await ctx.session.send(last)).response;
    } catch (error) {
      if ((error as Error).name === 'BudgetExhausted') throw error;
      ctx.settle(CHECKS.xffRotation, route.pattern, last, expected, inconclusive((error as Error).message, 'no answer'));
      return;
    }
    if (failureStatuses?.includes(lastResponse.status)) failures++;
    if (refusedBy(lastResponse, name)) {
      ctx.settle(CHECKS.xffRotation, route.pattern, last, expected, pass(`429 at request ${i + 1}`));
      if (!trusted) ctx.note(`ratelimit: bucket "${name}" is spent for this host's address until its window (${ctx.model.policy.rateLimits![name]!.window}) passes`);
      return;
    }
  }
  if (failureStatuses && failures === 0) {
    ctx.settle(CHECKS.xffRotation, route.pattern, last!, expected, inconclusive(`bucket "${name}" counts failures only, and none of ${count} requests failed`, describeStatus(lastResponse!)));
    return;
  }
  ctx.settle(
    CHECKS.xffRotation,
    route.pattern,
    last!,
    expected,
    fail('error', `no 429 from bucket "${name}" in ${count} requests (last: ${describeStatus(lastResponse!)})`, trusted
      ? `rotating the left of X-Forwarded-For behind a fixed right-most hop escaped bucket "${name}": the client is taken from a hop the client wrote`
      : `rotating X-Forwarded-For escaped bucket "${name}": the forwarding header of a client that is not a trusted proxy was believed`),
  );
}
