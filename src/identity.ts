/**
 * The gateway's word to its origin: a short-lived, HMAC-signed JWT naming the principal of one
 * request (as Cloudflare Access's `Cf-Access-Jwt-Assertion` and Google IAP's
 * `x-goog-iap-jwt-assertion` do for theirs).
 *
 * Why signed and not a shared-secret header: a secret header proves only that the caller knows the
 * secret, says nothing the origin can check about *who* the principal is, and travels (and gets
 * logged) on every request. The signature binds principal, request id, time, method, target and
 * origin together; the key never leaves the gateway and the origin; a captured assertion is good
 * for one method + target on one origin for `ttlSeconds`, and with a `replayCache` not even once more.
 * @module
 */

import { errors, jwtVerify, SignJWT } from 'jose';
import type { Allow } from './decision.ts';
import { policyError } from './errors.ts';
import { SeenKeys } from './stores/seen-keys.ts';

/** The request header that carries the assertion. */
export const IDENTITY_HEADER = 'x-portcullis-identity';
/** The JWT `typ`: an assertion is never mistaken for (or accepted as) an access token. */
export const IDENTITY_TYP = 'portcullis-identity+jwt';
const ISSUER = 'portcullis';
const ALGORITHM = 'HS256';
/** HS256 keys shorter than the hash output are guessable offline from one captured assertion. */
const MIN_KEY_BYTES = 32;

/** An HMAC key: a string of at least 32 characters (its UTF-8 bytes are the key), bytes, or a CryptoKey. */
export type IdentityKey = string | Uint8Array | CryptoKey;

/** Options of the gateway side (`forwardTo({ identity })`). */
export interface IdentityOptions {
  /** The shared HMAC key (e.g. `openssl rand -base64 32`, kept in a secret binding). */
  key: IdentityKey;
  /** @default 'x-portcullis-identity' */
  header?: string;
  /** Seconds an assertion is valid. @default 60 */
  ttlSeconds?: number;
  /** Clock in epoch milliseconds. @default Date.now */
  now?: () => number;
}

/** The claims of an assertion. */
export interface Identity {
  /** The principal's id (`anonymous` on public routes). */
  sub: string;
  /** The `policy.authn` method that authenticated it. */
  authn: string;
  roles: string[];
  scopes: string[];
  /** The client address the gateway resolved. */
  client_ip: string;
  /** The request id (`X-Request-Id`): unique per request, so an origin may refuse a replay. */
  jti: string;
  /** The method and request target (path and query) it was issued for. */
  req_method: string;
  req_target: string;
  /** The origin it was issued for (`https://origin.example.com`). */
  aud: string;
  iss: string;
  iat: number;
  exp: number;
}

/** Why `verifyIdentity` refused. */
export type IdentityFailure =
  /** No assertion (the request did not come through the gateway), or more than one. */
  | 'identity.missing'
  /** Bad signature, wrong key, `typ`, `iss`, `aud`, or a malformed token. */
  | 'identity.invalid'
  /** Past `exp`, or issued in the future. */
  | 'identity.expired'
  /** Valid, but issued for another method or request target: a replay. */
  | 'identity.wrong_request'
  /** Valid, but its `jti` was accepted before (`replayCache`): a replay of the same request. */
  | 'identity.replayed';

/** Options of the origin side. */
export interface VerifyIdentityOptions {
  key: IdentityKey;
  /** @default 'x-portcullis-identity' */
  header?: string;
  /**
   * Required `aud`: the origin as the gateway addresses it (its `ORIGIN_URL`). Required, because one
   * gateway signs for all its origins with one key: without it, an origin accepts an assertion
   * issued for another. `false` accepts any (an origin that alone holds its key).
   */
  audience: string | false;
  /** Allowed clock skew in seconds. @default 5 */
  clockTolerance?: number;
  /** Clock in epoch milliseconds. @default Date.now */
  now?: () => number;
  /**
   * Accept each assertion once: without it, one captured on the wire (or from a log) is good again
   * for the same method and target until it expires. `memoryReplayCache()` in one process; a
   * shared store where several origin instances verify.
   */
  replayCache?: IdentityReplayCache;
}

