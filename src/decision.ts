/**
 * Decisions: what the engine concluded about a request, as a value.
 * @module
 */

import type { Client } from './client.ts';
import type { HeaderList } from './header-list.ts';
import type { FieldError } from './schema.ts';
import type { Principal, QuotaSpec } from './authn/contract.ts';

/** Stable reason codes: the problem `type`, the log line and the tests share them. */
export const REASONS = {
  'request.malformed_path': { status: 400, title: 'Bad request' },
  'request.malformed': { status: 400, title: 'Bad request' },
  'request.malformed_host': { status: 400, title: 'Bad request' },
  'request.misdirected': { status: 421, title: 'Misdirected request' },
  'request.malformed_framing': { status: 400, title: 'Bad request' },
  'request.header_too_large': { status: 431, title: 'Request header fields too large' },
  'client.aborted': { status: 400, title: 'Request aborted' },
  'client.timeout': { status: 408, title: 'Request timeout' },
  'route.not_found': { status: 404, title: 'Not found' },
  'route.method_not_allowed': { status: 405, title: 'Method not allowed' },
  'transport.https_required': { status: 403, title: 'HTTPS required' },
  'transport.https_redirect': { status: 308, title: 'Use HTTPS' },
  'cors.origin_denied': { status: 403, title: 'Forbidden' },
  'cors.method_denied': { status: 403, title: 'Forbidden' },
  'cors.preflight': { status: 204, title: 'No content' },
  'version.sunset': { status: 410, title: 'Gone' },
  'validate.invalid': { status: 422, title: 'Unprocessable content' },
  'validate.unsupported_media_type': { status: 415, title: 'Unsupported media type' },
  'validate.body_too_large': { status: 413, title: 'Content too large' },
  'validate.malformed_body': { status: 400, title: 'Bad request' },
  'validate.forbidden_key': { status: 400, title: 'Bad request' },
  'validate.duplicate_key': { status: 400, title: 'Bad request' },
  'validate.too_deep': { status: 400, title: 'Bad request' },
  /** No credentials at all. */
  'authn.required': { status: 401, title: 'Unauthorized' },
  'authn.invalid': { status: 401, title: 'Unauthorized' },
  'authn.invalid_request': { status: 400, title: 'Bad request' },
  // Bearer tokens (JWT): the token's shape, signature, key and claims.
  'authn.malformed_token': { status: 401, title: 'Unauthorized' },
  'authn.token_too_large': { status: 401, title: 'Unauthorized' },
  'authn.forbidden_header': { status: 401, title: 'Unauthorized' },
  'authn.alg_not_allowed': { status: 401, title: 'Unauthorized' },
  'authn.unknown_key': { status: 401, title: 'Unauthorized' },
  'authn.bad_signature': { status: 401, title: 'Unauthorized' },
  'authn.invalid_token': { status: 401, title: 'Unauthorized' },
  'authn.token_expired': { status: 401, title: 'Unauthorized' },
  'authn.token_not_yet_valid': { status: 401, title: 'Unauthorized' },
  'authn.token_issued_in_future': { status: 401, title: 'Unauthorized' },
  'authn.token_too_old': { status: 401, title: 'Unauthorized' },
  'authn.lifetime_too_long': { status: 401, title: 'Unauthorized' },
  'authn.wrong_issuer': { status: 401, title: 'Unauthorized' },
  'authn.wrong_audience': { status: 401, title: 'Unauthorized' },
  'authn.wrong_type': { status: 401, title: 'Unauthorized' },
  'authn.claim_invalid': { status: 401, title: 'Unauthorized' },
  'authn.mfa_required': { status: 401, title: 'Unauthorized' },
  /** Introspection: the authorization server says the token is not active. */
  'authn.token_inactive': { status: 401, title: 'Unauthorized' },
  /** An active token that is not an access token (a refresh or ID token, or one the server did not type). */
  'authn.wrong_token_type': { status: 401, title: 'Unauthorized' },
  /** A token bound to a key (DPoP) presented as a bearer token. */
  'authn.sender_constrained': { status: 401, title: 'Unauthorized' },
  // DPoP (RFC 9449): tokens bound to a key, and the proofs that show the caller holds it.
  /** The route's method takes only `Authorization: DPoP` tokens; a bearer token came. */
  'authn.dpop_required': { status: 401, title: 'Unauthorized' },
  /** A token bound to a key (`cnf.jkt`) sent as a bearer token, without a proof. */
  'authn.dpop_bound_as_bearer': { status: 401, title: 'Unauthorized' },
  /** `Authorization: DPoP` with a token that is bound to no key. */
  'authn.dpop_unbound_token': { status: 401, title: 'Unauthorized' },
  /** `Authorization: DPoP` without a `DPoP` proof header. */
  'authn.dpop_proof_missing': { status: 401, title: 'Unauthorized' },
  /** The proof is not a valid `dpop+jwt` signed by the public key in its `jwk` header (or there are two). */
  'authn.dpop_proof_invalid': { status: 401, title: 'Unauthorized' },
  /** The proof is signed with an algorithm the policy does not accept. */
  'authn.dpop_proof_alg_not_allowed': { status: 401, title: 'Unauthorized' },
  /** The proof's `iat` is outside the accepted window (too old, or in the future). */
  'authn.dpop_proof_stale': { status: 401, title: 'Unauthorized' },
  /** The proof's `htm` is not the request's method. */
  'authn.dpop_proof_wrong_method': { status: 401, title: 'Unauthorized' },
  /** The proof's `htu` is not the URL the client used. */
  'authn.dpop_proof_wrong_url': { status: 401, title: 'Unauthorized' },
  /** The proof's `ath` is missing or is not the hash of the access token sent with it. */
  'authn.dpop_proof_wrong_token': { status: 401, title: 'Unauthorized' },
  /** The proof is signed by another key than the one the token is bound to. */
  'authn.dpop_key_mismatch': { status: 401, title: 'Unauthorized' },
  /** The proof's `jti` was used before: a replayed proof. */
  'authn.dpop_replayed': { status: 401, title: 'Unauthorized' },
  /** The proof carries no nonce, or an old or foreign one: retry with the `DPoP-Nonce` of the answer. */
  'authn.dpop_nonce_required': { status: 401, title: 'Unauthorized' },
  /** The replay cache (the rate-limit store) did not answer: proofs cannot be checked, so none is accepted. */
  'authn.dpop_replay_unavailable': { status: 503, title: 'Service unavailable' },
  // API keys.
  'authn.key_malformed': { status: 401, title: 'Unauthorized' },
  /** A key of the checksummed format whose checksum is wrong: refused before any lookup. */
  'authn.key_bad_checksum': { status: 401, title: 'Unauthorized' },
  'authn.key_wrong_environment': { status: 401, title: 'Unauthorized' },
  'authn.key_unknown': { status: 401, title: 'Unauthorized' },
  'authn.key_revoked': { status: 401, title: 'Unauthorized' },
  'authn.key_expired': { status: 401, title: 'Unauthorized' },
  // Request signatures (webhooks, HTTP Message Signatures).
  /** A signature header that cannot be read (syntax, a missing `webhook-id` or timestamp, `keyid`, `created`). */
  'authn.signature_malformed': { status: 401, title: 'Unauthorized' },
  /** The signature's timestamp (`created`) is outside the accepted window, or it `expires`. */
  'authn.signature_stale': { status: 401, title: 'Unauthorized' },
  /** A signature accepted before, sent again (the same `webhook-id`, or the same signature). */
  'authn.signature_replayed': { status: 401, title: 'Unauthorized' },
  /** The signature does not cover a component the policy requires (or `content-digest` for a body). */
  'authn.signature_coverage': { status: 401, title: 'Unauthorized' },
  /** A covered component is not in the request (a header, a query parameter). */
  'authn.signature_component_missing': { status: 401, title: 'Unauthorized' },
  /** A request with a body and no `Content-Digest` of an accepted algorithm. */
  'authn.digest_missing': { status: 401, title: 'Unauthorized' },
  /** `Content-Digest` is not the digest of the body received. */
  'authn.digest_mismatch': { status: 401, title: 'Unauthorized' },
  // Client certificates (mTLS).
  /** The TLS layer (or the proxy, for nginx's header) did not verify the certificate presented. */
  'authn.certificate_unverified': { status: 401, title: 'Unauthorized' },
  /** A certificate header from a peer that is not one of `clientIp.trustedProxies`: anyone can send it. */
  'authn.certificate_untrusted_source': { status: 401, title: 'Unauthorized' },
  /** The certificate header or the certificate does not parse. */
  'authn.certificate_malformed': { status: 401, title: 'Unauthorized' },
  /** A verified certificate that `mtls()` knows no client for. */
  'authn.certificate_unknown': { status: 401, title: 'Unauthorized' },
  /** A certificate that matches clients of two different principals. */
  'authn.certificate_ambiguous': { status: 401, title: 'Unauthorized' },
  /** A certificate-bound token (`cnf["x5t#S256"]`) without a client certificate. */
  'authn.bound_certificate_missing': { status: 401, title: 'Unauthorized' },
  /** A certificate-bound token with a certificate other than the one it is bound to. */
  'authn.bound_certificate_mismatch': { status: 401, title: 'Unauthorized' },
  'authn.keys_unavailable': { status: 503, title: 'Service unavailable' },
  'authn.unavailable': { status: 503, title: 'Service unavailable' },
  /** No alternative of the route's `allow` list matched; the trace names why each failed (the codes below). */
  'authz.denied': { status: 403, title: 'Forbidden' },
  'authz.role_missing': { status: 403, title: 'Forbidden' },
  'authz.scope_missing': { status: 403, title: 'Forbidden' },
  'authz.not_owner': { status: 403, title: 'Forbidden' },
  'authz.check_failed': { status: 403, title: 'Forbidden' },
  'authz.check_error': { status: 403, title: 'Forbidden' },
  /** A body field the caller's roles may not set (`fieldRoles`). */
  'authz.field_forbidden': { status: 403, title: 'Forbidden' },
  /** The client address is inside `ip.deny`, or outside `ip.allow`. */
  'network.ip_denied': { status: 403, title: 'Forbidden' },
  /** An `ip` rule applies and the runtime gave no client address. */
  'network.ip_unknown': { status: 403, title: 'Forbidden' },
  /** The client country is in `country.deny`, or not in `country.allow`. */
  'network.country_denied': { status: 403, title: 'Forbidden' },
  /** A `country` rule applies and no platform or trusted proxy reported the country. */
  'network.country_unknown': { status: 403, title: 'Forbidden' },
  /** The caller used up its quota for the period; `Retry-After` says when it refills. */
  'quota.exhausted': { status: 429, title: 'Too many requests' },
  /** The store that counts quotas failed or was too slow, and the policy fails closed. */
  'quota.unavailable': { status: 503, title: 'Service unavailable' },
  'origin.unavailable': { status: 502, title: 'Bad gateway' },
  // Response protection: the handler's or origin's answer on a route with a `response` rule.
  /** Larger than the route's `response.maxBytes`. */
  'response.too_large': { status: 502, title: 'Bad gateway' },
  /** Not readable as UTF-8 JSON (another type on a success, a content coding, malformed JSON). */
  'response.unreadable': { status: 502, title: 'Bad gateway' },
  /** Does not match the route's response schema, or has a shape its field paths do not fit. */
  'response.invalid': { status: 502, title: 'Bad gateway' },
  /** Strict mode: holds a field the caller may not read. */
  'response.forbidden_field': { status: 502, title: 'Bad gateway' },
  'origin.redirect_refused': { status: 502, title: 'Bad gateway' },
  'origin.target_refused': { status: 400, title: 'Bad request' },
  'gateway.misconfigured': { status: 500, title: 'Internal server error' },
  'ratelimit.exceeded': { status: 429, title: 'Too many requests' },
  'ratelimit.unavailable': { status: 503, title: 'Service unavailable' },
  'internal.error': { status: 500, title: 'Internal server error' },
} as const satisfies Record<string, { status: number; title: string }>;

