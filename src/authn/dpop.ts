/**
 * DPoP (RFC 9449) for the token methods: `dpop: 'required' | 'allowed'` on `jwt()` and
 * `oauth2Introspection()` binds each use of a token to the key it was issued for (`cnf.jkt`), and
 * `dpopProof()` authenticates a request by its proof alone (a login or token endpoint that issues
 * bound tokens).
 * @module
 */

import { policyError, refuseUnknownOptions } from '../errors.ts';
import { bearerCredential, schemeCredential } from './bearer.ts';
import { withError } from './challenge.ts';
import type { AuthnContext, AuthnEnv, AuthnMethod, AuthnOutcome, AuthnTarget } from './contract.ts';
import { compileNonces, type DpopNonceOptions } from './dpop-nonce.ts';
import { checkProof, DPOP_ALGORITHMS, type DpopAlgorithm, type ProofRules } from './dpop-proof.ts';

export { DPOP_ALGORITHMS, type DpopAlgorithm } from './dpop-proof.ts';
export type { DpopNonceOptions } from './dpop-nonce.ts';

/**
 * `required`: only `Authorization: DPoP <token>` with a valid proof. `allowed`: that, or plain
 * bearer tokens — but never a token bound to a key (`cnf.jkt`) sent as a bearer token.
 */
export type DpopMode = 'required' | 'allowed';

/** How proofs are checked (shared by `dpop` on the token methods and `dpopProof()`). */
export interface DpopProofOptions {
  /** Algorithms a proof may be signed with; asymmetric only. @default every one in DPOP_ALGORITHMS */
  algorithms?: readonly DpopAlgorithm[];
  /** Seconds a proof is accepted after its `iat`; a replay cache entry lives as long. @default 60 */
  maxAge?: number;
  /** Clock skew allowed either way, in seconds. @default 5 */
  clockTolerance?: number;
  /** Server nonces: proofs must carry a recent `nonce`; a missing or old one is answered with `use_dpop_nonce` and a fresh `DPoP-Nonce`. */
  nonce?: DpopNonceOptions;
  /** `realm` in `WWW-Authenticate`. @default 'api' */
  realm?: string;
}

/** `dpop` on `jwt()` and `oauth2Introspection()`: a mode, or a mode with proof options. */
export type DpopSetting = DpopMode | (Omit<DpopProofOptions, 'realm'> & { mode: DpopMode });

const PROOF_OPTIONS: ReadonlySet<string> = new Set(
  Object.keys({ algorithms: 0, maxAge: 0, clockTolerance: 0, nonce: 0, realm: 0 } satisfies Record<keyof DpopProofOptions, 0>),
);
const SETTING_OPTIONS: ReadonlySet<string> = new Set([...PROOF_OPTIONS, 'mode'].filter((key) => key !== 'realm'));

/** Compiles proof options; `at` names them in policy errors. */
function compileRules(options: DpopProofOptions, at: string): ProofRules {
  const algorithms = (options.algorithms ?? DPOP_ALGORITHMS) as readonly string[];
  if (!Array.isArray(algorithms) || algorithms.length === 0) policyError(`${at}.algorithms`, 'must list at least one algorithm');
  for (const alg of algorithms) {
    if (!(DPOP_ALGORITHMS as readonly string[]).includes(alg)) {
      policyError(`${at}.algorithms`, `"${alg}" is not an asymmetric JWS algorithm: a proof carries its own key, so HMAC and none are never accepted`);
    }
  }
  for (const field of ['maxAge', 'clockTolerance'] as const) {
    const value = options[field];
    if (value !== undefined && (!Number.isFinite(value) || value < 0)) policyError(`${at}.${field}`, 'must be a non-negative number of seconds');
  }
  const maxAge = options.maxAge ?? 60;
  if (maxAge > 3600) policyError(`${at}.maxAge`, 'is over an hour: a proof is a one-time signature, not a credential to keep');
  return {
    algorithms: [...algorithms],
    maxAge,
    tolerance: options.clockTolerance ?? 5,
    nonces: options.nonce === undefined ? undefined : compileNonces(options.nonce, `${at}.nonce`),
  };
}

/** The challenge of a scheme: `DPoP` names the algorithms it accepts (RFC 9449 §7.1). */
const dpopChallenge = (realm: string, rules: ProofRules) => `DPoP realm="${realm}", algs="${rules.algorithms.join(' ')}"`;

