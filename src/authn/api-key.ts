/**
 * `apiKey()`: API keys from a header, stored only as SHA-256 hashes.
 * @module
 */

import { policyError, refuseUnknownOptions } from '../errors.ts';
import { checkApiKeyChecksum, formatApiKey } from './api-key-format.ts';
import type { AuthnEnv, AuthnMethod, AuthnOutcome, QuotaSpec } from './contract.ts';
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
  /**
   * This key's own quota (its plan): replaces the limit and period of a route's `quota` for calls
   * made with it, e.g. `{ limit: 100000, period: 'month' }`.
   */
  quota?: QuotaSpec;
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
  /**
   * Refuse keys without a checksum (keys not of the `generateApiKey` format). Keys of that format
   * with a wrong checksum are refused either way, before any lookup; older keys without one keep
   * working until this is turned on — once every client has a new key.
   * @default false
   */
  requireChecksum?: boolean;
}

const SHA256_HEX = /^[0-9a-f]{64}$/;
const KEY_CHARS = /^[A-Za-z0-9_\-.~+/=]{16,512}$/;

/** SHA-256 of a key, lowercase hex: the only form in which a key is stored. */
export function hashApiKey(key: string): Promise<string> {
  return sha256Hex(key);
}

/** Options of `generateApiKey()`. */
export interface GenerateApiKeyOptions {
  /**
   * The key's first part: letters and digits in `_`-separated words, starting with a letter. Say
   * what the key is for and where it works (`pk_live`, `pk_test`), so a test key is never taken
   * for a production one (see `apiKey({ prefix })`).
   * @default 'pk_live'
   */
  prefix?: string;
}

/**
 * A new random key `<prefix>_<random>_<checksum>` (32 bytes from the platform CSPRNG in base62, and
 * the CRC-32 of the rest in base62) and its hash. Store the hash, give out the key. Secret scanners
 * can match the format with `API_KEY_PATTERN`. A string argument is the prefix (a trailing `_` is dropped).
 * @example
 * ```ts
 * const { key, hash } = await generateApiKey({ prefix: 'pk_live' });
 * ```
 */
export async function generateApiKey(options: GenerateApiKeyOptions | string = {}): Promise<{ key: string; hash: string }> {
  const prefix = typeof options === 'string' ? options.replace(/_$/, '') : (options.prefix ?? 'pk_live');
  const key = formatApiKey(prefix);
  return { key, hash: await hashApiKey(key) };
}

/** A plan from a key record: whole calls per day or month, or undefined when it is not one. */
function checkQuota(quota: unknown): string | undefined {
  const plan = quota as QuotaSpec | null;
  if (typeof plan !== 'object' || plan === null) return 'must be { limit, period }';
  if (!Number.isInteger(plan.limit) || plan.limit < 1) return 'limit must be a whole number of calls, at least 1';
  if (plan.period !== 'day' && plan.period !== 'month') return 'period must be "day" or "month"';
  return undefined;
}

/** Every option `apiKey()` knows: the `satisfies` keeps the list in step with `ApiKeyOptions`. */
const API_KEY_OPTIONS: ReadonlySet<string> = new Set(
  Object.keys({ header: 0, dangerouslyAllowQueryParam: 0, keys: 0, resolve: 0, cacheTtl: 0, prefix: 0, realm: 0, requireChecksum: 0 } satisfies Record<keyof ApiKeyOptions, 0>),
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
    const quotaProblem = record.quota === undefined ? undefined : checkQuota(record.quota);
    if (quotaProblem) policyError(`${at}.quota`, quotaProblem);
  }
  const requireChecksum = options.requireChecksum ?? false;
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
    meta: Object.freeze({ header, queryParam: query, prefix: options.prefix, lookup: options.resolve ? 'resolve' : 'static', requireChecksum }),
    async authenticate(request: Request, env: AuthnEnv): Promise<AuthnOutcome> {
      let presented = request.headers.get(header);
      if (presented === null && query !== undefined) presented = new URL(request.url).searchParams.get(query);
      if (presented === null) return { kind: 'absent' };
      // Headers.get joins repeated headers with ", ": two keys are an invalid request, not a choice.
      if (presented.includes(',')) return { kind: 'failure', reason: 'authn.invalid_request' };
      if (!KEY_CHARS.test(presented)) return { kind: 'failure', reason: 'authn.key_malformed' };
      if (options.prefix !== undefined && !presented.startsWith(options.prefix)) return { kind: 'failure', reason: 'authn.key_wrong_environment' };
      // A key of the checksummed format whose checksum is wrong is garbage (a typo, a guess, a
      // scanner's test): refused here, without hashing it or asking the store.
      const checksum = checkApiKeyChecksum(presented);
      if (checksum === 'invalid') return { kind: 'failure', reason: 'authn.key_bad_checksum' };
      if (checksum === 'none' && requireChecksum) return { kind: 'failure', reason: 'authn.key_malformed' };
      // The presented key is hashed before lookup, so no comparison ever runs on the secret itself.
      let record: ApiKeyRecord | undefined;
      const hash = await sha256Hex(presented, env.crypto);
      try {
        record = await lookup(hash, env);
      } catch {
        return { kind: 'failure', reason: 'authn.unavailable' };
      }
      if (!record) return { kind: 'failure', reason: 'authn.key_unknown' };
      if (record.revoked) return { kind: 'failure', reason: 'authn.key_revoked' };
      if (record.expiresAt !== undefined && Date.parse(record.expiresAt) <= env.now()) return { kind: 'failure', reason: 'authn.key_expired' };
      // A resolver's record is data from a store: a malformed plan is a broken store, not a free pass.
      if (record.quota !== undefined && checkQuota(record.quota)) return { kind: 'failure', reason: 'authn.unavailable' };
      return {
        kind: 'success',
        principal: {
          id: record.principal,
          roles: record.roles ?? [],
          scopes: record.scopes ?? [],
          // keyId (a prefix of the hash, never the key) lets rate limits count per key.
          claims: Object.freeze({ keyName: record.name, keyId: hash.slice(0, 16) }),
          ...(record.quota && { quota: Object.freeze({ limit: record.quota.limit, period: record.quota.period }) }),
        },
      };
    },
  };
}
