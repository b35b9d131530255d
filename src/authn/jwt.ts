/**
 * `jwt()`: bearer (or, with `dpop`, DPoP-bound) JWTs verified by jose, with the checks jose leaves
 * to its caller, and a verified-token cache that never extends a token's life.
 * @module
 */

import {
  createLocalJWKSet,
  createRemoteJWKSet,
  customFetch,
  decodeProtectedHeader,
  errors,
  jwksCache,
  type CompactJWSHeaderParameters,
  type ExportedJWKSCache,
  type FlattenedJWSInput,
  type JSONWebKeySet,
  type JWK,
  type JWTPayload,
  type JWTVerifyGetKey,
  type JWTVerifyOptions,
} from 'jose';
import { policyError, refuseUnknownOptions } from '../errors.ts';
import type { AuthnContext, AuthnEnv, AuthnMethod, AuthnOutcome, FetchLike, Principal } from './contract.ts';
import { bearerCredential, isB64Token } from './bearer.ts';
import { compileDpop, refuseBoundBearer, type DpopSetting } from './dpop.ts';
import { claimList, readClaim } from './claims.ts';
import { checkCertificateBinding } from './confirmation.ts';
import { keyName, unusableKeyProblem, verifyKeyProblem } from './jwk.ts';
import { verifyJwt } from './jwt-verify.ts';
import { Lru } from './lru.ts';
import { secureUrl } from './secure-url.ts';

const HMAC = ['HS256', 'HS384', 'HS512'] as const;
const HMAC_HASH: ReadonlyMap<string, string> = new Map([['HS256', 'SHA-256'], ['HS384', 'SHA-384'], ['HS512', 'SHA-512']]);
const ASYMMETRIC = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519'] as const;
type Algorithm = (typeof HMAC)[number] | (typeof ASYMMETRIC)[number];

/** Options of `jwt()`. Exactly one key source: `secret`, `jwks` (local) or `jwksUrl` (remote). */
export interface JwtOptions {
  /** Shared secret for HS256/384/512; at least 32 bytes. */
  secret?: string | Uint8Array;
  /** A public JWK or a local JWKS. */
  jwks?: JWK | JSONWebKeySet;
  /** A remote JWKS URL (cached, refetched when an unknown `kid` appears, after a cooldown). */
  jwksUrl?: string;
  /** Accepted algorithms. Required: no default, `none` never, HMAC and public-key algorithms never mixed. */
  algorithms: readonly Algorithm[];
  /** Accepted `iss` value(s). Required. */
  issuer: string | readonly string[];
  /** Accepted `aud` value(s). Required. */
  audience: string | readonly string[];
  /** Required `typ` header, e.g. `at+jwt` (RFC 9068). */
  typ?: string;
  /**
   * Accept tokens without `exp`. Tokens that never expire cannot be revoked by time; opt in loudly.
   * @default false
   */
  dangerouslyAllowMissingExp?: boolean;
  /** Allowed clock skew in seconds. @default 5 */
  clockTolerance?: number;
  /** Reject tokens whose `iat` is older than this many seconds (requires `iat`). */
  maxTokenAge?: number;
  /** Longest total lifetime (`exp - iat`) in seconds. @default 86400 */
  maxLifetime?: number;
  /** Claims that must be present. */
  requiredClaims?: readonly string[];
  /** Where roles are read, a dotted path (`realm_access.roles`). @default 'roles' */
  rolesClaim?: string;
  /** Where scopes are read: a space-delimited string (`scope`) or an array (`scp`). @default 'scope' */
  scopesClaim?: string;
  /** Require multi-factor authentication: an `amr` value from the list, or `acr` from the list. */
  requireMfa?: boolean | { amr?: readonly string[]; acr?: readonly string[] };
  /** Longest token accepted, in bytes, checked before anything is decoded. @default 8192 */
  maxTokenBytes?: number;
  /** Verified tokens remembered (LRU) until their `exp`; 0 turns the cache off. @default 10000 */
  cacheSize?: number;
  /** `realm` in `WWW-Authenticate`. @default 'api' */
  realm?: string;
  /** Remote JWKS fetch timeout in ms. @default 5000 */
  jwksTimeoutMs?: number;
  /**
   * DPoP (RFC 9449): `'required'` accepts only `Authorization: DPoP <token>` with a proof from the
   * key the token is bound to (`cnf.jkt`); `'allowed'` also accepts bearer tokens that are bound to
   * no key. Or `{ mode, algorithms, maxAge, clockTolerance, nonce }`. Unset, a token bound to a key
   * is refused: it is only good with a proof.
   */
  dpop?: DpopSetting;
}