/** A reason code, e.g. `route.not_found`. Stages added later extend this set. */
export type ReasonCode = keyof typeof REASONS | (string & {});

/** One step of the pipeline, as recorded in the trace. */
export interface TraceEntry {
  stage: string;
  outcome: 'pass' | 'deny' | 'answer' | 'skip';
  /** Reason code or a short human note. Never a credential. */
  detail?: string;
}

/** The validated input, as the handler receives it. */
export interface ValidatedInput {
  params: unknown;
  query: unknown;
  headers: unknown;
  /** The schema's output for the body; `undefined` on routes without a body. */
  body: unknown;
}

interface DecisionBase {
  /** Request id, also sent as `X-Request-Id` and logged. */
  readonly requestId: string;
  readonly client: Client;
  /** The route pattern that matched, when one did. */
  readonly route: string | undefined;
  /** The rule ids / reason codes that decided this. */
  readonly reasons: readonly string[];
  readonly trace: readonly TraceEntry[];
  /** Headers to set on whatever response goes out (security, CORS, versioning, RateLimit). */
  readonly headers: HeaderList;
  /**
   * Call once with the final response status: buckets that count only failures (login) take
   * their unit now. `engine.handle` does this itself; a no-op when no such bucket applies.
   */
  readonly settle: (status: number) => Promise<void>;
}

