/**
 * HTTP Message Signatures (RFC 9421) on requests, with `Content-Digest` (RFC 9530) for the body:
 * `Signature-Input` and `Signature` parsed as Structured Fields (RFC 8941), the signature base
 * rebuilt from the request as the gateway sees it, and the signature checked with WebCrypto.
 * @module
 */

import { createRemoteJWKSet, customFetch, errors, type JWK } from 'jose';
import { parseDictionary, type Dictionary, type InnerList } from 'structured-headers';
import { policyError } from '../errors.ts';
import { hexOf } from '../hex.ts';
import { checkContentDigest, type DigestAlgorithm } from './content-digest.ts';
import type { FetchLike } from './contract.ts';
import { publicJwk, verifyKeyProblem } from './jwk.ts';
import { secureUrl } from './secure-url.ts';
import { signatureBase, type SignedTarget } from './signature-base.ts';
import type { SignatureCheck, SignatureVerifier, SignerRecord } from './signature-check.ts';

/** The RFC 9421 algorithms the gateway verifies (§3.3). */
export const HTTP_SIGNATURE_ALGORITHMS = ['ed25519', 'ecdsa-p256-sha256', 'rsa-pss-sha512', 'hmac-sha256'] as const;
export type HttpSignatureAlgorithm = (typeof HTTP_SIGNATURE_ALGORITHMS)[number];

/** A key a caller signs with, by its `keyid`. */
export interface HttpSignatureKey {
  algorithm: HttpSignatureAlgorithm;
  /** The public JWK (ed25519: OKP Ed25519; ecdsa: EC P-256; rsa-pss: RSA), or for hmac-sha256 an `oct` JWK of at least 32 bytes. */
  key: JWK;
  /** The principal id of requests signed with this key. @default the keyid */
  principal?: string;
  roles?: readonly string[];
  scopes?: readonly string[];
}

/** The RFC 9421 part of `signature()`, as compiled. */
export interface HttpSchemeOptions {
  keys: Readonly<Record<string, HttpSignatureKey>> | undefined;
  jwksUrl: string | undefined;
  /** With `jwksUrl`: the algorithms its keys may sign with, and who they stand for. */
  algorithms: readonly HttpSignatureAlgorithm[];
  jwksSigner: Omit<SignerRecord, 'principal'> & { principal?: string };
  components: readonly string[];
  /** Seconds a signature is accepted after its `created`. */
  maxAge: number;
  /** Seconds of clock skew allowed for `created` in the future. */
  clockSkew: number;
  digest: readonly DigestAlgorithm[];
  label: string | undefined;
  at: string;
  fetch: () => FetchLike;
}

/** How WebCrypto imports and verifies each algorithm, and the JWS name a JWKS key has for it. */
type ImportAlgorithm = Parameters<SubtleCrypto['importKey']>[2];
type VerifyAlgorithm = Parameters<SubtleCrypto['verify']>[0];
const WEBCRYPTO: Record<HttpSignatureAlgorithm, { importAs: ImportAlgorithm; verifyAs: VerifyAlgorithm; jws: string }> = {
  ed25519: { importAs: { name: 'Ed25519' }, verifyAs: { name: 'Ed25519' }, jws: 'EdDSA' },
  'ecdsa-p256-sha256': { importAs: { name: 'ECDSA', namedCurve: 'P-256' }, verifyAs: { name: 'ECDSA', hash: 'SHA-256' }, jws: 'ES256' },
  // The RFC fixes the salt at 64 bytes, the length of a SHA-512 hash (§3.3.1).
  'rsa-pss-sha512': { importAs: { name: 'RSA-PSS', hash: 'SHA-512' }, verifyAs: { name: 'RSA-PSS', saltLength: 64 }, jws: 'PS512' },
  'hmac-sha256': { importAs: { name: 'HMAC', hash: 'SHA-256' }, verifyAs: { name: 'HMAC' }, jws: 'HS256' },
};

/** Most signatures one request may carry: each costs a verification. */
const MAX_LABELS = 4;
const MIN_HMAC_BYTES = 32;

interface ResolvedKey {
  algorithm: HttpSignatureAlgorithm;
  key: CryptoKey;
  signer: SignerRecord;
}

/** Checks a static key and imports it (once, lazily awaited). */
function importStaticKey(keyid: string, entry: HttpSignatureKey, at: string): Promise<CryptoKey> {
  const path = `${at}.keys[${JSON.stringify(keyid)}]`;
  if (!HTTP_SIGNATURE_ALGORITHMS.includes(entry.algorithm)) policyError(`${path}.algorithm`, `must be one of ${HTTP_SIGNATURE_ALGORITHMS.join(', ')}`);
  let jwk: JWK;
  if (entry.algorithm === 'hmac-sha256') {
    const bytes = entry.key.kty === 'oct' && typeof entry.key.k === 'string' ? base64UrlLength(entry.key.k) : 0;
    if (bytes < MIN_HMAC_BYTES) policyError(`${path}.key`, `must be an oct JWK of at least ${MIN_HMAC_BYTES} bytes`);
    jwk = { kty: 'oct', k: entry.key.k };
  } else {
    const problem = verifyKeyProblem({ ...entry.key, alg: undefined }, [WEBCRYPTO[entry.algorithm].jws]);
    if (problem) policyError(`${path}.key`, problem);
    jwk = publicJwk(entry.key);
    delete jwk.use;
    delete jwk.kid;
  }
  const imported = crypto.subtle.importKey('jwk', jwk as JsonWebKey, WEBCRYPTO[entry.algorithm].importAs, false, ['verify']);
  imported.catch(() => {});
  return imported;
}