/** Remembers the `jti` of accepted assertions until they expire. */
export interface IdentityReplayCache {
  /** `true` the first time `jti` is offered; `false` when it was seen before (or cannot be remembered). */
  firstUse(jti: string, expiresAtMs: number): boolean | Promise<boolean>;
}

/** Options of `memoryReplayCache`. */
export interface MemoryReplayCacheOptions {
  /** Most assertions remembered at once: at least the origin's peak requests per `ttlSeconds`. @default 100000 */
  maxEntries?: number;
  /** Clock in epoch milliseconds. @default Date.now */
  now?: () => number;
}

/**
 * A replay cache in this process's memory. Entries leave when they expire; a full cache refuses
 * (fails closed) rather than forget an assertion that is still valid.
 *
 * @example
 * ```ts
 * const verify = identityVerifier({ key: process.env.PORTCULLIS_IDENTITY_KEY!, audience: 'https://origin.example.com', replayCache: memoryReplayCache() });
 * ```
 */
export function memoryReplayCache(options: MemoryReplayCacheOptions = {}): IdentityReplayCache {
  const maxEntries = options.maxEntries ?? 100_000;
  if (!Number.isInteger(maxEntries) || maxEntries < 1) policyError('memoryReplayCache().maxEntries', `must be a positive integer, got ${maxEntries}`);
  const now = options.now ?? Date.now;
  const seen = new SeenKeys(maxEntries);
  return { firstUse: (jti, expiresAtMs) => seen.firstUse(jti, expiresAtMs, now()) };
}