/** What an allowed decision says about the quota it used. */
export interface QuotaInfo {
  /** The quota's name in `policy.quotas`. */
  readonly name: string;
  /** Calls per period for this caller (its plan's, or the policy's). */
  readonly limit: number;
  /** Calls left in this period, after this one. */
  readonly remaining: number;
  readonly period: QuotaSpec['period'];
  /** When the period ends and the allowance refills, epoch ms. */
  readonly reset: number;
}

/** The request may proceed to the handler or origin. */
export interface Allow extends DecisionBase {
  readonly kind: 'allow';
  /** The matched route pattern (`'*'` when report-only mode let an unrouted request through). */
  readonly route: string;
  /** Set when report-only mode let through a request that enforcement would have refused. */
  readonly reported?: { readonly reason: string; readonly status: number; readonly reasons: readonly string[] };
  readonly params: Readonly<Record<string, string>>;
  readonly principal: Principal;
  /** The quota this call used, when the route has one and the caller's calls count. */
  readonly quota?: QuotaInfo;
  /** The schemas' output for params, query, headers and body. */
  readonly input: ValidatedInput;
  /**
   * The request to hand on: the original, minus headers a downstream server might misread
   * (`X-HTTP-Method-Override` and friends).
   */
  readonly request: Request;
}

/** The engine answers the request itself: a denial, a redirect, or a CORS preflight. */
export interface Deny extends DecisionBase {
  readonly kind: 'deny';
  readonly status: number;
  readonly reason: ReasonCode;
  /** The public problem body (RFC 9457). `null` for bodiless answers (204 preflight). */
  readonly problem: Problem | null;
}

