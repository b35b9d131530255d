/**
 * An internal service-to-service API: the ledger, called by other services with API keys. No
 * browsers (no CORS), no users: each key names a service, carries scopes (what it may do) and,
 * for operations staff tooling, roles. Every key has its own rate budget, so one runaway caller
 * cannot starve the others.
 *
 * Keys are stored as SHA-256 hashes; production loads them from the secret store and uses the
 * `svc_live_` prefix, so a test key can never work there. Specified in internal.spec.ts.
 * @module
 */

import * as v from 'valibot';
import { apiKey, definePolicy, hashApiKey, type ApiKeyRecord } from '../src/index.ts';

const Id = (prefix: string) => v.pipe(v.string(), v.regex(new RegExp(`^${prefix}_[A-Za-z0-9]{8,32}$`), `must be an id starting with ${prefix}_`));

export const Transfer = v.strictObject({
  from: Id('acc'),
  to: Id('acc'),
  /** Minor units (cents): never floating point for money. */
  amountMinor: v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(100_000_000_00)),
  currency: v.picklist(['EUR', 'USD', 'GBP']),
  reference: v.optional(v.pipe(v.string(), v.maxLength(140))),
});

/** Retries of a write must not move money twice: every write carries an idempotency key. */
export const WriteHeaders = v.object({ 'idempotency-key': v.pipe(v.string(), v.uuid('must be a UUID')) });

export const Reversal = v.strictObject({ reason: v.picklist(['duplicate', 'fraud', 'customer_request']) });

/** Options of the internal policy. */
export interface InternalPolicyOptions {
  /** SHA-256 hex of each key → what it stands for (see hashApiKey). */
  keys: Readonly<Record<string, ApiKeyRecord>>;
  /** Every key starts with this. @default 'svc_live_' */
  keyPrefix?: string;
}

export function internalPolicy({ keys, keyPrefix = 'svc_live_' }: InternalPolicyOptions) {
  return definePolicy({
    // The service mesh's sidecars, which terminate TLS and forward.
    clientIp: { trustedProxies: ['10.0.0.0/8'] },
    transport: { requireHttps: true },
    authn: { service: apiKey({ header: 'x-service-key', prefix: keyPrefix, keys }) },
    rateLimits: {
      perKey: { limit: 1200, window: '1m', by: 'apiKey' },
      writesPerKey: { limit: 60, window: '1m', by: 'apiKey' },
    },
    limits: { maxBodyBytes: 8 * 1024 },
    // Money moves only under a working limit: a store outage refuses (fail closed), and fast.
    rateLimiting: { onStoreError: 'deny', storeTimeoutMs: 200 },
    routes: {
      'GET /internal/v1/accounts/:accountId/balance': {
        authn: ['service'],
        allow: [{ scopes: ['ledger:read'] }],
        rateLimit: ['perKey'],
        params: v.strictObject({ accountId: Id('acc') }),
      },
      'POST /internal/v1/transfers': {
        authn: ['service'],
        allow: [{ scopes: ['ledger:write'] }],
        rateLimit: ['perKey', 'writesPerKey'],
        headers: WriteHeaders,
        body: Transfer,
      },
      'GET /internal/v1/transfers/:transferId': {
        authn: ['service'],
        allow: [{ scopes: ['ledger:read'] }],
        rateLimit: ['perKey'],
        params: v.strictObject({ transferId: Id('trf') }),
      },
      'POST /internal/v1/transfers/:transferId/reversal': {
        authn: ['service'],
        // Both scopes: a service that may move money may not, by that alone, take it back.
        allow: [{ scopes: ['ledger:write', 'ledger:reverse'] }],
        rateLimit: ['perKey', 'writesPerKey'],
        params: v.strictObject({ transferId: Id('trf') }),
        headers: WriteHeaders,
        body: Reversal,
      },
      'DELETE /internal/v1/holds/:holdId': {
        authn: ['service'],
        allow: [{ name: 'operations tooling', roles: ['ops'], scopes: ['ledger:holds'] }],
        rateLimit: ['perKey', 'writesPerKey'],
        params: v.strictObject({ holdId: Id('hld') }),
      },
      'GET /internal/v1/admin/reconciliation': {
        authn: ['service'],
        allow: [{ roles: ['ops'] }],
        rateLimit: ['perKey'],
        query: v.strictObject({ date: v.pipe(v.string(), v.isoDate('must be a date, YYYY-MM-DD')) }),
      },
    },
  });
}

/**
 * Keys for the spec and the CLI (`portcullis explain policies/internal.ts … --api-key <key>`).
 * Test keys only: the policy they go into takes the `svc_test_` prefix.
 */
export const EXAMPLE_KEYS = {
  payments: { key: 'svc_test_payments_0123456789abcdef', record: { principal: 'svc_payments', scopes: ['ledger:read', 'ledger:write'], name: 'payments 2026-11' } },
  reporting: { key: 'svc_test_reporting_0123456789abcdef', record: { principal: 'svc_reporting', scopes: ['ledger:read'], name: 'reporting 2026-11' } },
  disputes: {
    key: 'svc_test_disputes_0123456789abcdef',
    record: { principal: 'svc_disputes', scopes: ['ledger:read', 'ledger:write', 'ledger:reverse'], name: 'disputes 2026-11' },
  },
  ops: { key: 'svc_test_ops_console_0123456789abcdef', record: { principal: 'svc_ops_console', roles: ['ops'], scopes: ['ledger:read', 'ledger:holds'], name: 'ops console' } },
  retired: { key: 'svc_test_retired_0123456789abcdef', record: { principal: 'svc_payments', scopes: ['ledger:read', 'ledger:write'], revoked: true, name: 'payments 2026-05' } },
} as const satisfies Record<string, { key: string; record: ApiKeyRecord }>;

/** The policy with the example keys (the CLI's default export). */
export default async function internalPolicyWithExampleKeys() {
  const keys: Record<string, ApiKeyRecord> = {};
  for (const { key, record } of Object.values(EXAMPLE_KEYS)) keys[await hashApiKey(key)] = record;
  return internalPolicy({ keys, keyPrefix: 'svc_test_' });
}
