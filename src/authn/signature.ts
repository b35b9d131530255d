/**
 * `signature()`: machine callers that sign each request — webhook senders (Standard Webhooks,
 * Stripe-style) and API clients using HTTP Message Signatures (RFC 9421). The signature covers the
 * body, which the engine reads once, within the route's body limit, before the origin sees it; a
 * replay is refused through the rate-limit store, so a fleet of gateways refuses it together.
 * @module
 */

import { policyError, refuseUnknownOptions } from '../errors.ts';
import { DIGEST_ALGORITHMS, type DigestAlgorithm } from './content-digest.ts';
import type { AuthnContext, AuthnEnv, AuthnMethod, AuthnOutcome, FetchLike } from './contract.ts';
import type { SignatureVerifier } from './signature-check.ts';
import { httpMessageVerifier, type HttpSignatureAlgorithm, type HttpSignatureKey } from './signature-http.ts';
import { standardWebhooksVerifier, stripeVerifier } from './signature-webhooks.ts';

export type { HttpSignatureAlgorithm, HttpSignatureKey } from './signature-http.ts';
export type { DigestAlgorithm } from './content-digest.ts';

interface SignatureCommonOptions {
  /**
   * `refuse`: a request whose signature was accepted once is refused when it comes again within
   * its time window (by `webhook-id`, or by the signature itself). The ids live in the engine's
   * rate-limit store: with Redis or Upstash, every gateway of a fleet refuses what one accepted.
   * `allow` turns that off (`portcullis lint` warns): a captured request then works again until
   * its timestamp is too old.
   * @default 'refuse'
   */
  replay?: 'refuse' | 'allow';
  /** `realm` in `WWW-Authenticate`. @default 'api' */
  realm?: string;
}

/** Standard Webhooks or Stripe-style signatures: HMAC-SHA-256 under shared secrets. */
export interface WebhookSignatureOptions extends SignatureCommonOptions {
  /**
   * `standard-webhooks`: `webhook-id`, `webhook-timestamp`, `webhook-signature: v1,<base64>`.
   * `stripe`: `Stripe-Signature: t=<seconds>,v1=<hex>`.
   */
  scheme: 'standard-webhooks' | 'stripe';
  /**
   * The signing secrets: `whsec_` + base64 (Standard Webhooks), or the endpoint secret as the
   * sender shows it (Stripe). Give the new and the old one while a sender rotates.
   */
  secrets: readonly string[];
  /** The principal id of signed requests (the sender), e.g. `payments-provider`. */
  principal: string;
  roles?: readonly string[];
  scopes?: readonly string[];
  /** Seconds the timestamp may differ from the gateway's clock, either way. @default 300 */
  tolerance?: number;
}

/** HTTP Message Signatures (RFC 9421). */
export interface HttpMessageSignatureOptions extends SignatureCommonOptions {
  scheme: 'http-message-signatures';
  /** Keys by `keyid`. Give `keys` or `jwksUrl`, not both. */
  keys?: Readonly<Record<string, HttpSignatureKey>>;
  /** A remote JWKS whose `kid` is the `keyid` (https; cached, refetched for an unknown kid). */
  jwksUrl?: string;
  /** With `jwksUrl`: the algorithms its keys may sign with. */
  algorithms?: readonly HttpSignatureAlgorithm[];
  /** With `jwksUrl`: the principal id of every key. @default the keyid */
  principal?: string;
  /** With `jwksUrl`: roles of every key. */
  roles?: readonly string[];
  /** With `jwksUrl`: scopes of every key. */
  scopes?: readonly string[];
  /**
   * Components every signature must cover. It must name `@method` and either `@target-uri` or
   * both `@authority` and `@path`; `content-digest` is demanded on its own whenever there is a body,
   * and with `@path`, `@query` (or `@request-target`) whenever the request has a query.
   * @default ['@method', '@target-uri']
   */
  components?: readonly string[];
  /** Seconds a signature is accepted after its `created` (which is required). @default 300 */
  maxAge?: number;
  /** Seconds `created` may lie in the future (clock skew). @default 5 */
  clockSkew?: number;
  /** `Content-Digest` algorithms computed and accepted. @default ['sha-256', 'sha-512'] */
  digest?: readonly DigestAlgorithm[];
  /** Only the signature of this label counts (`sig1`). @default any label */
  label?: string;
}