/** Every option `jwt()` knows: the `satisfies` keeps the list in step with `JwtOptions`. */
const JWT_OPTIONS: ReadonlySet<string> = new Set(
  Object.keys({
    secret: 0, jwks: 0, jwksUrl: 0, algorithms: 0, issuer: 0, audience: 0, typ: 0, dangerouslyAllowMissingExp: 0, clockTolerance: 0, maxTokenAge: 0,
    maxLifetime: 0, requiredClaims: 0, rolesClaim: 0, scopesClaim: 0, requireMfa: 0, maxTokenBytes: 0, cacheSize: 0, realm: 0, jwksTimeoutMs: 0, dpop: 0,
  } satisfies Record<keyof JwtOptions, 0>),
);

const DEFAULT_MFA_AMR = ['mfa', 'otp', 'hwk', 'swk', 'sms', 'fpt', 'face', 'iris', 'retina', 'vbm'];

interface CachedToken {
  principal: Omit<Principal, 'method'>;
  exp: number | undefined;
  nbf: number | undefined;
  iat: number | undefined;
  /** For remote key sets: when the key set that verified it was fetched. */
  keysFetchedAt: number | undefined;
}

/** JWTs in compact form: three base64url parts, nothing else (no padding, no spaces). */
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

/**
 * Bearer JWT authentication.
 *
 * @example
 * ```ts
 * const user = jwt({
 *   jwksUrl: 'https://id.example.com/.well-known/jwks.json',
 *   algorithms: ['ES256'],
 *   issuer: 'https://id.example.com',
 *   audience: 'api',
 * });
 * ```
 * @see https://www.rfc-editor.org/rfc/rfc8725 JWT best current practices
 */