/** Imports the key once: a string or bytes become a non-extractable HMAC-SHA-256 CryptoKey. Throws a `PolicyError` on a short key. */
function importIdentityKey(key: IdentityKey, name: string): Promise<CryptoKey> {
  if (typeof key === 'object' && !(key instanceof Uint8Array)) return Promise.resolve(key);
  const bytes = typeof key === 'string' ? new TextEncoder().encode(key) : new Uint8Array(key);
  if (bytes.byteLength < MIN_KEY_BYTES) policyError(name, `at least ${MIN_KEY_BYTES} bytes are required, got ${bytes.byteLength}`);
  const imported = crypto.subtle.importKey('raw', bytes, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign', 'verify']);
  // A failed import surfaces at the first use, not as an unhandled rejection at setup.
  imported.catch(() => {});
  return imported;
}

/** The request target as the origin will see it: path and query. */
function targetOf(url: URL): string {
  return url.pathname + url.search;
}

/**
 * Compiles the gateway side: a function that signs the assertion for an allowed request. Throws a
 * `TypeError` on a short key, so that a bad secret fails at setup.
 *
 * @example
 * ```ts
 * const sign = identitySigner({ key: env.PORTCULLIS_IDENTITY_KEY });
 * headers.set('x-portcullis-identity', await sign(decision, 'GET', new URL('https://origin.example.com/v1/me')));
 * ```
 */
export function identitySigner(options: IdentityOptions): (decision: Allow, method: string, target: URL) => Promise<string> {
  const ttl = options.ttlSeconds ?? 60;
  if (!Number.isInteger(ttl) || ttl < 1 || ttl > 3600) policyError('identity.ttlSeconds', `a whole number of seconds from 1 to 3600, got ${ttl}`);
  const key = importIdentityKey(options.key, 'identity.key');
  const now = options.now ?? Date.now;

  return async function signIdentity(decision, method, target) {
    const { principal } = decision;
    const issuedAt = Math.floor(now() / 1000);
    const claims: Omit<Identity, 'sub' | 'jti' | 'aud' | 'iss' | 'iat' | 'exp'> = {
      authn: principal.method,
      roles: [...principal.roles],
      scopes: [...principal.scopes],
      client_ip: decision.client.ip,
      req_method: method,
      req_target: targetOf(target),
    };
    return new SignJWT({ ...claims })
      .setProtectedHeader({ alg: ALGORITHM, typ: IDENTITY_TYP })
      .setIssuer(ISSUER)
      .setAudience(target.origin)
      .setSubject(principal.id)
      .setJti(decision.requestId)
      .setIssuedAt(issuedAt)
      .setExpirationTime(issuedAt + ttl)
      .sign(await key);
  };
}

/** What `identityVerifier` concludes about one request. */
export type IdentityResult = { ok: true; identity: Identity } | { ok: false; reason: IdentityFailure };

/**
 * Compiles the origin side: a function that verifies the assertion on a request that came through
 * the gateway. A request without a valid one did not, whatever else it carries. Throws a
 * `TypeError` on a short key.
 *
 * @example
 * ```ts
 * const verify = identityVerifier({ key: process.env.PORTCULLIS_IDENTITY_KEY!, audience: 'https://origin.example.com' });
 * const result = await verify(request);
 * if (!result.ok) return new Response(null, { status: 403 });
 * console.log(result.identity.sub, result.identity.roles);
 * ```
 */
export function identityVerifier(options: VerifyIdentityOptions): (request: Request) => Promise<IdentityResult> {
  const verify = identityHeaderVerifier(options);
  const header = options.header ?? IDENTITY_HEADER;
  return function verifyIdentity(request) {
    return verify(request.headers.get(header), request.method, targetOf(new URL(request.url)));
  };
}

/**
 * The origin side for servers that have no Fetch `Request` (node:http, Express): verifies the
 * header's value for the request's method and target (path and query, as node:http's `req.url`
 * or Express's `req.originalUrl` give it). `options.header` is not read: the caller reads the
 * header. Throws a `TypeError` on a short key.
 *
 * @example
 * ```ts
 * const verify = identityHeaderVerifier({ key: process.env.PORTCULLIS_IDENTITY_KEY!, audience: 'http://127.0.0.1:9000' });
 * createServer(async (req, res) => {
 *   const result = await verify(req.headers[IDENTITY_HEADER], req.method!, req.url!);
 *   if (!result.ok) return void res.writeHead(403).end();
 *   res.end(`hello ${result.identity.sub}`);
 * });
 * ```
 */
export function identityHeaderVerifier(
  options: VerifyIdentityOptions,
): (value: string | readonly string[] | null | undefined, method: string, target: string) => Promise<IdentityResult> {
  const key = importIdentityKey(options.key, 'identity.key');
  const audience = options.audience as unknown;
  if (audience !== false && (typeof audience !== 'string' || audience === '')) {
    policyError('identity.audience', 'required, the origin as the gateway addresses it (its ORIGIN_URL), or false to accept assertions issued for any origin');
  }
  const tolerance = options.clockTolerance ?? 5;
  const now = options.now ?? Date.now;

  return async function verifyIdentityHeader(value, method, target) {
    const token = typeof value === 'string' ? value : value?.length === 1 ? value[0]! : null;
    // Headers joins repeated fields with ", " (node:http too, or gives an array); a compact JWS has no comma.
    if (token === null || token === '' || token.includes(',')) return { ok: false, reason: 'identity.missing' };
    let identity: Identity;
    try {
      const { payload } = await jwtVerify(token, await key, {
        algorithms: [ALGORITHM],
        typ: IDENTITY_TYP,
        issuer: ISSUER,
        audience: options.audience === false ? undefined : options.audience,
        clockTolerance: tolerance,
        currentDate: new Date(now()),
        requiredClaims: ['sub', 'jti', 'iat', 'exp', 'req_method', 'req_target'],
      });
      identity = payload as unknown as Identity;
    } catch (error) {
      return { ok: false, reason: error instanceof errors.JWTExpired ? 'identity.expired' : 'identity.invalid' };
    }
    // jose checks a future `iat` only together with maxTokenAge.
    if (identity.iat > Math.floor(now() / 1000) + tolerance) return { ok: false, reason: 'identity.expired' };
    if (identity.req_method !== method || identity.req_target !== target) return { ok: false, reason: 'identity.wrong_request' };
    // Last: only assertions that passed every other check take a place in the cache.
    if (options.replayCache && !(await options.replayCache.firstUse(identity.jti, (identity.exp + tolerance) * 1000))) {
      return { ok: false, reason: 'identity.replayed' };
    }
    return { ok: true, identity };
  };
}
