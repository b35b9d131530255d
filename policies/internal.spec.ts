/**
 * The internal ledger policy, specified: scopes per service key, ops roles, idempotency headers,
 * per-key budgets. Runs under `npx portcullis test policies` and vitest (policies/specs.test.ts).
 */
import { defineSpec } from '../tools/testing/index.ts';
import internalPolicyWithExampleKeys, { EXAMPLE_KEYS } from './internal.ts';

const as = (name: keyof typeof EXAMPLE_KEYS) => ({ apiKey: EXAMPLE_KEYS[name].key });
const idempotent = { 'idempotency-key': '6f1c2a7e-4b7d-4c36-9a43-0f7b9d1e2c55' };
const transfer = { from: 'acc_00000001', to: 'acc_00000002', amountMinor: 1999, currency: 'EUR' };

export default defineSpec({
  name: 'internal ledger API',
  policy: internalPolicyWithExampleKeys,
  cases: [
    { request: 'GET /internal/v1/accounts/acc_00000001/balance', as: as('reporting'), expect: 200 },
    { request: 'GET /internal/v1/accounts/acc_00000001/balance', expect: 401, reason: 'authn.required', headers: { 'www-authenticate': 'ApiKey realm="api", header="x-service-key"' } },
    { name: 'a revoked key', request: 'GET /internal/v1/accounts/acc_00000001/balance', as: as('retired'), expect: 401, reason: 'authn.key_revoked' },
    { name: 'a production-looking key on the test policy', request: 'GET /internal/v1/accounts/acc_00000001/balance', as: { apiKey: 'svc_live_payments_0123456789abcdef' }, expect: 401, reason: 'authn.key_wrong_environment' },
    { name: 'an unknown key', request: 'GET /internal/v1/accounts/acc_00000001/balance', as: { apiKey: 'svc_test_guessed_0123456789abcdef' }, expect: 401, reason: 'authn.key_unknown' },
    { name: 'a key as a bearer token is not a key', request: { method: 'GET', path: '/internal/v1/accounts/acc_00000001/balance', headers: { authorization: `Bearer ${EXAMPLE_KEYS.reporting.key}` } }, expect: 401, reason: 'authn.required' },
    { name: 'an account id of the wrong shape', request: 'GET /internal/v1/accounts/1%20OR%201=1/balance', as: as('reporting'), expect: 422, reason: 'validate.invalid' },

    { request: { method: 'POST', path: '/internal/v1/transfers', headers: idempotent, body: transfer }, as: as('payments'), expect: 200 },
    { name: 'a read-only key moves money', request: { method: 'POST', path: '/internal/v1/transfers', headers: idempotent, body: transfer }, as: as('reporting'), expect: 403, reason: 'authz.denied' },
    { name: 'a write without an idempotency key', request: { method: 'POST', path: '/internal/v1/transfers', body: transfer }, as: as('payments'), expect: 422, reason: 'validate.invalid' },
    { name: 'a fractional amount', request: { method: 'POST', path: '/internal/v1/transfers', headers: idempotent, body: { ...transfer, amountMinor: 19.99 } }, as: as('payments'), expect: 422, reason: 'validate.invalid' },
    { name: 'a transfer that names who approved it', request: { method: 'POST', path: '/internal/v1/transfers', headers: idempotent, body: { ...transfer, approvedBy: 'svc_ops_console' } }, as: as('payments'), expect: 422, reason: 'validate.invalid' },
    { name: 'a transfer as form data', request: { method: 'POST', path: '/internal/v1/transfers', headers: { ...idempotent, 'content-type': 'application/x-www-form-urlencoded' }, body: 'from=acc_00000001' }, as: as('payments'), expect: 415, reason: 'validate.unsupported_media_type' },

    { request: 'GET /internal/v1/transfers/trf_00000042', as: as('reporting'), expect: 200 },
    { name: 'the ops console reads transfers (it holds ledger:read)', request: 'GET /internal/v1/transfers/trf_00000042', as: as('ops'), expect: 200 },
    { request: 'GET /internal/v1/transfers/trf_00000042', as: as('retired'), expect: 401, reason: 'authn.key_revoked' },

    { request: { method: 'POST', path: '/internal/v1/transfers/trf_00000042/reversal', headers: idempotent, body: { reason: 'fraud' } }, as: as('disputes'), expect: 200 },
    { name: 'payments may write but not reverse', request: { method: 'POST', path: '/internal/v1/transfers/trf_00000042/reversal', headers: idempotent, body: { reason: 'fraud' } }, as: as('payments'), expect: 403, reason: 'authz.denied' },

    { request: 'DELETE /internal/v1/holds/hld_00000007', as: as('ops'), expect: 200 },
    { name: 'a service with every ledger scope but no ops role', request: 'DELETE /internal/v1/holds/hld_00000007', as: as('disputes'), expect: 403, reason: 'authz.denied' },

    { request: 'GET /internal/v1/admin/reconciliation?date=2026-11-23', as: as('ops'), expect: 200 },
    { request: 'GET /internal/v1/admin/reconciliation?date=2026-11-23', as: as('payments'), expect: 403, reason: 'authz.denied' },
    { name: 'a reconciliation without a date', request: 'GET /internal/v1/admin/reconciliation', as: as('ops'), expect: 422, reason: 'validate.invalid' },

    { name: 'no CORS: a browser preflight finds nothing to allow', request: { method: 'OPTIONS', path: '/internal/v1/transfers', headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' } }, expect: 405, headers: { 'access-control-allow-origin': null } },
  ],
});