export function jwt(options: JwtOptions): AuthnMethod {
  const at = (field: string) => `jwt().${field}`;
  refuseUnknownOptions('jwt()', options, JWT_OPTIONS);
  const algorithms = options.algorithms as readonly string[] | undefined;
  if (!Array.isArray(algorithms) || algorithms.length === 0) policyError(at('algorithms'), 'is required: list the accepted algorithms, e.g. ["ES256"]');
  for (const alg of algorithms) {
    if (![...HMAC, ...ASYMMETRIC].includes(alg as Algorithm)) policyError(at('algorithms'), `"${alg}" is not an accepted algorithm`);
  }
  const hmac = algorithms.filter((alg) => (HMAC as readonly string[]).includes(alg));
  if (hmac.length && hmac.length !== algorithms.length) {
    policyError(at('algorithms'), 'mixes HMAC and public-key algorithms: a public key must never be usable as an HMAC secret');
  }
  const sources = [options.secret, options.jwks, options.jwksUrl].filter((source) => source !== undefined);
  if (sources.length !== 1) {
    const second = (['secret', 'jwks', 'jwksUrl'] as const).filter((key) => options[key] !== undefined)[1] ?? 'secret';
    policyError(at(second), 'give exactly one key source: secret, jwks or jwksUrl');
  }
  if (options.secret !== undefined && !hmac.length) policyError(at('secret'), 'a shared secret needs HMAC algorithms (HS256, HS384, HS512)');
  if (options.secret === undefined && hmac.length) policyError(at('algorithms'), 'HMAC algorithms need a shared secret, not public keys');
  if (!options.issuer || (Array.isArray(options.issuer) && !options.issuer.length)) policyError(at('issuer'), 'is required');
  if (!options.audience || (Array.isArray(options.audience) && !options.audience.length)) policyError(at('audience'), 'is required');
  for (const field of ['clockTolerance', 'maxTokenAge', 'maxLifetime', 'maxTokenBytes', 'cacheSize', 'jwksTimeoutMs'] as const) {
    const value = options[field];
    if (value !== undefined && (!Number.isFinite(value) || value < 0)) policyError(at(field), 'must be a non-negative number');
  }

  let secret: Uint8Array | undefined;
  if (options.secret !== undefined) {
    // A copy: the key is imported from it once, so later changes to the caller's bytes must not count.
    secret = typeof options.secret === 'string' ? new TextEncoder().encode(options.secret) : new Uint8Array(options.secret);
    if (secret.byteLength < 32) policyError(at('secret'), 'is shorter than 32 bytes: an HMAC secret must be at least as long as the hash');
  }

  let getKey: JWTVerifyGetKey | undefined;
  let remote: ReturnType<typeof createRemoteJWKSet> | undefined;
  const keyCache = {} as ExportedJWKSCache;
  let fetcher: FetchLike | undefined;
  let notify: AuthnEnv['log'];
  let localKeys: JSONWebKeySet | undefined;
  if (options.jwks !== undefined) {
    const set: JSONWebKeySet = 'keys' in options.jwks ? (options.jwks as JSONWebKeySet) : { keys: [options.jwks as JWK] };
    localKeys = set;
    // jose passes over a key that cannot verify, and every token signed for it is refused as signed by
    // an unknown key: such a key is a policy mistake, named here.
    for (const [i, key] of set.keys.entries()) {
      const problem = verifyKeyProblem(key, algorithms);
      if (problem) policyError(`${at('jwks')}.keys[${i}]`, `${keyName(key, i)} ${problem}`);
    }
    getKey = createLocalJWKSet(set);
  } else if (options.jwksUrl !== undefined) {
    const url = secureUrl(options.jwksUrl, at('jwksUrl'), 'must be https: keys fetched over plain HTTP can be swapped in transit');
    remote = createRemoteJWKSet(url, {
      timeoutDuration: options.jwksTimeoutMs ?? 5000,
      // jose writes each successful fetch here; a change of `uat` tells the token cache the key set moved.
      [jwksCache]: keyCache,
      // The engine's fetch (tests and Workers supply their own).
      [customFetch]: async (input, init) => {
        let response: Response;
        try {
          response = await (fetcher ?? fetch)(input, init);
        } catch (cause) {
          throw new KeysUnavailable(cause);
        }
        return withoutUnusableKeys(response, url.href, notify);
      },
    });
    getKey = remote;
  }

  const tolerance = options.clockTolerance ?? 5;
  const accepted = [...algorithms];
  const { issuer, audience, typ, maxTokenAge } = options;
  const requiredClaims = [...(options.dangerouslyAllowMissingExp ? [] : ['exp']), 'sub', ...(options.requiredClaims ?? [])];
  /**
   * jose's options for a token verified at `nowMs`: a fresh object literal each call. A spread copy
   * of a prebuilt object (`{ ...prebuilt, currentDate }`) made jwtVerify ~2 µs slower per token.
   */
  const verifyOptionsAt = (nowMs: number): JWTVerifyOptions => ({
    algorithms: accepted,
    issuer: issuer as string | string[],
    audience: audience as string | string[],
    typ,
    clockTolerance: tolerance,
    maxTokenAge,
    requiredClaims,
    currentDate: new Date(nowMs),
  });
  const maxLifetime = options.maxLifetime ?? 86400;
  const maxBytes = options.maxTokenBytes ?? 8192;
  const rolesClaim = options.rolesClaim ?? 'roles';
  const scopesClaim = options.scopesClaim ?? 'scope';
  const rolesPath = rolesClaim.split('.');
  const scopesPath = scopesClaim.split('.');
  const mfa = options.requireMfa === true ? { amr: DEFAULT_MFA_AMR } : options.requireMfa || undefined;
  const cache = new Lru<string, CachedToken>(options.cacheSize ?? 10_000);
  const realm = options.realm ?? 'api';
  const dpop = compileDpop(options.dpop, at('dpop'), realm);

  /**
   * The time checks of a cached token, run on every hit: those jose ran when it verified the token
   * (exp, nbf, maxTokenAge) and the future-iat check made after it, against the clock as it is now.
   */
  function timeProblem(claims: { exp?: number; nbf?: number; iat?: number }, nowSec: number): string | undefined {
    if (claims.exp !== undefined && nowSec - tolerance >= claims.exp) return 'authn.token_expired';
    if (claims.nbf !== undefined && nowSec + tolerance < claims.nbf) return 'authn.token_not_yet_valid';
    if (claims.iat !== undefined && nowSec + tolerance < claims.iat) return 'authn.token_issued_in_future';
    if (maxTokenAge !== undefined && claims.iat !== undefined && nowSec - claims.iat > maxTokenAge + tolerance) {
      return 'authn.token_too_old';
    }
    return undefined;
  }

  /**
   * jose calls this with the protected header it parsed, once the algorithm is allowed and before
   * any key is looked up. Headers that point at keys chosen by the token's author are refused
   * outright: the key must come from the policy, never from the token.
   */
  function keyFor(header: CompactJWSHeaderParameters, token: FlattenedJWSInput) {
    if (hasForbiddenHeader(header)) throw new ForbiddenHeader();
    return secret ? hmacKey(secret, header.alg) : getKey!(header, token);
  }

  /**
   * The shared secret as an HMAC CryptoKey for `alg`, imported once. Given the bytes, jose imports
   * them again on every call (~30 µs); it imports them as this does, and checks the key against
   * the token's algorithm either way.
   */
  const hmacKeys = new Map<string, CryptoKey | Promise<CryptoKey>>();
  function hmacKey(bytes: Uint8Array, alg: string): CryptoKey | Promise<CryptoKey> | Uint8Array {
    const hash = HMAC_HASH.get(alg);
    if (!hash) return bytes;
    let key = hmacKeys.get(alg);
    if (key === undefined) {
      // Extractable, so that the runtime's own crypto (env.crypto) can use it: the bytes are held here anyway.
      const pending = crypto.subtle.importKey('raw', bytes as BufferSource, { name: 'HMAC', hash }, true, ['verify']).then(
        (imported) => {
          hmacKeys.set(alg, imported);
          return imported;
        },
        (error: unknown) => {
          hmacKeys.delete(alg);
          throw error;
        },
      );
      hmacKeys.set(alg, (key = pending));
    }
    return key;
  }

  function cachedStillValid(entry: CachedToken): boolean {
    if (!remote) return true;
    // Never outlive a key's removal or replacement: once the key set was refetched (or went stale),
    // the token is verified again against the keys as they are now.
    return remote.fresh && keyCache.uat === entry.keysFetchedAt;
  }

  /** A token verified before, decided at once (no promise on the hot path); undefined when it must be verified. */
  function fromCache(token: string, env: AuthnEnv): AuthnOutcome | undefined {
    const hit = cache.get(token);
    if (!hit) return undefined;
    if (cachedStillValid(hit)) {
      const problem = timeProblem(hit, Math.floor(env.now() / 1000));
      if (!problem) return { kind: 'success', principal: hit.principal };
      cache.delete(token);
      return { kind: 'failure', reason: problem };
    }
    cache.delete(token);
    return undefined;
  }

  async function verify(token: string, env: AuthnEnv): Promise<AuthnOutcome> {
    return fromCache(token, env) ?? verifyFresh(token, env);
  }

  async function verifyFresh(token: string, env: AuthnEnv): Promise<AuthnOutcome> {
    const nowMs = env.now();
    const nowSec = Math.floor(nowMs / 1000);
    // Only a token that passed these is ever cached: a hit needs no second look.
    if (!isB64Token(token)) return { kind: 'failure', reason: 'authn.invalid_request' };
    if (token.length > maxBytes) return { kind: 'failure', reason: 'authn.token_too_large' };
    if (!COMPACT_JWS.test(token)) return { kind: 'failure', reason: 'authn.malformed_token' };

    fetcher = env.fetch;
    notify = env.log;
    let payload: JWTPayload;
    try {
      // jose checks exp, nbf and (with maxTokenAge) iat against this same instant and tolerance.
      payload = await verifyJwt(token, keyFor, verifyOptionsAt(nowMs), env.crypto);
    } catch (error) {
      // A header that does not parse, or that names its own key, is reported as such whatever
      // else jose found wrong first (an algorithm not allowed, a bad signature...).
      return { kind: 'failure', reason: headerProblem(token) ?? reasonFor(error, nowSec, remote !== undefined) };
    }

    const { exp, nbf, iat } = payload;
    // jose checks that time claims are numbers; a signed `exp: 1e400` parses as Infinity.
    if (!finiteOrAbsent(exp) || !finiteOrAbsent(nbf) || !finiteOrAbsent(iat)) return { kind: 'failure', reason: 'authn.claim_invalid' };
    // The one time check jose leaves out: an iat in the future when no maxTokenAge is set.
    if (maxTokenAge === undefined && iat !== undefined && nowSec + tolerance < iat) {
      return { kind: 'failure', reason: 'authn.token_issued_in_future' };
    }
    // Without iat, the lifetime left is measured from now: a token valid for years is refused either way.
    if (exp !== undefined && exp - (iat ?? nowSec) > maxLifetime) {
      return { kind: 'failure', reason: 'authn.lifetime_too_long' };
    }
    if (typeof payload.sub !== 'string' || payload.sub === '') return { kind: 'failure', reason: 'authn.claim_invalid' };
    if (mfa) {
      const amr = claimList(payload.amr);
      const acr = typeof payload.acr === 'string' ? payload.acr : undefined;
      const ok = (mfa.amr ?? []).some((value) => amr.includes(value)) || (acr !== undefined && (mfa.acr ?? []).includes(acr));
      if (!ok) return { kind: 'failure', reason: 'authn.mfa_required' };
    }

    const principal = {
      id: payload.sub,
      // RFC 9068: a client-credentials token names the client as its own subject. An application
      // acting for itself owns no user's resources, so no `owner` rule may match it.
      ...(payload.client_id === payload.sub && { kind: 'client' as const }),
      roles: claimList(readClaim(payload, rolesPath)),
      scopes: claimList(readClaim(payload, scopesPath)),
      // jose parsed this object for this call alone: frozen as it is, not copied.
      claims: Object.freeze(payload),
    };
    cache.set(token, { principal, exp, nbf, iat, keysFetchedAt: keyCache.uat });
    return { kind: 'success', principal };
  }

  return {
    kind: 'jwt',
    credentialHeader: 'authorization',
    challenge: dpop?.challenge ?? `Bearer realm="${realm}"`,
    meta: Object.freeze({
      algorithms: [...algorithms],
      issuer: options.issuer,
      audience: options.audience,
      keySource: secret ? 'secret' : options.jwksUrl !== undefined ? 'jwksUrl' : 'jwks',
      jwksUrl: options.jwksUrl,
      // Public keys only (private and symmetric ones were refused above): `portcullis probe` signs
      // its HS256 key-confusion tokens with them.
      jwks: localKeys && Object.freeze({ keys: localKeys.keys.map((key) => Object.freeze({ ...key })) }),
      secretBytes: secret?.byteLength,
      typ: options.typ,
      requireExp: !options.dangerouslyAllowMissingExp,
      maxLifetime,
      requireMfa: Boolean(mfa),
      rolesClaim,
      scopesClaim,
      dpop: dpop?.meta,
    }),
    usesReplayCache: dpop !== undefined,
    // Not async: a token seen before is decided without a promise.
    authenticate(request, env, context): AuthnOutcome | Promise<AuthnOutcome> {
      // The token's syntax and size are checked in verify(), on a cache miss.
      if (dpop) return dpop.authenticate(request, env, context, (token) => verify(token, env)).then((outcome) => checkCertificateBinding(outcome, context));
      const extracted = bearerCredential(request.headers);
      if (extracted.kind === 'absent') return { kind: 'absent' };
      if (extracted.kind === 'invalid') return { kind: 'failure', reason: 'authn.invalid_request' };
      // On cache hits too: the certificate is the request's, not the token's.
      const known = fromCache(extracted.token, env);
      if (known) return checkCertificateBinding(refuseBoundBearer(known), context);
      return verifyFresh(extracted.token, env).then((outcome) => checkCertificateBinding(refuseBoundBearer(outcome), context));
    },
  };
}

