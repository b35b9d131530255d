/**
 * The JWT attack corpus: tokens a gateway must refuse. Honest signatures come from jose; the
 * tokens no honest library would make (`alg: none`, an HMAC keyed with a public key, a payload
 * changed after signing) are assembled from jose's base64url.
 * @module
 */

import { base64url, decodeJwt, decodeProtectedHeader, exportJWK, exportSPKI, generateKeyPair, importJWK, SignJWT, type JWK, type JWTPayload } from 'jose';
import { CHECKS, type ProbeCheck } from './checks.ts';

/** One forged token and the check it belongs to. */
export interface AttackToken {
  check: ProbeCheck;
  /** What the token is, for the report (`alg "none"`, `HS256 keyed with the PEM of key es256-1`). */
  label: string;
  token: string;
}

/** A key the deployment trusts, given to the probe (`--signing-key`): tokens it signs are honest. */
export interface TrustedSigner {
  alg: string;
  kid: string | undefined;
  sign(payload: JWTPayload, header?: Record<string, unknown>): Promise<string>;
}

/** What the corpus is built from for one route. */
export interface CorpusInput {
  /** Claims of a token the route would admit if its signature were believed. */
  claims: JWTPayload;
  /** The algorithms the route's jwt method accepts. */
  algorithms: readonly string[];
  /** Public keys of the deployment's issuer (policy, --jwks, fetched): for key confusion. */
  publicKeys: readonly JWK[];
  /** A `kid` the deployment knows, so that forged tokens name a real key. */
  kid: string | undefined;
  /** Where `jku`/`x5u` point: a path on the target's own origin, so a gateway that follows them reaches nothing else. */
  selfUrl: string;
  /** An honestly signed token (a user's, or one the trusted signer made), to tamper with. */
  honest?: string;
  signer?: TrustedSigner;
  /** Seconds since the epoch. */
  now: number;
  /** Whether the method requires `exp`. */
  requireExp: boolean;
}

const HMAC = new Set(['HS256', 'HS384', 'HS512']);
const json = (value: unknown) => base64url.encode(new TextEncoder().encode(JSON.stringify(value)));

/** A compact JWS with no signature. */
function unsigned(header: Record<string, unknown>, payload: JWTPayload): string {
  return `${json(header)}.${json(payload)}.`;
}

/** Throwaway key pairs, one per algorithm and run: no deployment trusts them. */
const throwaway = new Map<string, Promise<{ privateKey: CryptoKey; publicJwk: JWK }>>();

function throwawayKey(alg: string) {
  let key = throwaway.get(alg);
  if (!key) {
    key = generateKeyPair(alg, { extractable: true }).then(async ({ privateKey, publicKey }) => ({ privateKey, publicJwk: { ...(await exportJWK(publicKey)), alg } }));
    throwaway.set(alg, key);
  }
  return key;
}

/** The algorithm a throwaway key uses to impersonate the route's issuer. */
function impostorAlg(algorithms: readonly string[]): string {
  const asymmetric = algorithms.find((alg) => !HMAC.has(alg) && alg !== 'Ed25519');
  return asymmetric ?? 'ES256';
}

/** The algorithm a public JWK verifies, when the JWK does not say. */
function algOf(jwk: JWK): string | undefined {
  if (jwk.alg) return jwk.alg;
  if (jwk.kty === 'EC') return { 'P-256': 'ES256', 'P-384': 'ES384', 'P-521': 'ES512' }[jwk.crv ?? ''];
  if (jwk.kty === 'RSA') return 'RS256';
  if (jwk.kty === 'OKP') return 'EdDSA';
  return undefined;
}

/** The byte strings an attacker tries as the HMAC secret: the public key as PEM (with and without the final newline), DER and JWK JSON. */
async function publicKeySecrets(jwk: JWK): Promise<{ label: string; secret: Uint8Array }[]> {
  const alg = algOf(jwk);
  const { d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, k: _k, ...publicOnly } = jwk;
  const secrets: { label: string; secret: Uint8Array }[] = [];
  const encode = (text: string) => new TextEncoder().encode(text);
  if (alg) {
    try {
      const key = await importJWK(publicOnly, alg);
      const pem = await exportSPKI(key as CryptoKey);
      const trimmed = pem.trimEnd();
      secrets.push({ label: 'PEM', secret: encode(`${trimmed}\n`) }, { label: 'PEM without the final newline', secret: encode(trimmed) });
      const der = base64url.decode(trimmed.replace(/-----[A-Z ]+-----/g, '').replace(/\s+/g, '').replaceAll('+', '-').replaceAll('/', '_').replace(/=+$/, ''));
      secrets.push({ label: 'DER', secret: der });
    } catch {
      // A key jose cannot import here still has its JWK spelling below.
    }
  }
  secrets.push({ label: 'JWK JSON', secret: encode(JSON.stringify(jwk)) });
  return secrets;
}