/** Which key a verified token is bound to: its `cnf.jkt`; `null` when it is bound but names no usable key; undefined when unbound. */
export function boundKey(claims: Readonly<Record<string, unknown>>): string | null | undefined {
  const cnf = claims.cnf;
  const jkt = typeof cnf === 'object' && cnf !== null ? (cnf as { jkt?: unknown }).jkt : undefined;
  if (jkt !== undefined) return typeof jkt === 'string' && jkt !== '' ? jkt : null;
  // An introspection answer may type the token DPoP (RFC 9449 §6.2) without naming the key.
  if (typeof claims.token_type === 'string' && claims.token_type.toLowerCase() === 'dpop') return null;
  return undefined;
}

/** A bearer token that turned out to be bound to a key is refused: whoever sends it lacks the proof. */
export function refuseBoundBearer(outcome: AuthnOutcome): AuthnOutcome {
  if (outcome.kind === 'success' && boundKey(outcome.principal.claims) !== undefined) return { kind: 'failure', reason: 'authn.dpop_bound_as_bearer' };
  return outcome;
}

/** The credential of `Authorization`: a token with its scheme, nothing, or an answer already decided. */
type DpopCredential = { kind: 'absent' } | { kind: 'decided'; outcome: AuthnOutcome } | { kind: 'token'; token: string; scheme: 'dpop' | 'bearer' };

/** Checks a token on its own (signature, introspection, claims): what the method knows, before any DPoP rule. */
export type TokenVerifier = (token: string) => Promise<AuthnOutcome>;

/** What a token method does with `dpop` set. */
export interface DpopBinding {
  readonly mode: DpopMode;
  /** The method's challenge(s): `DPoP …`, after `Bearer …` when bearer tokens are allowed. */
  readonly challenge: string;
  /** For lint, explain and the probe. */
  readonly meta: Readonly<{ mode: DpopMode; algorithms: readonly string[]; maxAge: number; nonce: boolean }>;
  /**
   * Authenticates the request's `Authorization`: `DPoP <token>` with a valid proof from the key the
   * token is bound to, or (when allowed) `Bearer <token>` bound to no key. `verify` checks the token.
   */
  authenticate(request: Request, env: AuthnEnv, context: AuthnContext | undefined, verify: TokenVerifier): Promise<AuthnOutcome>;
}

/**
 * Compiles the `dpop` option of a token method named `at` (`jwt().dpop`); undefined when unset.
 * `realm` is the method's.
 */