export type SignatureOptions = WebhookSignatureOptions | HttpMessageSignatureOptions;

const known = (keys: Record<string, 0>): ReadonlySet<string> => new Set(Object.keys(keys));
const WEBHOOK_OPTIONS = known({
  scheme: 0, secrets: 0, principal: 0, roles: 0, scopes: 0, tolerance: 0, replay: 0, realm: 0,
} satisfies Record<keyof WebhookSignatureOptions, 0>);
const HTTP_OPTIONS = known({
  scheme: 0, keys: 0, jwksUrl: 0, algorithms: 0, principal: 0, roles: 0, scopes: 0, components: 0, maxAge: 0, clockSkew: 0, digest: 0, label: 0, replay: 0, realm: 0,
} satisfies Record<keyof HttpMessageSignatureOptions, 0>);

const AT = 'signature()';

function positiveSeconds(value: number | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isFinite(value) || value <= 0) policyError(`${AT}.${name}`, `must be a positive number of seconds, got ${value}`);
  return value;
}

/** The coverage an RFC 9421 signature must have at least: the method and the whole target. */
function checkComponents(components: readonly string[]): void {
  const has = (name: string) => components.includes(name);
  if (!has('@method')) policyError(`${AT}.components`, 'must include "@method": a signature without it can be replayed with another method');
  if (!has('@target-uri') && !(has('@authority') && has('@path'))) {
    policyError(`${AT}.components`, 'must include "@target-uri", or both "@authority" and "@path": otherwise the request can be sent to another target');
  }
}

function compileVerifier(options: SignatureOptions, fetcher: () => FetchLike): SignatureVerifier {
  if (options.scheme === 'standard-webhooks' || options.scheme === 'stripe') {
    refuseUnknownOptions(AT, options, WEBHOOK_OPTIONS);
    if (typeof options.principal !== 'string' || !options.principal) policyError(`${AT}.principal`, 'is required: the sender the secrets stand for');
    if (!Array.isArray(options.secrets) || !options.secrets.length) policyError(`${AT}.secrets`, 'give at least one secret');
    const scheme = {
      secrets: options.secrets,
      signer: { principal: options.principal, roles: options.roles, scopes: options.scopes },
      tolerance: positiveSeconds(options.tolerance, 'tolerance', 300),
      at: AT,
    };
    return options.scheme === 'stripe' ? stripeVerifier(scheme) : standardWebhooksVerifier(scheme);
  }
  if (options.scheme !== 'http-message-signatures') policyError(`${AT}.scheme`, 'must be "standard-webhooks", "stripe" or "http-message-signatures"');
  refuseUnknownOptions(AT, options, HTTP_OPTIONS);
  const components = options.components ?? ['@method', '@target-uri'];
  checkComponents(components);
  const digest = options.digest ?? ['sha-256', 'sha-512'];
  if (!digest.length || digest.some((algorithm) => !Object.hasOwn(DIGEST_ALGORITHMS, algorithm))) {
    policyError(`${AT}.digest`, `must name at least one of ${Object.keys(DIGEST_ALGORITHMS).join(', ')}`);
  }
  if (options.keys !== undefined && (options.principal !== undefined || options.roles !== undefined || options.scopes !== undefined)) {
    policyError(`${AT}.principal`, 'with keys, each key names its principal, roles and scopes');
  }
  return httpMessageVerifier({
    keys: options.keys,
    jwksUrl: options.jwksUrl,
    algorithms: options.algorithms ?? [],
    jwksSigner: { principal: options.principal, roles: options.roles, scopes: options.scopes },
    components,
    maxAge: positiveSeconds(options.maxAge, 'maxAge', 300),
    clockSkew: options.clockSkew === undefined ? 5 : positiveSeconds(options.clockSkew, 'clockSkew', 5),
    digest,
    label: options.label,
    at: AT,
    fetch: fetcher,
  });
}