/**
 * A fetched key set without the keys that cannot verify (private, symmetric, `use` or `key_ops`
 * forbid it), each skipped key reported once per fetch. Anything that is not a 200 JSON key set is
 * handed to jose as it came, to be refused there.
 */
async function withoutUnusableKeys(response: Response, url: string, notify: AuthnEnv['log']): Promise<Response> {
  if (response.status !== 200) return response;
  const text = await response.text();
  // The body is read and written again: its length and encoding are the new body's, not the wire's.
  const headers = new Headers(response.headers);
  headers.delete('content-length');
  headers.delete('content-encoding');
  const rebuilt = (body: string) => new Response(body, { status: response.status, statusText: response.statusText, headers });
  let set: { keys?: unknown };
  try {
    set = JSON.parse(text) as { keys?: unknown };
  } catch {
    return rebuilt(text);
  }
  if (typeof set !== 'object' || set === null || !Array.isArray(set.keys)) return rebuilt(text);
  const keys = set.keys as JWK[];
  const usable = keys.filter((key, i) => {
    const problem = typeof key === 'object' && key !== null ? unusableKeyProblem(key) : 'is not a JSON object';
    if (problem) notify?.({ reason: 'authn.jwks_key_skipped', detail: `${url}: ${keyName(key ?? {}, i)} ${problem}; skipped` });
    return problem === undefined;
  });
  return usable.length === keys.length ? rebuilt(text) : rebuilt(JSON.stringify({ ...set, keys: usable }));
}

