/**
 * Checking one DPoP proof (RFC 9449 §4.3) with jose: a `dpop+jwt` signed by the public key in its
 * own `jwk` header, for this request's method and URL, recent, for this access token, and new.
 * @module
 */

import { base64url, calculateJwkThumbprint, decodeProtectedHeader, EmbeddedJWK, errors, type JWK, type JWTPayload } from 'jose';
import type { AuthnEnv, AuthnTarget } from './contract.ts';
import { sha256Hex } from './hash.ts';
import type { DpopNonces } from './dpop-nonce.ts';
import { verifyJwt } from './jwt-verify.ts';
import { sha256, type NativeCrypto } from './native-crypto.ts';

/** Asymmetric algorithms a proof may use: never `none`, never HMAC (the key travels in the proof). */
export const DPOP_ALGORITHMS = ['ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519', 'PS256', 'PS384', 'PS512', 'RS256', 'RS384', 'RS512'] as const;
export type DpopAlgorithm = (typeof DPOP_ALGORITHMS)[number];

/** How proofs are checked. */
export interface ProofRules {
  readonly algorithms: readonly string[];
  /** Seconds a proof is accepted after its `iat`. */
  readonly maxAge: number;
  /** Clock skew in seconds, either way. */
  readonly tolerance: number;
  readonly nonces?: DpopNonces;
}

/** A proof that passed: its key's RFC 7638 thumbprint, and headers for the answer (a fresh nonce). */
export type ProofResult = { ok: true; jkt: string; headers?: Record<string, string> } | { ok: false; reason: string; headers?: Record<string, string> };

/** Longest `DPoP` header read; a proof holds one public key and a few claims. */
const MAX_PROOF_BYTES = 8192;
/** Longest `jti`: it is hashed into the replay key, but a client must not make the server hash megabytes. */
const MAX_JTI_LENGTH = 256;
/** Members only a private or symmetric JWK has: a proof must carry the public key alone. */
const SECRET_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];
/** Headers that point at keys elsewhere: the key is the `jwk` header, nothing else. */
const FOREIGN_KEY_HEADERS = ['jku', 'x5u', 'x5c'];
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

const fail = (reason: string, headers?: Record<string, string>): ProofResult => (headers ? { ok: false, reason, headers } : { ok: false, reason });

/**
 * The URL as RFC 9449 §4.3 compares it: scheme, host and path with RFC 3986 syntax- and
 * scheme-based normalization (case of scheme and host, default port, dot segments, percent-encoding
 * case, unreserved characters decoded), without query and fragment. Undefined when it is no http(s) URL.
 */
export function comparableUrl(url: string): string | undefined {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return undefined;
  }
  if ((parsed.protocol !== 'https:' && parsed.protocol !== 'http:') || parsed.username || parsed.password) return undefined;
  const path = parsed.pathname.replace(/%[0-9A-Fa-f]{2}/g, (escape) => {
    const char = String.fromCharCode(parseInt(escape.slice(1), 16));
    return /^[A-Za-z0-9\-._~]$/.test(char) ? char : escape.toUpperCase();
  });
  return `${parsed.protocol}//${parsed.host}${path}`;
}

/** base64url(SHA-256(token)): the `ath` a proof for `token` carries. */
export async function tokenHash(token: string, native?: NativeCrypto): Promise<string> {
  return base64url.encode(await sha256(new TextEncoder().encode(token), native));
}

/**
 * Checks the request's `DPoP` proof. With `accessToken`, the proof must carry its hash (`ath`) and,
 * with `boundTo`, be signed by the key of that thumbprint. The checks that remember something run
 * last, on proofs that passed all others: the nonce, then the `jti` (kept in `env.firstUse`).
 */
export async function checkProof(
  rules: ProofRules,
  request: Request,
  env: AuthnEnv,
  target: AuthnTarget | undefined,
  bound?: { accessToken: string; jkt: string },
): Promise<ProofResult> {
  const proof = request.headers.get('dpop');
  if (proof === null) return fail('authn.dpop_proof_missing');
  // Two DPoP headers are joined by ", ", which no compact JWS contains.
  if (proof.length > MAX_PROOF_BYTES || !COMPACT_JWS.test(proof)) return fail('authn.dpop_proof_invalid');
  let header: ReturnType<typeof decodeProtectedHeader>;
  try {
    header = decodeProtectedHeader(proof);
  } catch {
    return fail('authn.dpop_proof_invalid');
  }
  const jwk = header.jwk as JWK | undefined;
  if (typeof jwk !== 'object' || jwk === null || Array.isArray(jwk)) return fail('authn.dpop_proof_invalid');
  if (SECRET_MEMBERS.some((member) => member in jwk) || FOREIGN_KEY_HEADERS.some((name) => name in header)) return fail('authn.dpop_proof_invalid');

  const nowMs = env.now();
  let payload: JWTPayload;
  try {
    payload = await verifyJwt(proof, EmbeddedJWK, {
      typ: 'dpop+jwt',
      algorithms: [...rules.algorithms],
      maxTokenAge: rules.maxAge,
      clockTolerance: rules.tolerance,
      currentDate: new Date(nowMs),
      requiredClaims: ['jti', 'htm', 'htu', 'iat'],
    }, env.crypto);
  } catch (error) {
    if (error instanceof errors.JOSEAlgNotAllowed) return fail('authn.dpop_proof_alg_not_allowed');
    if (error instanceof errors.JWTExpired || (error instanceof errors.JWTClaimValidationFailed && error.claim === 'iat')) return fail('authn.dpop_proof_stale');
    return fail('authn.dpop_proof_invalid');
  }
  const { jti, htm, htu } = payload as { jti: unknown; htm: unknown; htu: unknown };
  if (typeof jti !== 'string' || jti === '' || jti.length > MAX_JTI_LENGTH || typeof htm !== 'string' || typeof htu !== 'string') {
    return fail('authn.dpop_proof_invalid');
  }
  if (htm !== (target?.method ?? request.method)) return fail('authn.dpop_proof_wrong_method');
  const expected = comparableUrl(target?.url ?? request.url);
  if (expected === undefined || comparableUrl(htu) !== expected) return fail('authn.dpop_proof_wrong_url');

  const jkt = await calculateJwkThumbprint(jwk, 'sha256');
  if (bound) {
    if (payload.ath !== (await tokenHash(bound.accessToken, env.crypto))) return fail('authn.dpop_proof_wrong_token');
    if (jkt !== bound.jkt) return fail('authn.dpop_key_mismatch');
  }

  let headers: Record<string, string> | undefined;
  if (rules.nonces) {
    const nonce = await rules.nonces.current(nowMs);
    headers = { 'dpop-nonce': nonce };
    if (!(await rules.nonces.accepts(payload.nonce, nowMs))) return fail('authn.dpop_nonce_required', headers);
  }
  if (!env.firstUse) return fail('authn.dpop_replay_unavailable', headers);
  // Until the proof's iat is out of the window: accepted from iat - tolerance to iat + maxAge + tolerance.
  const expiresAt = nowMs + (rules.maxAge + 2 * rules.tolerance + 1) * 1000;
  let first: boolean;
  try {
    // Scoped by key: one client's jti never blocks another's.
    first = await env.firstUse(`dpop:${await sha256Hex(`${jkt}.${jti}`, env.crypto)}`, expiresAt);
  } catch {
    return fail('authn.dpop_replay_unavailable', headers);
  }
  if (!first) return fail('authn.dpop_replayed', headers);
  return headers ? { ok: true, jkt, headers } : { ok: true, jkt };
}
