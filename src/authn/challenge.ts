/**
 * The `error` of a `WWW-Authenticate` challenge for a failure reason: RFC 6750 for bearer tokens,
 * RFC 9470 for step-up, RFC 9449 for DPoP proofs and nonces.
 * @module
 */

/** Failures of the proof rather than of the token (RFC 9449 §7.1). */
const PROOF_FAILURES: ReadonlySet<string> = new Set([
  'authn.dpop_proof_missing',
  'authn.dpop_proof_invalid',
  'authn.dpop_proof_alg_not_allowed',
  'authn.dpop_proof_stale',
  'authn.dpop_proof_wrong_method',
  'authn.dpop_proof_wrong_url',
  'authn.dpop_proof_wrong_token',
  'authn.dpop_key_mismatch',
  'authn.dpop_replayed',
]);

/** The challenge `error` of a failure reason, or undefined when the fault is the server's. */
export function challengeError(reason: string): string | undefined {
  if (reason === 'authn.invalid_request') return 'invalid_request';
  if (reason === 'authn.mfa_required') return 'insufficient_user_authentication';
  if (reason === 'authn.keys_unavailable' || reason === 'authn.unavailable' || reason === 'authn.dpop_replay_unavailable') return undefined;
  if (reason === 'authn.dpop_nonce_required') return 'use_dpop_nonce';
  if (PROOF_FAILURES.has(reason)) return 'invalid_dpop_proof';
  return 'invalid_token';
}

/** `challenge` with the error of `reason` added, when it has one. */
export function withError(challenge: string, reason: string): string {
  const error = challengeError(reason);
  return error ? `${challenge}, error="${error}"` : challenge;
}
