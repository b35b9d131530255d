/**
 * Report-only mode (the policy's or a route's `mode: 'report'`): a request the policy would refuse
 * goes on, as an `Allow` that says what enforcement would have answered (`reported`). The denial
 * was computed, and logged as `portcullis.report`, exactly as it would have been.
 * @module
 */

import { ANONYMOUS } from './authn/contract.ts';
import type { Allow, Deny } from './decision.ts';
import type { Exchange } from './exchange.ts';
import { handoff } from './handoff.ts';

/**
 * Whether report mode may let this denial through. A request whose target or framing cannot be
 * read the same way by the gateway and the handler is not a rule being tried out; nor is a crash.
 */
export function reportable(reason: string): boolean {
  return !(reason === 'internal.error' || reason.startsWith('request.') || reason.startsWith('client.'));
}

/** The `Allow` for a report-only exchange that `denial` would have stopped. */
export function letThrough(x: Exchange, denial: Deny): Allow {
  const headers = denial.headers.clone();
  for (const name of ['www-authenticate', 'retry-after', 'location', 'allow']) headers.delete(name);
  // The answer let through is cached as the route's allowed answers are (`no-store` on an
  // authenticated route), and not at all when no route matched: nobody said it is public.
  const cacheControl = x.cacheControl === undefined ? 'no-store' : x.cacheControl;
  if (cacheControl !== null) headers.set('cache-control', cacheControl);
  const params = x.params ?? {};
  const request = x.unread ?? x.request;
  return {
    kind: 'allow',
    requestId: x.requestId,
    client: x.client,
    route: x.route ?? '*',
    params,
    principal: x.principal ?? ANONYMOUS,
    input: { params, query: undefined, headers: undefined, body: undefined },
    request: handoff(request, request, x.href ?? x.request.url),
    reasons: [],
    reported: { reason: denial.reason, status: denial.status, reasons: denial.reasons },
    trace: x.trace,
    headers,
    settle: denial.settle,
  };
}