const finiteOrAbsent = (value: unknown) => value === undefined || Number.isFinite(value);

const hasForbiddenHeader = (header: object) => 'jku' in header || 'x5u' in header || 'jwk' in header || 'x5c' in header;

/** Thrown from the key lookup: the token names its own key (jku, x5u, jwk, x5c). */
class ForbiddenHeader extends Error {}

/** After jose refused a token: is its header unreadable, or does it name its own key? */
function headerProblem(token: string): string | undefined {
  let header: ReturnType<typeof decodeProtectedHeader>;
  try {
    header = decodeProtectedHeader(token);
  } catch {
    return 'authn.malformed_token';
  }
  return hasForbiddenHeader(header) ? 'authn.forbidden_header' : undefined;
}

/** The remote key set could not be fetched: the token cannot be checked, so it is not accepted. */
class KeysUnavailable extends Error {
  constructor(cause: unknown) {
    super('JWKS fetch failed', { cause });
  }
}

/** Every jose failure is a 401 with a precise reason; nothing becomes a 500. */
function reasonFor(error: unknown, nowSec: number, remoteKeys: boolean): string {
  // jose reports a too-old iat (maxTokenAge) as JWTExpired on the iat claim.
  if (error instanceof errors.JWTExpired) return error.claim === 'iat' ? 'authn.token_too_old' : 'authn.token_expired';
  if (error instanceof errors.JWTClaimValidationFailed) {
    if (error.claim === 'iss') return 'authn.wrong_issuer';
    if (error.claim === 'aud') return 'authn.wrong_audience';
    if (error.claim === 'nbf') return 'authn.token_not_yet_valid';
    if (error.claim === 'iat' && error.reason === 'check_failed') {
      const iat = error.payload.iat;
      return typeof iat === 'number' && iat > nowSec ? 'authn.token_issued_in_future' : 'authn.token_too_old';
    }
    if (error.claim === 'typ') return 'authn.wrong_type';
    return 'authn.claim_invalid';
  }
  if (error instanceof errors.JWSSignatureVerificationFailed) return 'authn.bad_signature';
  if (error instanceof errors.JWKSNoMatchingKey || error instanceof errors.JWKSMultipleMatchingKeys) return 'authn.unknown_key';
  if (error instanceof errors.JOSEAlgNotAllowed) return 'authn.alg_not_allowed';
  if (error instanceof errors.JWKSTimeout || error instanceof errors.JWKSInvalid || error instanceof KeysUnavailable) {
    return 'authn.keys_unavailable';
  }
  // jose's generic error on a remote set: a non-200 answer or a body that is not JSON.
  if (remoteKeys && error instanceof errors.JOSEError && error.code === 'ERR_JOSE_GENERIC') return 'authn.keys_unavailable';
  if (error instanceof errors.JOSEError) return 'authn.invalid_token';
  // jose throws a plain TypeError on key/algorithm confusion (an HS token against a public key),
  // and fetch errors surface as TypeError too: all are "this token is not acceptable".
  return 'authn.invalid_token';
}
