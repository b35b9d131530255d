/**
 * `jose.jwtVerify` with the signature checked by the runtime's own crypto when the env offers it.
 * jose still parses the token, applies the algorithm allowlist and the header rules, calls the key
 * function and validates the claims; only the one `crypto.subtle.verify` call is replaced.
 * @module
 */

import {
  base64url,
  errors,
  jwtVerify,
  UnsecuredJWT,
  type CompactJWSHeaderParameters,
  type FlattenedJWSInput,
  type JWTPayload,
  type JWTVerifyGetKey,
  type JWTVerifyOptions,
} from 'jose';
import { keyMadeFor, type NativeCrypto } from './native-crypto.ts';

/** The three parts of a compact JWS, as jose accepts them into the signing input (ASCII base64url). */
const B64URL = /^[A-Za-z0-9_-]*$/;

/**
 * Thrown out of the key function when the runtime's crypto verified the signature: jose stops
 * before its own `crypto.subtle.verify`, and the claims are then validated from the same bytes.
 * Not an Error: no stack trace is captured for it.
 */
class NativelyVerified {
  constructor(
    readonly header: CompactJWSHeaderParameters,
    readonly payload: string,
  ) {}
}

/**
 * Verifies `token` as `jwtVerify(token, getKey, options)` does, with the same payload on success
 * and the same error on failure. With `native`, a signature it confirms is not checked again by
 * WebCrypto; anything it does not confirm (a bad signature, a key it cannot use, an exception)
 * goes on through jose's own check, so every refusal is jose's.
 */
export async function verifyJwt(token: string, getKey: JWTVerifyGetKey, options: JWTVerifyOptions, native: NativeCrypto | undefined): Promise<JWTPayload> {
  if (!native) return (await jwtVerify(token, getKey, options)).payload;
  let verified: NativelyVerified;
  try {
    // jose calls the key function once the header parsed and its algorithm is allowed.
    return (await jwtVerify(token, (header, jws) => keyOrVerified(header, jws, getKey, native), options)).payload;
  } catch (error) {
    if (!(error instanceof NativelyVerified)) throw error;
    verified = error;
  }
  try {
    return claimsOf(verified, options);
  } catch (error) {
    // A claim jose refuses is refused alike either way; anything else is left to jose's own path.
    if (error instanceof errors.JWTExpired || error instanceof errors.JWTClaimValidationFailed) throw error;
    return (await jwtVerify(token, getKey, options)).payload;
  }
}

/** The key jose would use; throws NativelyVerified instead when the runtime's crypto confirms the signature with it. */
async function keyOrVerified(header: CompactJWSHeaderParameters, jws: FlattenedJWSInput, getKey: JWTVerifyGetKey, native: NativeCrypto) {
  const key = await getKey(header, jws);
  // A `crit` header (`b64: false` among its uses) changes what is signed: only jose reads it.
  if (header.crit === undefined && nativelyVerified(header.alg, key, jws, native)) throw new NativelyVerified(header, jws.payload as string);
  return key;
}

function nativelyVerified(alg: string, key: unknown, jws: FlattenedJWSInput, native: NativeCrypto): boolean {
  const { protected: encodedHeader, payload, signature } = jws;
  if (!keyMadeFor(alg, key) || typeof encodedHeader !== 'string' || typeof payload !== 'string') return false;
  if (!B64URL.test(encodedHeader) || !B64URL.test(payload) || !B64URL.test(signature)) return false;
  try {
    // Fails closed: only a plain `true` counts; an exception is no answer.
    return native.verify(alg, key, new TextEncoder().encode(`${encodedHeader}.${payload}`), base64url.decode(signature)) === true;
  } catch {
    return false;
  }
}

/**
 * The claims of a token whose signature was verified, validated by jose as `jwtVerify` validates
 * them: the same payload bytes and options, under a header that carries the original's `typ`
 * (the one header member claim validation reads).
 */
function claimsOf({ header, payload }: NativelyVerified, options: JWTVerifyOptions): JWTPayload {
  const unsigned = base64url.encode(JSON.stringify({ alg: 'none', typ: header.typ }));
  return UnsecuredJWT.decode(`${unsigned}.${payload}.`, options).payload;
}