/** A decision is a value: allow or deny, never an exception. */
export type Decision = Allow | Deny;

/** RFC 9457 problem details, as sent to the caller. */
export interface Problem {
  type: string;
  title: string;
  status: number;
  code: string;
  requestId: string;
  detail?: string;
  /** RFC 9457 extension: one entry per invalid field (422). */
  errors?: readonly FieldError[];
  trace?: readonly TraceEntry[];
}

/**
 * Narrows a decision to an `Allow` (the request goes on to the handler or origin).
 * @example
 * ```ts
 * const decision = await engine.evaluate(request);
 * if (isAllow(decision)) console.log(decision.principal.id, decision.input.body);
 * ```
 */
export const isAllow = (decision: Decision): decision is Allow => decision.kind === 'allow';

/**
 * Narrows a decision to a `Deny` (the engine answers: a denial, a redirect or a preflight's 204).
 * @example
 * ```ts
 * const decision = await engine.evaluate(request);
 * if (isDeny(decision)) return denialResponse(decision);
 * ```
 */
export const isDeny = (decision: Decision): decision is Deny => decision.kind === 'deny';

/** The problem `type` URI for a reason code. */
export const problemType = (reason: string) => `https://portcullis.dev/problems/${reason}`;

/**
 * A safety net for a code missing from REASONS (test/reasons.test.ts keeps the table complete):
 * an unlisted `authn.*` code still answers 401 and an unlisted `authz.*` code 403, not a 500.
 */
const FAMILIES: Record<string, { status: number; title: string }> = {
  authn: REASONS['authn.invalid'],
  authz: REASONS['authz.denied'],
};

/** The status and title of a reason code (500 for an unknown one: fail closed, say little). */
export function reasonInfo(reason: string): { status: number; title: string } {
  return (
    (REASONS as Record<string, { status: number; title: string }>)[reason] ??
    FAMILIES[reason.slice(0, reason.indexOf('.'))] ??
    REASONS['internal.error']
  );
}

/** Turns a denial into the Response the caller receives. */
export function denialResponse(decision: Deny): Response {
  // A plain record, not a `Headers`: denial floods are answered at the price of allowed requests.
  const headers = decision.headers.record();
  if (decision.problem === null) return new Response(null, { status: decision.status, headers });
  headers['content-type'] = 'application/problem+json';
  headers['cache-control'] = 'no-store';
  return new Response(JSON.stringify(decision.problem), { status: decision.status, headers });
}

/** The public problem body of a reason code (RFC 9457): type, title, status, code, request id. */
export function problemFor(reason: string, requestId: string): Problem {
  const { status, title } = reasonInfo(reason);
  return { type: problemType(reason), title, status, code: reason, requestId };
}

/** A problem+json response for a reason code, for answers made outside the pipeline (an origin that is down). */
export function problemResponse(reason: string, requestId: string): Response {
  const problem = problemFor(reason, requestId);
  return asGatewayAnswer(
    new Response(JSON.stringify(problem), {
      status: problem.status,
      headers: { 'content-type': 'application/problem+json', 'cache-control': 'no-store' },
    }),
  );
}

/** Answers the gateway wrote (or chose to relay as they are): their 5xx is no origin's to mask. */
const gatewayAnswers = new WeakSet<Response>();

/** Marks `response` as the gateway's own answer (see `isGatewayAnswer`). */
export function asGatewayAnswer(response: Response): Response {
  gatewayAnswers.add(response);
  return response;
}

/** Whether the gateway wrote `response` itself: answer rules (masking, response protection) leave it as it is. */
export function isGatewayAnswer(response: Response): boolean {
  return gatewayAnswers.has(response);
}
