/**
 * Signature-verification keys as JWKs: which members a public key keeps, and why a key cannot
 * verify the tokens a policy accepts.
 * @module
 */

import type { JWK } from 'jose';

/** The public members of each key type (RFC 7518 §6, RFC 8037 §2). */
const PUBLIC_MEMBERS: Readonly<Record<string, readonly string[]>> = {
  EC: ['kty', 'crv', 'x', 'y'],
  RSA: ['kty', 'n', 'e'],
  OKP: ['kty', 'crv', 'x'],
};

/** Members only a private key has (EC/OKP `d`; RSA `d`, `p`, `q`, `dp`, `dq`, `qi`, `oth`). */
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth'];

/** The key type (and curve) each algorithm verifies with. */
const KEY_FOR_ALGORITHM: Readonly<Record<string, { kty: string; crv?: readonly string[] }>> = {
  RS256: { kty: 'RSA' }, RS384: { kty: 'RSA' }, RS512: { kty: 'RSA' },
  PS256: { kty: 'RSA' }, PS384: { kty: 'RSA' }, PS512: { kty: 'RSA' },
  ES256: { kty: 'EC', crv: ['P-256'] }, ES384: { kty: 'EC', crv: ['P-384'] }, ES512: { kty: 'EC', crv: ['P-521'] },
  EdDSA: { kty: 'OKP', crv: ['Ed25519', 'Ed448'] }, Ed25519: { kty: 'OKP', crv: ['Ed25519'] },
};

/**
 * The public half of a signing key, for a JWKS: the key type's public members, `kid`, `alg` and
 * `use: "sig"` — nothing else. A key exported by WebCrypto carries `key_ops: ["sign"]` and `ext`;
 * copied into a JWKS, `key_ops` tells every verifier the key must not verify.
 *
 * @example
 * ```ts
 * const privateJwk = await crypto.subtle.exportKey('jwk', pair.privateKey);
 * const jwks = { keys: [publicJwk(privateJwk, { kid: 'k1', alg: 'ES256' })] };
 * ```
 */
export function publicJwk(jwk: JWK, extra: { kid?: string; alg?: string } = {}): JWK {
  const members = jwk.kty === undefined ? undefined : PUBLIC_MEMBERS[jwk.kty];
  if (!members) throw new TypeError(`publicJwk: a ${String(jwk.kty)} key has no public half (EC, RSA and OKP keys do)`);
  const source = jwk as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const member of members) if (source[member] !== undefined) out[member] = source[member];
  const kid = extra.kid ?? jwk.kid;
  const alg = extra.alg ?? jwk.alg;
  return { ...out, ...(kid !== undefined && { kid }), ...(alg !== undefined && { alg }), use: 'sig' } as JWK;
}

/**
 * Why a key cannot verify any signature at all, or undefined: it is private or symmetric, or its
 * `use` or `key_ops` forbid verification. jose would skip it silently, and every token signed for
 * it would be refused as signed by an unknown key.
 */
export function unusableKeyProblem(key: JWK): string | undefined {
  if (key.kty === 'oct' || 'k' in key) return 'is a symmetric key: give public keys only';
  const secret = PRIVATE_MEMBERS.filter((member) => member in key);
  if (secret.length) return `holds private members (${secret.join(', ')}): give the public key only`;
  if (key.use !== undefined && key.use !== 'sig') return `has use "${String(key.use)}": only "sig" keys verify signatures`;
  if (key.key_ops !== undefined && !(Array.isArray(key.key_ops) && key.key_ops.includes('verify'))) {
    return `has key_ops ${JSON.stringify(key.key_ops)} without "verify"`;
  }
  return undefined;
}

/** Why a local key cannot verify tokens of these algorithms, or undefined when it can. */
export function verifyKeyProblem(key: JWK, algorithms: readonly string[]): string | undefined {
  const unusable = unusableKeyProblem(key);
  if (unusable) return unusable;
  if (key.alg !== undefined && !algorithms.includes(key.alg)) return `has alg "${key.alg}", which is not among the accepted algorithms (${algorithms.join(', ')})`;
  const fits = algorithms.some((alg) => {
    const wanted = KEY_FOR_ALGORITHM[alg];
    return wanted !== undefined && wanted.kty === key.kty && (wanted.crv === undefined || wanted.crv.includes(String(key.crv)));
  });
  if (!fits) return `is a ${String(key.kty)}${key.crv ? ` ${String(key.crv)}` : ''} key, which none of ${algorithms.join(', ')} verifies with`;
  return undefined;
}

/** How a key is named in messages: its `kid`, and where it stands in the set. */
export const keyName = (key: JWK, index: number) => (typeof key.kid === 'string' ? `key "${key.kid}" (keys[${index}])` : `keys[${index}]`);
