/**
 * `apiKey()`: API keys from a header, stored only as SHA-256 hashes.
 * @module
 */

import { base64url } from 'jose';
import { policyError, refuseUnknownOptions } from '../errors.ts';
import type { AuthnEnv, AuthnMethod, AuthnOutcome } from './contract.ts';
import { sha256Hex } from './hash.ts';
import { Lru } from './lru.ts';

/** What a key stands for. Several keys may name one principal (rotation). */
export interface ApiKeyRecord {
  /** The principal id the key authenticates as. */
  principal: string;
  roles?: readonly string[];
  scopes?: readonly string[];
  /** ISO 8601 time after which the key is refused. */
  expiresAt?: string;
  /** A revoked key is refused (and says so in the log). */
  revoked?: boolean;
  /** A label for logs and explain output, e.g. `reports-cron 2026-11`. */
  name?: string;
}

/** Options of `apiKey()`. Give `keys` (static) or `resolve` (database, KV), not both. */
export interface ApiKeyOptions {
  /** The request header carrying the key. @default 'x-api-key' */
  header?: string;
  /**
   * Also read the key from this query parameter. Keys in URLs end up in logs, caches and Referer
   * headers; the option is named so that nobody turns it on by accident.
   */
  dangerouslyAllowQueryParam?: string;
  /** Static keys: SHA-256 hex of the key (see `hashApiKey`) → record. */
  keys?: Readonly<Record<string, ApiKeyRecord>>;
  /** Async lookup by SHA-256 hex of the key; `undefined` when unknown. */
  resolve?: (hash: string) => Promise<ApiKeyRecord | undefined>;
  /** Seconds a resolved record is cached. @default 30 */
  cacheTtl?: number;
  /** Every key must start with this prefix (`pk_live_`), so a test key never works in production. */
  prefix?: string;
  /** `realm` in `WWW-Authenticate`. @default 'api' */
  realm?: string;
}

const SHA256_HEX = /^[0-9a-f]{64}$/;
const KEY_CHARS = /^[A-Za-z0-9_\-.~+/=]{16,512}$/;

/** SHA-256 of a key, lowercase hex: the only form in which a key is stored. */
export function hashApiKey(key: string): Promise<string> {
  return sha256Hex(key);
}

/**
 * A new random key (32 bytes from the platform CSPRNG) and its hash. Store the hash, give out the key.
 * @example
 * ```ts
 * const { key, hash } = await generateApiKey('pk_live_');
 * ```
 */
export async function generateApiKey(prefix = 'pk_live_'): Promise<{ key: string; hash: string }> {
  const key = prefix + base64url.encode(crypto.getRandomValues(new Uint8Array(32)));
  return { key, hash: await hashApiKey(key) };
}

/** Every option `apiKey()` knows: the `satisfies` keeps the list in step with `ApiKeyOptions`. */
const API_KEY_OPTIONS: ReadonlySet<string> = new Set(
  Object.keys({ header: 0, dangerouslyAllowQueryParam: 0, keys: 0, resolve: 0, cacheTtl: 0, prefix: 0, realm: 0 } satisfies Record<keyof ApiKeyOptions, 0>),
);

/**
 * API key authentication.
 *
 * @example
 * ```ts
 * const service = apiKey({ keys: { [await hashApiKey(process.env.REPORTS_KEY)]: { principal: 'svc_reports', scopes: ['reports:read'] } } });
 * ```
 */
export function apiKey(options: ApiKeyOptions): AuthnMethod {
  refuseUnknownOptions('apiKey()', options, API_KEY_OPTIONS);
  const header = (options.header ?? 'x-api-key').toLowerCase();
  if (header === 'authorization' || header === 'cookie') policyError('apiKey().header', `"${header}" is not a key header`);
  if ((options.keys === undefined) === (options.resolve === undefined)) policyError('apiKey().keys', 'give exactly one of keys or resolve');
  for (const [hash, record] of Object.entries(options.keys ?? {})) {
    const at = `apiKey().keys[${JSON.stringify(hash)}]`;
    if (!SHA256_HEX.test(hash)) policyError(at, 'must be the lowercase SHA-256 hex of the key (hashApiKey), never the key itself');
    if (typeof record.principal !== 'string' || !record.principal) policyError(`${at}.principal`, 'is required');
    if (record.expiresAt !== undefined && Number.isNaN(Date.parse(record.expiresAt))) policyError(`${at}.expiresAt`, 'is not a date');
  }
  const query = options.dangerouslyAllowQueryParam;
  const keys = new Map(Object.entries(options.keys ?? {}));
  const ttlMs = (options.cacheTtl ?? 30) * 1000;
  const resolved = new Lru<string, { record: ApiKeyRecord | undefined; until: number }>(10_000);

  async function lookup(hash: string, env: AuthnEnv): Promise<ApiKeyRecord | undefined> {
    if (!options.resolve) return keys.get(hash);
    const hit = resolved.get(hash);
    if (hit && hit.until > env.now()) return hit.record;
    const record = await options.resolve(hash);
    resolved.set(hash, { record, until: env.now() + ttlMs });
    return record;
  }

  return {
    kind: 'apiKey',
    credentialHeader: header,
    challenge: `ApiKey realm="${options.realm ?? 'api'}", header="${header}"`,
    meta: Object.freeze({ header, queryParam: query, prefix: options.prefix, lookup: options.resolve ? 'resolve' : 'static' }),
    async authenticate(request: Request, env: AuthnEnv): Promise<AuthnOutcome> {
      let presented = request.headers.get(header);
      if (presented === null && query !== undefined) presented = new URL(request.url).searchParams.get(query);
      if (presented === null) return { kind: 'absent' };
      // Headers.get joins repeated headers with ", ": two keys are an invalid request, not a choice.
      if (presented.includes(',')) return { kind: 'failure', reason: 'authn.invalid_request' };
      if (!KEY_CHARS.test(presented)) return { kind: 'failure', reason: 'authn.key_malformed' };
      if (options.prefix !== undefined && !presented.startsWith(options.prefix)) return { kind: 'failure', reason: 'authn.key_wrong_environment' };
      // The presented key is hashed before lookup, so no comparison ever runs on the secret itself.
      let record: ApiKeyRecord | undefined;
      const hash = await sha256Hex(presented);
      try {
        record = await lookup(hash, env);
      } catch {
        return { kind: 'failure', reason: 'authn.unavailable' };
      }
      if (!record) return { kind: 'failure', reason: 'authn.key_unknown' };
      if (record.revoked) return { kind: 'failure', reason: 'authn.key_revoked' };
      if (record.expiresAt !== undefined && Date.parse(record.expiresAt) <= env.now()) return { kind: 'failure', reason: 'authn.key_expired' };
      return {
        kind: 'success',
        principal: {
          id: record.principal,
          roles: record.roles ?? [],
          scopes: record.scopes ?? [],
          // keyId (a prefix of the hash, never the key) lets rate limits count per key.
          claims: Object.freeze({ keyName: record.name, keyId: hash.slice(0, 16) }),
        },
      };
    },
  };
}