/**
 * Authentication by a signature over the request: the principal is the sender whose secret or key
 * verified it (`kind: 'client'`, so `owner` rules never match it). Unsigned requests are `absent`
 * (the route's other methods are tried, else 401); a bad, stale, replayed or under-covering
 * signature, or a body that does not match its digest, is a 401 with its own reason code.
 *
 * @example
 * ```ts
 * const payments = signature({ scheme: 'standard-webhooks', secrets: [process.env.WEBHOOK_SECRET!], principal: 'payments-provider' });
 * ```
 * @see https://www.rfc-editor.org/rfc/rfc9421
 * @see https://www.standardwebhooks.com/
 */
export function signature(options: SignatureOptions): AuthnMethod {
  if (typeof options !== 'object' || options === null) policyError(AT, 'give the options');
  let fetcher: FetchLike = (...args) => fetch(...args);
  const verify = compileVerifier(options, () => fetcher);
  const refuseReplays = (options.replay ?? 'refuse') === 'refuse';
  if (options.replay !== undefined && options.replay !== 'refuse' && options.replay !== 'allow') policyError(`${AT}.replay`, 'must be "refuse" or "allow"');
  const realm = options.realm ?? 'api';
  const meta =
    options.scheme === 'http-message-signatures'
      ? { scheme: options.scheme, replay: refuseReplays, keySource: options.jwksUrl !== undefined ? 'jwksUrl' : 'keys', components: options.components ?? ['@method', '@target-uri'], maxAge: options.maxAge ?? 300, hmac: Object.values(options.keys ?? {}).some((key) => key.algorithm === 'hmac-sha256') }
      : { scheme: options.scheme, replay: refuseReplays, tolerance: options.tolerance ?? 300, secrets: options.secrets.length, hmac: true };

  return {
    kind: 'signature',
    challenge: `Signature realm="${realm}"`,
    meta: Object.freeze(meta),
    readsBody: true,
    usesReplayCache: refuseReplays,
    async authenticate(request: Request, env: AuthnEnv, context?: AuthnContext): Promise<AuthnOutcome> {
      fetcher = env.fetch;
      // The engine reads the body for methods that cover it; a body it did not hand over is one
      // this method cannot check, so it refuses rather than pass what it never saw.
      const body = context?.body ?? (request.body === null ? new Uint8Array(0) : undefined);
      if (body === undefined) return { kind: 'failure', reason: 'authn.unavailable' };
      let check;
      try {
        check = await verify(request, body, env.now(), context?.target);
      } catch {
        return { kind: 'failure', reason: 'authn.bad_signature' };
      }
      if (check.kind !== 'verified') return check;
      if (refuseReplays) {
        if (!env.firstUse) return { kind: 'failure', reason: 'authn.unavailable' };
        let first: boolean;
        try {
          first = await env.firstUse(check.replay.key, check.replay.expiresAt);
        } catch {
          return { kind: 'failure', reason: 'authn.unavailable' };
        }
        if (!first) return { kind: 'failure', reason: 'authn.signature_replayed' };
      }
      const { signer } = check;
      const principal = { id: signer.principal, kind: 'client' as const, roles: signer.roles ?? [], scopes: signer.scopes ?? [], claims: check.claims };
      // A webhook the origin did not take (a 5xx, a 429) is sent again by its sender with the same
      // id: the id counts as used only once a request with it was served.
      const { forget } = env;
      return refuseReplays && forget ? { kind: 'success', principal, release: () => forget(check.replay.key) } : { kind: 'success', principal };
    },
  };
}
