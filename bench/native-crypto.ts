/**
 * The runtime's own crypto against WebCrypto, on whichever runtime runs this file (Node, Bun,
 * Deno): a new token's verification as `jwt()` does it (`verifyJwt`: jose, with and without
 * `nodeCrypto()`) for ES256, RS256, EdDSA and HS256, and the SHA-256 of an API key. Median µs per
 * call over timed batches, one call at a time. The adapters turn native crypto on by default only
 * where it measured faster.
 *   node --import tsx bench/native-crypto.ts
 *   bun bench/native-crypto.ts
 *   deno run -A bench/native-crypto.ts
 * Prints one JSON line: `{ runtime, ES256: { webcrypto_us, native_us }, …, sha256: { … } }`.
 * @module
 */

import { createLocalJWKSet, exportJWK, generateKeyPair, SignJWT, type JWTVerifyGetKey } from 'jose';
import { nodeCrypto } from '../adapters/node-crypto.ts';
import { sha256Hex } from '../src/authn/hash.ts';
import { verifyJwt } from '../src/authn/jwt-verify.ts';
import type { NativeCrypto } from '../src/index.ts';

const BATCHES = 21;
const BATCH = 100;
const ISSUER = 'https://id.example';
const AUDIENCE = 'api';

const median = (samples: number[]) => Number([...samples].sort((a, b) => a - b)[Math.floor(samples.length / 2)]!.toFixed(1));

/** Median µs per call of each way, their timed batches taken in turn so that noise on the machine falls on both. */
async function inTurn(webcrypto: () => Promise<number>, native: () => Promise<number>): Promise<{ webcrypto_us: number; native_us: number }> {
  await webcrypto();
  await native();
  const samples: [number[], number[]] = [[], []];
  for (let i = 0; i < BATCHES; i++) {
    samples[0].push(await webcrypto());
    samples[1].push(await native());
  }
  return { webcrypto_us: median(samples[0]), native_us: median(samples[1]) };
}

/** µs per verification of `BATCH` fresh tokens. */
async function verification(alg: string): Promise<{ webcrypto_us: number; native_us: number }> {
  const secret = crypto.getRandomValues(new Uint8Array(32));
  let signingKey: CryptoKey | Uint8Array = secret;
  let getKey: JWTVerifyGetKey;
  if (alg === 'HS256') {
    const key = await crypto.subtle.importKey('raw', secret, { name: 'HMAC', hash: 'SHA-256' }, true, ['verify']);
    getKey = () => key;
  } else {
    const pair = await generateKeyPair(alg, { extractable: true, ...(alg === 'EdDSA' && { crv: 'Ed25519' }) });
    signingKey = pair.privateKey;
    getKey = createLocalJWKSet({ keys: [{ ...(await exportJWK(pair.publicKey)), alg, kid: 'k1' }] });
  }
  let n = 0;
  const tokens = async () => {
    const made: string[] = [];
    for (let i = 0; i < BATCH; i++) {
      made.push(
        await new SignJWT({ sub: `user_${n++}` })
          .setProtectedHeader({ alg, kid: 'k1' })
          .setIssuer(ISSUER)
          .setAudience(AUDIENCE)
          .setIssuedAt()
          .setExpirationTime('10m')
          .sign(signingKey),
      );
    }
    return made;
  };
  const options = () => ({ algorithms: [alg], issuer: ISSUER, audience: AUDIENCE, requiredClaims: ['exp', 'sub'], currentDate: new Date() });
  const timed = (native: NativeCrypto | undefined) => async () => {
    const batch = await tokens();
    const start = performance.now();
    for (const token of batch) await verifyJwt(token, getKey, options(), native);
    return ((performance.now() - start) * 1000) / BATCH;
  };
  return inTurn(timed(undefined), timed(nodeCrypto()));
}

async function hashing(): Promise<{ webcrypto_us: number; native_us: number }> {
  const keys = Array.from({ length: BATCH }, (_, i) => `pk_live_${i.toString(36).padStart(32, '0')}`);
  const timed = (native: NativeCrypto | undefined) => async () => {
    const start = performance.now();
    for (const key of keys) await sha256Hex(key, native);
    return ((performance.now() - start) * 1000) / BATCH;
  };
  return inTurn(timed(undefined), timed(nodeCrypto()));
}

const runtime = 'Bun' in globalThis ? 'bun' : 'Deno' in globalThis ? 'deno' : 'node';
const results: Record<string, unknown> = { runtime };
for (const alg of ['ES256', 'RS256', 'EdDSA', 'HS256']) results[alg] = await verification(alg);
results.sha256 = await hashing();
console.log(JSON.stringify(results));