/** Bytes a base64url string decodes to (without decoding it). */
function base64UrlLength(text: string): number {
  return /^[A-Za-z0-9_-]*$/.test(text) ? Math.floor((text.length * 3) / 4) : 0;
}

/** Looks a `keyid` up: in the static map, or in the JWKS for one of the accepted algorithms. */
function keyResolver(options: HttpSchemeOptions): (keyid: string, alg: string | undefined) => Promise<ResolvedKey | 'authn.unknown_key' | 'authn.alg_not_allowed' | 'authn.keys_unavailable'> {
  const { keys, jwksUrl, algorithms, at } = options;
  if ((keys === undefined) === (jwksUrl === undefined)) policyError(`${at}.keys`, 'give exactly one of keys or jwksUrl');
  if (keys) {
    const imported = new Map(Object.entries(keys).map(([keyid, entry]) => [keyid, { entry, key: importStaticKey(keyid, entry, at) }]));
    return async (keyid, alg) => {
      const found = imported.get(keyid);
      if (!found) return 'authn.unknown_key';
      // The key decides the algorithm; an `alg` parameter may only repeat it (§3.2 step 5).
      if (alg !== undefined && alg !== found.entry.algorithm) return 'authn.alg_not_allowed';
      const { principal = keyid, roles, scopes } = found.entry;
      return { algorithm: found.entry.algorithm, key: await found.key, signer: { principal, roles, scopes } };
    };
  }
  if (!algorithms.length) policyError(`${at}.algorithms`, 'name the algorithms the JWKS keys sign with');
  for (const algorithm of algorithms) {
    if (!HTTP_SIGNATURE_ALGORITHMS.includes(algorithm)) policyError(`${at}.algorithms`, `must be among ${HTTP_SIGNATURE_ALGORITHMS.join(', ')}`);
    if (algorithm === 'hmac-sha256') policyError(`${at}.algorithms`, 'hmac-sha256 needs a shared secret, which a JWKS does not publish: give it in keys');
  }
  const url = secureUrl(jwksUrl!, `${at}.jwksUrl`, 'must be https: keys fetched over plain HTTP can be swapped in transit');
  const remote = createRemoteJWKSet(url, { [customFetch]: (input, init) => options.fetch()(input, init) });
  return async (keyid, alg) => {
    const candidates = alg === undefined ? algorithms : algorithms.filter((algorithm) => algorithm === alg);
    if (!candidates.length) return 'authn.alg_not_allowed';
    for (const algorithm of candidates) {
      try {
        const key = await remote({ alg: WEBCRYPTO[algorithm].jws, kid: keyid }, { payload: '', signature: '' });
        const { principal = keyid, roles, scopes } = options.jwksSigner;
        return { algorithm, key: key as CryptoKey, signer: { principal, roles, scopes } };
      } catch (error) {
        if (error instanceof errors.JWKSNoMatchingKey || error instanceof errors.JWKSMultipleMatchingKeys) continue;
        return 'authn.keys_unavailable';
      }
    }
    return 'authn.unknown_key';
  };
}

/** Components that sign the query with the rest of the target. */
const QUERY_COVERING = ['@target-uri', '@request-target', '@query'];

/**
 * Whether a signature covers the body: `content-digest` whole, or its member (`;key=`) of an
 * algorithm the gateway checks. A member it does not check says nothing of the body beside it.
 */
function coversBody(input: InnerList, digest: readonly DigestAlgorithm[]): boolean {
  return input[0].some(([name, params]) => name === 'content-digest' && (!params.has('key') || digest.includes(params.get('key') as DigestAlgorithm)));
}

/** Whether the covered components include what the policy demands; the first one missing otherwise. */
function missingCoverage(covered: readonly string[], required: readonly string[], request: { hasBody: boolean; coversBody: boolean; hasQuery: boolean }): string | undefined {
  const set = new Set(covered);
  for (const name of required) if (!set.has(name)) return name;
  // A body not covered through its digest could be swapped under a valid signature.
  if (request.hasBody && !request.coversBody) return 'content-digest';
  // `@path` leaves the query out (§2.2.6): a policy that asks for the path asks for the target, and
  // a query the signature does not cover could be rewritten under it (`?dry_run=true` to `false`).
  if (request.hasQuery && required.includes('@path') && !QUERY_COVERING.some((name) => set.has(name))) return '@query';
  return undefined;
}