/** The tokens to try against one route. */
export async function jwtCorpus(input: CorpusInput): Promise<{ tokens: AttackToken[]; notes: string[] }> {
  const { claims, algorithms, kid } = input;
  const tokens: AttackToken[] = [];
  const notes: string[] = [];
  const add = (check: ProbeCheck, label: string, token: string) => tokens.push({ check, label, token });
  const kidHeader = kid === undefined ? {} : { kid };

  add(CHECKS.algNone, 'alg "none", no signature', unsigned({ alg: 'none', typ: 'JWT', ...kidHeader }, claims));
  add(CHECKS.algNone, 'alg "nOnE", no signature', unsigned({ alg: 'nOnE', typ: 'JWT', ...kidHeader }, claims));

  const hmacMethod = algorithms.every((alg) => HMAC.has(alg));
  if (hmacMethod) {
    notes.push('key confusion does not apply: the method verifies HMAC tokens with a shared secret');
  } else if (!input.publicKeys.length) {
    notes.push('key confusion skipped: no public key of the issuer is known (the policy has none locally; give --jwks <file>, or --fetch-jwks to fetch its jwksUrl)');
  } else {
    for (const jwk of input.publicKeys.slice(0, 2)) {
      for (const { label, secret } of await publicKeySecrets(jwk)) {
        const token = await new SignJWT(claims).setProtectedHeader({ alg: 'HS256', typ: 'JWT', ...(jwk.kid ? { kid: jwk.kid } : kidHeader) }).sign(secret);
        add(CHECKS.keyConfusion, `HS256 keyed with the ${label} of key ${jwk.kid ?? '(no kid)'}`, token);
      }
    }
  }

  if (hmacMethod) {
    const secret = crypto.getRandomValues(new Uint8Array(32));
    add(CHECKS.foreignKey, 'HS256 with a random secret', await new SignJWT(claims).setProtectedHeader({ alg: algorithms[0]!, typ: 'JWT', ...kidHeader }).sign(secret));
  }
  const alg = impostorAlg(algorithms);
  const impostor = await throwawayKey(alg);
  const impostorKid = 'portcullis-probe';
  const signImpostor = (header: Record<string, unknown>) => new SignJWT(claims).setProtectedHeader({ alg, typ: 'JWT', ...header }).sign(impostor.privateKey);
  if (!hmacMethod) add(CHECKS.foreignKey, `${alg} signed by a throwaway key${kid ? ` (kid "${kid}")` : ''}`, await signImpostor(kidHeader));
  add(CHECKS.embeddedJwk, `${alg} signed by a throwaway key embedded as the jwk header`, await signImpostor({ jwk: impostor.publicJwk }));
  add(CHECKS.jku, `${alg} signed by a throwaway key, jku → ${input.selfUrl}`, await signImpostor({ kid: impostorKid, jku: input.selfUrl }));
  add(CHECKS.x5u, `${alg} signed by a throwaway key, x5u → ${input.selfUrl}`, await signImpostor({ kid: impostorKid, x5u: input.selfUrl }));

  if (input.honest) {
    add(CHECKS.tampered, 'an honest token with its payload changed after signing', tamper(input.honest, claims));
  }

  if (input.signer) {
    const sign = input.signer.sign;
    const { now } = input;
    add(CHECKS.expired, 'honestly signed, expired an hour ago', await sign({ ...claims, iat: now - 7200, exp: now - 3600 }));
    add(CHECKS.notYetValid, 'honestly signed, nbf an hour from now', await sign({ ...claims, nbf: now + 3600 }));
    add(CHECKS.wrongAudience, 'honestly signed, aud of another API', await sign({ ...claims, aud: 'https://portcullis-probe.invalid/other-api' }));
    add(CHECKS.wrongIssuer, 'honestly signed, iss of another issuer', await sign({ ...claims, iss: 'https://portcullis-probe.invalid/issuer' }));
    if (input.requireExp) {
      const { exp: _exp, ...noExp } = claims;
      add(CHECKS.missingExp, 'honestly signed, no exp', await sign(noExp));
    }
  } else {
    notes.push('expired, not-yet-valid, wrong-audience, wrong-issuer and missing-exp tokens skipped: they prove something only when signed by a key the deployment trusts (give --signing-key <private JWK> on a test deployment)');
  }
  return { tokens, notes };
}

/** An honest token with the attacker's claims pasted over its payload; header and signature kept. */
export function tamper(token: string, claims: JWTPayload): string {
  const [header, payload, signature] = token.split('.');
  let original: JWTPayload = {};
  try {
    original = decodeJwt(token);
  } catch {
    // not a JWT we can read: the forged payload replaces it whole
  }
  const forged = json({ ...original, ...claims, exp: original.exp ?? claims.exp, iat: original.iat ?? claims.iat });
  return `${header}.${forged === payload ? json({ ...original, ...claims, portcullis_probe: true }) : forged}.${signature}`;
}

/** A signer over a private JWK (`--signing-key`). */
export async function trustedSigner(privateJwk: JWK, fallbackAlg: string): Promise<TrustedSigner> {
  if (!('d' in privateJwk) && !('k' in privateJwk)) throw new TypeError('the signing key must be a private JWK (with "d") or a symmetric one (with "k")');
  const alg = privateJwk.alg ?? (privateJwk.kty === 'oct' ? fallbackAlg : (algOf(privateJwk) ?? fallbackAlg));
  const key = await importJWK(privateJwk, alg);
  const kid = privateJwk.kid;
  return {
    alg,
    kid,
    sign: (payload, header = {}) => new SignJWT(payload).setProtectedHeader({ alg, typ: 'JWT', ...(kid ? { kid } : {}), ...header }).sign(key),
  };
}

/** The claims and `kid` of a token, unverified (the probe reads its own credential). */
export function readToken(token: string): { claims: JWTPayload; kid: string | undefined } {
  const claims = decodeJwt(token);
  const header = decodeProtectedHeader(token);
  return { claims, kid: typeof header.kid === 'string' ? header.kid : undefined };
}