export function compileDpop(setting: DpopSetting | undefined, at: string, realm: string): DpopBinding | undefined {
  if (setting === undefined) return undefined;
  const options = typeof setting === 'string' ? { mode: setting } : setting;
  if (typeof options !== 'object' || options === null) policyError(at, "must be 'required', 'allowed' or { mode, … }");
  if (typeof setting === 'object') refuseUnknownOptions(at, setting, SETTING_OPTIONS);
  const { mode } = options;
  if (mode !== 'required' && mode !== 'allowed') policyError(typeof setting === 'string' ? at : `${at}.mode`, "must be 'required' or 'allowed'");
  const rules = compileRules(options, at);
  const bearer = `Bearer realm="${realm}"`;
  const dpop = dpopChallenge(realm, rules);

  /** The challenge for a failure, the error on the scheme the client used. */
  function failure(reason: string, scheme: 'dpop' | 'bearer', headers?: Record<string, string>): AuthnOutcome {
    const challenge =
      mode === 'required' ? withError(dpop, reason) : scheme === 'bearer' ? `${withError(bearer, reason)}, ${dpop}` : `${bearer}, ${withError(dpop, reason)}`;
    return headers ? { kind: 'failure', reason, challenge, headers } : { kind: 'failure', reason, challenge };
  }

  /** Reads `Authorization`: `DPoP <token>`, or (when allowed) `Bearer <token>`. */
  function credential(headers: Headers): DpopCredential {
    const bound = schemeCredential(headers, 'dpop');
    if (bound.kind === 'token') return { kind: 'token', token: bound.token, scheme: 'dpop' };
    if (bound.kind === 'invalid') return { kind: 'decided', outcome: failure('authn.invalid_request', 'dpop') };
    const plain = bearerCredential(headers);
    if (plain.kind === 'absent') return plain;
    // Checked before the token is: a bearer token here is refused whatever it is.
    if (mode === 'required') return { kind: 'decided', outcome: failure('authn.dpop_required', 'bearer') };
    if (plain.kind === 'invalid') return { kind: 'decided', outcome: failure('authn.invalid_request', 'bearer') };
    return { kind: 'token', token: plain.token, scheme: 'bearer' };
  }

  /** The outcome of verifying the token, once the request's proof and the token's binding are checked. */
  async function bind(outcome: AuthnOutcome, token: string, scheme: 'dpop' | 'bearer', request: Request, env: AuthnEnv, target: AuthnTarget | undefined): Promise<AuthnOutcome> {
    if (outcome.kind === 'absent') return outcome;
    if (outcome.kind === 'failure') return failure(outcome.reason, scheme);
    const jkt = boundKey(outcome.principal.claims);
    if (scheme === 'bearer') return jkt === undefined ? outcome : failure('authn.dpop_bound_as_bearer', 'bearer');
    // A DPoP-scheme token that no key binds would be a bearer token with extra steps.
    if (typeof jkt !== 'string') return failure('authn.dpop_unbound_token', 'dpop');
    const proof = await checkProof(rules, request, env, target, { accessToken: token, jkt });
    if (!proof.ok) return failure(proof.reason, 'dpop', proof.headers);
    return proof.headers ? { ...outcome, headers: proof.headers } : outcome;
  }

  return {
    mode,
    challenge: mode === 'required' ? dpop : `${bearer}, ${dpop}`,
    meta: Object.freeze({ mode, algorithms: rules.algorithms, maxAge: rules.maxAge, nonce: rules.nonces !== undefined }),
    async authenticate(request, env, context, verify) {
      const found = credential(request.headers);
      if (found.kind !== 'token') return found.kind === 'absent' ? found : found.outcome;
      return bind(await verify(found.token), found.token, found.scheme, request, env, context?.target);
    },
  };
}

/**
 * Authenticates a request by its DPoP proof alone, with no access token: the principal is the key
 * (its id the key's RFC 7638 thumbprint, `claims.jkt` the same), a `client` that owns nothing.
 * For the endpoint that issues DPoP-bound tokens (a login, a token endpoint): the gateway checks
 * the proof against the URL the client used, and the issuer binds the token to `principal.id`.
 * A request without a `DPoP` header is `absent` (list `'anonymous'` after it to make it optional).
 *
 * @example
 * ```ts
 * const proof = dpopProof({ algorithms: ['ES256'] });
 * // routes: { 'POST /v1/auth/login': { authn: ['proof', 'anonymous'], ... } }
 * ```
 * @see https://www.rfc-editor.org/rfc/rfc9449 RFC 9449, OAuth 2.0 Demonstrating Proof of Possession
 */
export function dpopProof(options: DpopProofOptions = {}): AuthnMethod {
  refuseUnknownOptions('dpopProof()', options, PROOF_OPTIONS);
  const rules = compileRules(options, 'dpopProof()');
  const challenge = dpopChallenge(options.realm ?? 'api', rules);
  return {
    kind: 'dpopProof',
    credentialHeader: 'dpop',
    challenge,
    usesReplayCache: true,
    meta: Object.freeze({ dpop: Object.freeze({ mode: 'proof', algorithms: rules.algorithms, maxAge: rules.maxAge, nonce: rules.nonces !== undefined }) }),
    async authenticate(request, env, context): Promise<AuthnOutcome> {
      const target = context?.target;
      if (!request.headers.has('dpop')) return { kind: 'absent' };
      const proof = await checkProof(rules, request, env, target);
      if (!proof.ok) {
        const failed = { kind: 'failure' as const, reason: proof.reason, challenge: withError(challenge, proof.reason) };
        return proof.headers ? { ...failed, headers: proof.headers } : failed;
      }
      const principal = { id: proof.jkt, kind: 'client' as const, roles: [], scopes: [], claims: Object.freeze({ jkt: proof.jkt }) };
      return proof.headers ? { kind: 'success', principal, headers: proof.headers } : { kind: 'success', principal };
    },
  };
}
