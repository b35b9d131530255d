/**
 * Lint rules for signed requests (`signature()`): how long a captured request stays good, whether
 * it is good more than once, and what of the request an HTTP Message Signature leaves unsigned.
 * @module
 */

import type { Policy } from '../../src/policy/types.ts';
import type { LintRule } from './rule-types.ts';

/** Longer than this, a captured request is good long enough to be worth replaying. */
const MAX_WINDOW_SECONDS = 600;

/** The `signature()` methods of a policy, with their settings (`meta`). */
function signatureMethods(policy: Policy) {
  return Object.entries(policy.authn ?? {}).flatMap(([name, method]) =>
    method.kind === 'signature' && method.meta ? [{ name, meta: method.meta as Readonly<Record<string, unknown>> }] : [],
  );
}

export const SIGNATURE_RULES: readonly LintRule[] = [
  {
    id: 'authn.signature_window_long',
    severity: 'warning',
    owasp: 'API2',
    title: 'Signed requests are accepted for more than 10 minutes',
    description:
      'A webhook timestamp tolerance or an HTTP Message Signature maxAge is how long a captured request stays good. The replay cache must remember every accepted request that long, and without it the request can be sent again for the whole window.',
    fix: 'Keep tolerance / maxAge at 300 seconds (the Standard Webhooks and Stripe default) or less; fix clock skew at the sender rather than widening the window.',
    check: ({ policy }) =>
      signatureMethods(policy).flatMap(({ name, meta }) => {
        const option = meta.scheme === 'http-message-signatures' ? 'maxAge' : 'tolerance';
        const seconds = meta[option];
        return typeof seconds === 'number' && seconds > MAX_WINDOW_SECONDS
          ? [{ keys: ['authn', name, option], message: `"${name}" accepts a signature for ${seconds} seconds` }]
          : [];
      }),
  },
  {
    id: 'authn.signature_replay_allowed',
    severity: 'warning',
    owasp: 'API2',
    title: 'Signed requests without replay protection',
    description:
      'With replay: "allow", a signed request captured anywhere on its way (a proxy log, a retry queue, a compromised hop) is accepted again and again until its timestamp is too old: a payment webhook credits twice. With an HMAC secret the gateway also cannot tell the sender from anyone else who holds the secret.',
    fix: 'Leave replay at "refuse" (the default) and run the gateways on a shared store (Redis, Upstash) so that a fleet refuses a replay together.',
    check: ({ policy }) =>
      signatureMethods(policy).flatMap(({ name, meta }) =>
        meta.replay === false
          ? [{ keys: ['authn', name, 'replay'], message: `"${name}" accepts the same ${meta.hmac ? 'HMAC-' : ''}signed request more than once`, ...(meta.hmac ? { severity: 'error' as const } : {}) }]
          : [],
      ),
  },
  {
    id: 'authn.signature_query_unsigned',
    severity: 'warning',
    owasp: 'API2',
    title: 'HTTP Message Signature that leaves the query unsigned',
    description:
      'Covering "@authority" and "@path" without "@query" (or "@target-uri") signs the path but not its query, which whoever relays the request could change (?amount=1 into ?amount=1000). The gateway refuses such a signature on a request that has a query (authn.signature_coverage): callers that sign only what the policy names fail on every request with one.',
    fix: 'Require "@target-uri" in components, or add "@query".',
    check: ({ policy }) =>
      signatureMethods(policy).flatMap(({ name, meta }) => {
        const components = Array.isArray(meta.components) ? (meta.components as string[]) : [];
        return meta.scheme === 'http-message-signatures' && !components.includes('@target-uri') && !components.includes('@query')
          ? [{ keys: ['authn', name, 'components'], message: `"${name}" does not require "@query" or "@target-uri" to be signed` }]
          : [];
      }),
  },
];
