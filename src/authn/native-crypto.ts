/**
 * The runtime's own crypto, offered through the engine's env: a signature check and SHA-256 that
 * answer synchronously, where WebCrypto takes a trip through a thread pool for each. The core
 * never imports it; `nodeCrypto()` from `portcullis/node` is one (Node, Bun and Deno have
 * `node:crypto`), and without one everything runs on WebCrypto.
 * @module
 */

/**
 * Signature checks and hashing by the runtime's own crypto. Every answer is checked against what
 * WebCrypto would say: a method trusts only a `verify` that returns `true`; `false`, `undefined` or
 * an exception sends the token to WebCrypto, whose answer (and reason code) then counts.
 *
 * @example
 * ```ts
 * import { createEngine } from 'portcullis';
 * import { nodeCrypto } from 'portcullis/node';
 * const engine = createEngine(policy, { crypto: nodeCrypto() });
 * ```
 */
export interface NativeCrypto {
  /**
   * Whether `signature` is `alg`'s (a JWS name: `ES256`, `RS256`, `PS256`, `EdDSA`, `HS256`…)
   * signature of `data` by `key`. The caller has checked that `key` is a CryptoKey made for `alg`
   * (algorithm, hash, curve, `verify` usage, RSA modulus). `undefined`: not supported here.
   */
  verify(alg: string, key: CryptoKey, data: Uint8Array, signature: Uint8Array): boolean | undefined;
  /** SHA-256 of `data`, synchronously. */
  sha256(data: Uint8Array): Uint8Array;
}

/** What WebCrypto requires of a CryptoKey to verify each JWS algorithm, as jose checks it. */
const VERIFY_KEYS: ReadonlyMap<string, { type: 'public' | 'secret'; name: string; hash?: string; namedCurve?: string }> = new Map([
  ['HS256', { type: 'secret', name: 'HMAC', hash: 'SHA-256' }],
  ['HS384', { type: 'secret', name: 'HMAC', hash: 'SHA-384' }],
  ['HS512', { type: 'secret', name: 'HMAC', hash: 'SHA-512' }],
  ['RS256', { type: 'public', name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' }],
  ['RS384', { type: 'public', name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-384' }],
  ['RS512', { type: 'public', name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-512' }],
  ['PS256', { type: 'public', name: 'RSA-PSS', hash: 'SHA-256' }],
  ['PS384', { type: 'public', name: 'RSA-PSS', hash: 'SHA-384' }],
  ['PS512', { type: 'public', name: 'RSA-PSS', hash: 'SHA-512' }],
  ['ES256', { type: 'public', name: 'ECDSA', namedCurve: 'P-256' }],
  ['ES384', { type: 'public', name: 'ECDSA', namedCurve: 'P-384' }],
  ['ES512', { type: 'public', name: 'ECDSA', namedCurve: 'P-521' }],
  ['EdDSA', { type: 'public', name: 'Ed25519' }],
  ['Ed25519', { type: 'public', name: 'Ed25519' }],
]);

/**
 * Whether `key` is a CryptoKey that jose would verify an `alg` signature with. A key it would
 * refuse (another curve, a short RSA modulus, an HMAC key for an RSA token) never reaches the
 * runtime's crypto, whose own checks are looser: jose refuses it as before.
 */
export function keyMadeFor(alg: string, key: unknown): key is CryptoKey {
  const wanted = VERIFY_KEYS.get(alg);
  if (!wanted || typeof key !== 'object' || key === null || (key as { [Symbol.toStringTag]?: string })[Symbol.toStringTag] !== 'CryptoKey') return false;
  const { type, algorithm, usages } = key as CryptoKey;
  const shape = algorithm as { name?: string; hash?: { name?: string }; namedCurve?: string; modulusLength?: number };
  if (type !== wanted.type || shape.name !== wanted.name || !usages.includes('verify')) return false;
  if (wanted.hash !== undefined && shape.hash?.name !== wanted.hash) return false;
  if (wanted.namedCurve !== undefined && shape.namedCurve !== wanted.namedCurve) return false;
  return !wanted.name.startsWith('RSA') || (typeof shape.modulusLength === 'number' && shape.modulusLength >= 2048);
}

/** SHA-256 of `data`: the runtime's own when the env offers it, else WebCrypto's. */
export async function sha256(data: Uint8Array, native: NativeCrypto | undefined): Promise<Uint8Array> {
  if (native) return native.sha256(data);
  return new Uint8Array(await crypto.subtle.digest('SHA-256', data as BufferSource));
}
