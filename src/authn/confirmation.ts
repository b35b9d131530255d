/**
 * Certificate-bound access tokens (RFC 8705 §3): a token whose confirmation claim names a
 * certificate (`cnf["x5t#S256"]`, the base64url SHA-256 of its DER) is worth something only on a
 * request made with that certificate — a stolen copy alone is refused. `jwt()` and
 * `oauth2Introspection()` run every token they accept through this check.
 * @module
 * @see https://www.rfc-editor.org/rfc/rfc8705#section-3
 */

import type { AuthnContext, AuthnOutcome } from './contract.ts';

const THUMBPRINT = 'x5t#S256';
/** base64url of 32 bytes, unpadded. */
const BASE64URL_SHA256 = /^[A-Za-z0-9_-]{43}$/;

/**
 * The outcome itself, or a failure when the accepted token is bound to a certificate the request
 * did not come with: `authn.bound_certificate_missing` (none), `authn.bound_certificate_mismatch`
 * (another one), or the reason a certificate did not count (`authn.certificate_unverified`, a
 * header from an untrusted peer...). A token without `x5t#S256` passes unchanged.
 */
export function checkCertificateBinding(outcome: AuthnOutcome, context: AuthnContext | undefined): AuthnOutcome | Promise<AuthnOutcome> {
  if (outcome.kind !== 'success') return outcome;
  const cnf = outcome.principal.claims.cnf;
  // A token bound to nothing is decided at once: no certificate to look up, no promise.
  if (cnf === undefined) return outcome;
  if (typeof cnf !== 'object' || cnf === null || Array.isArray(cnf)) return { kind: 'failure', reason: 'authn.claim_invalid' };
  if (!Object.hasOwn(cnf, THUMBPRINT)) return outcome;
  const thumbprint = (cnf as Record<string, unknown>)[THUMBPRINT];
  if (typeof thumbprint !== 'string' || !BASE64URL_SHA256.test(thumbprint)) return { kind: 'failure', reason: 'authn.claim_invalid' };
  return presentedCertificateIs(outcome, thumbprint, context);
}

/** The bound certificate's check: the one the client presented, looked up when a token asks. */
async function presentedCertificateIs(outcome: AuthnOutcome, thumbprint: string, context: AuthnContext | undefined): Promise<AuthnOutcome> {
  const found = context?.clientCertificate ? await context.clientCertificate() : undefined;
  if (found?.kind === 'refused') return { kind: 'failure', reason: found.reason };
  if (found?.kind !== 'present') return { kind: 'failure', reason: 'authn.bound_certificate_missing' };
  // Thumbprints are public (they are in the token): a plain comparison leaks nothing.
  if (found.certificate.x5tS256 !== thumbprint) return { kind: 'failure', reason: 'authn.bound_certificate_mismatch' };
  return outcome;
}

/** `cnf` confirms nothing but a certificate: the binding this module checks, and no other. */
export function confirmsCertificateOnly(cnf: unknown): boolean {
  return typeof cnf === 'object' && cnf !== null && !Array.isArray(cnf) && Object.keys(cnf).length === 1 && Object.hasOwn(cnf, THUMBPRINT);
}
