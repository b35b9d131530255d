/**
 * The test kit: a throwaway signing key the policy under test trusts, a pinned clock, API keys, and
 * a fetch that serves the kit's JWKS.
 * @module
 */

import { exportJWK, generateKeyPair, SignJWT, type JWK } from 'jose';
import { generateApiKey } from '../../src/authn/api-key.ts';
import type { FetchLike } from '../../src/authn/contract.ts';

/** The pinned time of a test kit unless one is given: a fixed instant, so cases never depend on the day they run. */
export const DEFAULT_TEST_TIME = '2030-01-01T00:00:00Z';

/** A throwaway signing key, a pinned clock, and helpers to make credentials. */
export interface TestKit {
  /** The pinned clock, epoch ms. Move it with `advance`. */
  readonly now: () => number;
  advance(ms: number): void;
  /** The public key a test policy trusts (`jwt({ jwks: kit.jwks, … })`). */
  readonly jwks: { keys: JWK[] };
  readonly publicJwk: JWK;
  /** Signs a JWT with the kit's key; `iat`/`exp` come from the pinned clock unless given. */
  sign(claims: Record<string, unknown>, options?: { expiresIn?: number; header?: Record<string, unknown> }): Promise<string>;
  /** A new API key and its SHA-256 hash (for the policy's key map). */
  apiKey(prefix?: string): Promise<{ key: string; hash: string }>;
  /**
   * A fetch that serves the kit's JWKS for every URL in `jwksUrls` and refuses everything else:
   * policies with a remote `jwksUrl` trust the kit's key without any network.
   */
  readonly fetch: FetchLike;
  /** JWKS URLs the kit answers for (added by `runSpec` from the policy's jwt methods). */
  readonly jwksUrls: Set<string>;
}

/** Options of `createTestKit`. */
export interface TestKitOptions {
  /** The pinned time. @default DEFAULT_TEST_TIME */
  now?: string | number | Date;
  /** @default 'ES256' */
  algorithm?: 'ES256' | 'RS256' | 'EdDSA';
}

/**
 * One throwaway key pair per algorithm and process. Kits share it on purpose: a policy object with
 * a remote `jwksUrl` keeps the key set it fetched, so a second spec (or a second run of the same
 * spec) against the same policy object must sign with the same key.
 */
const testKeys = new Map<string, Promise<{ pair: CryptoKeyPair; publicJwk: JWK }>>();

function testKey(algorithm: string) {
  let key = testKeys.get(algorithm);
  if (!key) {
    key = (async () => {
      const pair = await generateKeyPair(algorithm, { extractable: true });
      const publicJwk: JWK = { ...(await exportJWK(pair.publicKey)), kid: `portcullis-test-${algorithm.toLowerCase()}`, alg: algorithm, use: 'sig' };
      return { pair, publicJwk };
    })();
    testKeys.set(algorithm, key);
  }
  return key;
}

/** Makes a test kit: the process's throwaway key for the algorithm, a pinned clock. */
export async function createTestKit(options: TestKitOptions = {}): Promise<TestKit> {
  const algorithm = options.algorithm ?? 'ES256';
  const { pair, publicJwk } = await testKey(algorithm);
  const jwks = { keys: [publicJwk] };
  let time = new Date(options.now ?? DEFAULT_TEST_TIME).getTime();
  if (Number.isNaN(time)) throw new TypeError(`createTestKit: "${String(options.now)}" is not a time`);
  const jwksUrls = new Set<string>();
  return {
    now: () => time,
    advance: (ms) => void (time += ms),
    jwks,
    publicJwk,
    jwksUrls,
    async sign(claims, signOptions = {}) {
      const iat = typeof claims.iat === 'number' ? claims.iat : Math.floor(time / 1000);
      const payload = { iat, exp: iat + (signOptions.expiresIn ?? 300), ...claims };
      return new SignJWT(payload)
        .setProtectedHeader({ alg: algorithm, kid: publicJwk.kid!, typ: 'JWT', ...signOptions.header })
        .sign(pair.privateKey);
    },
    apiKey: (prefix = 'pk_test_') => generateApiKey(prefix),
    async fetch(input) {
      const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
      if (jwksUrls.has(url)) return Response.json(jwks);
      return new Response('the test kit answers only for JWKS URLs', { status: 599 });
    },
  };
}
