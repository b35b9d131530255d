/**
 * `nodeCrypto()`: the engine's native crypto (`EngineEnv.crypto`) on `node:crypto`, which Node,
 * Bun and Deno all have. Its calls answer at once, where each WebCrypto call is a trip through a
 * thread pool and back.
 * @module
 */

import { constants, createHash, createHmac, KeyObject, timingSafeEqual, verify } from 'node:crypto';
import type { NativeCrypto } from '../src/index.ts';

type Check = { hmac: string } | { hash: string | null; options?: { dsaEncoding?: 'ieee-p1363'; padding?: number; saltLength?: number } };

const pss = (saltLength: number) => ({ padding: constants.RSA_PKCS1_PSS_PADDING, saltLength });
const p1363 = { dsaEncoding: 'ieee-p1363' } as const;

/** How `node:crypto` checks each JWS algorithm: JOSE's ECDSA signatures are r‖s (IEEE P1363), not DER. */
const CHECKS: ReadonlyMap<string, Check> = new Map<string, Check>([
  ['HS256', { hmac: 'sha256' }],
  ['HS384', { hmac: 'sha384' }],
  ['HS512', { hmac: 'sha512' }],
  ['RS256', { hash: 'sha256' }],
  ['RS384', { hash: 'sha384' }],
  ['RS512', { hash: 'sha512' }],
  ['PS256', { hash: 'sha256', options: pss(32) }],
  ['PS384', { hash: 'sha384', options: pss(48) }],
  ['PS512', { hash: 'sha512', options: pss(64) }],
  ['ES256', { hash: 'sha256', options: p1363 }],
  ['ES384', { hash: 'sha384', options: p1363 }],
  ['ES512', { hash: 'sha512', options: p1363 }],
  ['EdDSA', { hash: null }],
  ['Ed25519', { hash: null }],
]);

const HMAC_ALGORITHMS = ['HS256', 'HS384', 'HS512'];

/**
 * What `serve()` and the Bun and Deno `guard()` pass by default: SHA-256 (API keys, token hashes)
 * and HMAC checks, which `node:crypto` finishes in a few µs on the request's own thread. Public-key
 * signatures (30–80 µs each) stay with WebCrypto, whose thread pool checks them beside the event
 * loop: measured with a new ES256 token on every request against one Node 20 server process on two
 * cores, checking them inline answered fewer requests per second, at more CPU per request.
 */
export function adapterCrypto(): NativeCrypto {
  return nodeCrypto({ algorithms: HMAC_ALGORITHMS });
}

/** Options of `nodeCrypto()`. */
export interface NodeCryptoOptions {
  /**
   * The JWS algorithms `node:crypto` checks; tokens of the others are left to WebCrypto. On Deno
   * leave out ES256/384/512: its `node:crypto` took twice WebCrypto's time for them.
   * @default every one it knows: HS256/384/512, RS256/384/512, PS256/384/512, ES256/384/512, EdDSA, Ed25519
   */
  algorithms?: readonly string[];
}

/**
 * Signature checks and SHA-256 by `node:crypto`, for `createEngine(policy, { crypto })` or the
 * adapters' `env`. Each check runs on the calling thread: one process verifies a new token with
 * less CPU, but no longer beside its event loop (see `adapterCrypto`, the adapters' default, which
 * checks only SHA-256 and HMAC this way). Worth it where every core already runs a server process.
 * Keys that cannot be exported (`extractable: false`) are left to WebCrypto: recent Node versions
 * refuse to turn them into a `KeyObject`.
 *
 * @example
 * ```ts
 * import { createEngine } from 'portcullis';
 * import { nodeCrypto } from 'portcullis/node';
 * const engine = createEngine(policy, { crypto: nodeCrypto() });
 * ```
 */
export function nodeCrypto(options: NodeCryptoOptions = {}): NativeCrypto {
  const algorithms = new Set(options.algorithms ?? CHECKS.keys());
  // One KeyObject per CryptoKey (null: not exportable), made on its first use.
  const keyObjects = new WeakMap<CryptoKey, KeyObject | null>();
  function keyObjectOf(key: CryptoKey): KeyObject | null {
    let object = keyObjects.get(key);
    if (object === undefined) keyObjects.set(key, (object = key.extractable ? KeyObject.from(key) : null));
    return object;
  }
  return {
    verify(alg, key, data, signature) {
      const check = algorithms.has(alg) ? CHECKS.get(alg) : undefined;
      if (!check) return undefined;
      const keyObject = keyObjectOf(key);
      if (!keyObject) return undefined;
      if ('hmac' in check) {
        const mac = createHmac(check.hmac, keyObject).update(data).digest();
        // timingSafeEqual compares in constant time; it throws on a length mismatch, which is no match.
        return mac.byteLength === signature.byteLength && timingSafeEqual(mac, signature);
      }
      return verify(check.hash, data, check.options ? { key: keyObject, ...check.options } : keyObject, signature);
    },
    sha256(data) {
      return createHash('sha256').update(data).digest();
    },
  };
}