function parseFields(request: Request): { input: Dictionary; signatures: Dictionary } | undefined {
  try {
    return { input: parseDictionary(request.headers.get('signature-input')!), signatures: parseDictionary(request.headers.get('signature')!) };
  } catch {
    return undefined;
  }
}

/** The RFC 9421 verifier of `signature({ scheme: 'http-message-signatures' })`. */
export function httpMessageVerifier(options: HttpSchemeOptions): SignatureVerifier {
  const resolve = keyResolver(options);
  const { components, maxAge, clockSkew, digest, label } = options;

  async function checkOne(request: Request, target: SignedTarget, body: Uint8Array<ArrayBuffer>, nowMs: number, input: InnerList, signature: ArrayBuffer): Promise<SignatureCheck> {
    const params = input[1];
    const keyid = params.get('keyid');
    const alg = params.get('alg');
    const created = params.get('created');
    const expires = params.get('expires');
    if (typeof keyid !== 'string' || (alg !== undefined && typeof alg !== 'string')) return { kind: 'failure', reason: 'authn.signature_malformed' };
    if (!Number.isInteger(created) || (expires !== undefined && !Number.isInteger(expires))) return { kind: 'failure', reason: 'authn.signature_malformed' };
    const now = nowMs / 1000;
    if ((created as number) > now + clockSkew || now - (created as number) > maxAge) return { kind: 'failure', reason: 'authn.signature_stale' };
    if (expires !== undefined && (expires as number) <= now) return { kind: 'failure', reason: 'authn.signature_stale' };

    const base = signatureBase(request, target, input);
    if (!base.ok) return { kind: 'failure', reason: base.reason };
    if (missingCoverage(base.covered, components, { hasBody: body.byteLength > 0, coversBody: coversBody(input, digest), hasQuery: target.url.search !== '' }) !== undefined) return { kind: 'failure', reason: 'authn.signature_coverage' };
    if (body.byteLength > 0 || base.covered.includes('content-digest')) {
      const digested = await checkContentDigest(request.headers.get('content-digest'), body, digest);
      if (digested !== 'ok') return { kind: 'failure', reason: digested };
    }

    const resolved = await resolve(keyid, alg as string | undefined);
    if (typeof resolved === 'string') return { kind: 'failure', reason: resolved };
    const signed = new TextEncoder().encode(base.base);
    const valid = await crypto.subtle.verify(WEBCRYPTO[resolved.algorithm].verifyAs, resolved.key, signature, signed);
    if (!valid) return { kind: 'failure', reason: 'authn.bad_signature' };
    // A replay repeats what was signed, not necessarily the signature's bytes: an ECDSA signature
    // (r, s) has a twin (r, n − s) that anyone can compute and that verifies as well.
    const fingerprint = hexOf(new Uint8Array(await crypto.subtle.digest('SHA-256', signed)));
    // Refused until the signature itself would be: a far `expires` does not outlast `maxAge`.
    const lastValid = Math.min((expires as number | undefined) ?? Infinity, (created as number) + maxAge);
    return {
      kind: 'verified',
      signer: resolved.signer,
      replay: { key: `http-signature:${keyid}:${fingerprint}`, expiresAt: (lastValid + clockSkew) * 1000 },
      claims: Object.freeze({ scheme: 'http-message-signatures', keyid, algorithm: resolved.algorithm, covered: Object.freeze(base.covered) }),
    };
  }

  return async function verifyHttpMessageSignature(request, body, nowMs, target) {
    const hasInput = request.headers.has('signature-input');
    const hasSignature = request.headers.has('signature');
    if (!hasInput && !hasSignature) return { kind: 'absent' };
    const fields = hasInput && hasSignature ? parseFields(request) : undefined;
    if (!fields || fields.input.size > MAX_LABELS) return { kind: 'failure', reason: 'authn.signature_malformed' };
    // Behind a proxy that ends TLS, `request.url` is the proxy's plain-HTTP leg; the client signed
    // the https URL it used, which the engine takes from a trusted proxy only.
    const url = new URL(target?.url ?? request.url);
    const method = target?.method ?? request.method;
    const bytes = body as Uint8Array<ArrayBuffer>;
    let failure: SignatureCheck | undefined;
    for (const [name, member] of fields.input) {
      if (label !== undefined && name !== label) continue;
      const signature = fields.signatures.get(name);
      if (!Array.isArray(member[0]) || !signature || !(signature[0] instanceof ArrayBuffer)) {
        failure ??= { kind: 'failure', reason: 'authn.signature_malformed' };
        continue;
      }
      const outcome = await checkOne(request, { method, url }, bytes, nowMs, member as InnerList, signature[0]);
      if (outcome.kind === 'verified') return outcome;
      failure ??= outcome;
    }
    // Signed, but not under the label the policy names: as good as unsigned for this policy.
    return failure ?? { kind: 'failure', reason: 'authn.signature_coverage' };
  };
}

