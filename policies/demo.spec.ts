/**
 * The demo policy, specified: every rule of the demo that the policy decides (who may read and
 * write which user, login and token lines, bodies, CORS), as a table.
 * Runs under `npx portcullis test policies` and under vitest (policies/specs.test.ts).
 */
import { createHmac } from 'node:crypto';
import { hashApiKey } from '../src/index.ts';
import { defineSpec } from '../tools/testing/index.ts';
import { DEMO_EXAMPLE_WEBHOOK_SECRET, demoConfig, demoPolicy } from './demo.ts';

const SERVICE_KEY = 'pk_demo_spec_0123456789abcdefghij';

/** A payment webhook signed per Standard Webhooks under the example secret, at the kit's pinned time. */
function signedWebhook(id: string, timestamp: number, body: string, secret = DEMO_EXAMPLE_WEBHOOK_SECRET) {
  const key = Buffer.from(secret.slice('whsec_'.length), 'base64');
  const signature = createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest('base64');
  const headers = { 'content-type': 'application/json', 'webhook-id': id, 'webhook-timestamp': String(timestamp), 'webhook-signature': `v1,${signature}` };
  return { method: 'POST', path: '/v1/webhooks/payments', headers, body };
}
const PINNED = Date.parse('2026-11-24T12:00:00Z') / 1000;
const PAYMENT = JSON.stringify({ type: 'payment.succeeded', data: { paymentId: 'pay_1', amount: 4200 } });
const alice = { sub: 'u_alice', roles: ['user'] };
const bob = { sub: 'u_bob', roles: ['admin'] };

export default defineSpec({
  name: 'demo gateway policy',
  // Pinned: v0 is deprecated today and gone after its sunset (2027-06-01).
  kit: { now: '2026-11-24T12:00:00Z' },
  policy: async (kit) => demoPolicy(demoConfig({ RATE_LIMIT: '1000' }), { publicJwk: kit.publicJwk, apiKeyHash: await hashApiKey(SERVICE_KEY), webhookSecret: DEMO_EXAMPLE_WEBHOOK_SECRET }),
  cases: [
    { request: 'GET /v1/health', expect: 200 },
    { request: 'GET /.well-known/jwks.json', expect: 200 },
    { request: 'GET /v1/nope', expect: 404, reason: 'route.not_found' },
    { request: 'POST /v1/health', expect: 405, reason: 'route.method_not_allowed', headers: { allow: 'GET' } },
    { request: 'GET /v1/users/u_alice', expect: 401, reason: 'authn.required', headers: { 'www-authenticate': 'Bearer realm="api", DPoP realm="api", algs="ES256"' } },
    { request: 'GET /v1/users/u_alice', as: alice, expect: 200 },
    { name: 'alice cannot read bob (BOLA)', request: 'GET /v1/users/u_bob', as: alice, expect: 403, reason: 'authz.denied' },
    { name: 'an admin reads anyone', request: 'GET /v1/users/u_alice', as: bob, expect: 200 },
    { name: 'a token for another audience', request: 'GET /v1/users/u_alice', as: { ...alice, aud: 'another-api' }, expect: 401, reason: 'authn.wrong_audience' },
    { name: 'an expired token', request: 'GET /v1/users/u_alice', as: { ...alice, iat: 1795000000, exp: 1795000600 }, expect: 401, reason: 'authn.token_expired' },
    { request: { method: 'PATCH', path: '/v1/users/u_alice', body: { name: 'Alice L.' } }, as: alice, expect: 200 },
    { name: 'a NUL inside the name', request: { method: 'PATCH', path: '/v1/users/u_alice', body: { name: 'Alice\u0000admin' } }, as: alice, expect: 422, reason: 'validate.invalid' },
    { name: 'an escape sequence in the name', request: { method: 'PATCH', path: '/v1/users/u_alice', body: { name: '\u001b[2JAlice' } }, as: alice, expect: 422, reason: 'validate.invalid' },
    { name: 'DEL in the name', request: { method: 'PATCH', path: '/v1/users/u_alice', body: { name: 'Ali\u007fce' } }, as: alice, expect: 422, reason: 'validate.invalid' },
    { name: 'a name over 100 characters', request: { method: 'PATCH', path: '/v1/users/u_alice', body: { name: 'a'.repeat(101) } }, as: alice, expect: 422, reason: 'validate.invalid' },
    { name: 'an email over 254 characters', request: { method: 'PATCH', path: '/v1/users/u_alice', body: { email: `${'a'.repeat(64)}@${'b'.repeat(200)}.example` } }, as: alice, expect: 422, reason: 'validate.invalid' },
    { name: 'a non-ASCII name', request: { method: 'PATCH', path: '/v1/users/u_alice', body: { name: 'Zoë Łukasiewicz-Ōtani' } }, as: alice, expect: 200 },
    { name: 'mass assignment of role', request: { method: 'PATCH', path: '/v1/users/u_alice', body: { role: 'admin' } }, as: alice, expect: 422, reason: 'validate.invalid' },
    { name: 'alice patches bob', request: { method: 'PATCH', path: '/v1/users/u_bob', body: { name: 'Bobby' } }, as: alice, expect: 403, reason: 'authz.denied' },
    { request: 'DELETE /v1/users/u_bob', as: alice, expect: 403, reason: 'authz.denied' },
    { request: 'DELETE /v1/users/u_alice', as: bob, expect: 200 },
    { name: 'reports with the service key', request: 'GET /v1/reports', as: { apiKey: SERVICE_KEY }, expect: 200 },
    { name: 'reports with a wrong key', request: 'GET /v1/reports', as: { apiKey: 'pk_demo_wrong_0123456789abcdefghij' }, expect: 401, reason: 'authn.key_unknown' },
    { request: 'GET /v1/reports', as: alice, expect: 403, reason: 'authz.denied' },
    { request: 'GET /v1/reports', as: bob, expect: 200 },
    { name: 'recent events for an admin on loopback', request: 'GET /v1/admin/events', as: bob, clientIp: '127.0.0.1', expect: 200 },
    { name: 'recent events for an admin outside ADMIN_CIDRS', request: 'GET /v1/admin/events', as: bob, clientIp: '203.0.113.10', expect: 403, reason: 'network.ip_denied' },
    { name: 'recent events for a user on loopback', request: 'GET /v1/admin/events', as: alice, clientIp: '127.0.0.1', expect: 403, reason: 'authz.denied' },
    { name: 'v0 is deprecated but served', request: 'GET /v0/users/u_alice', as: alice, expect: 200, headers: { sunset: 'Tue, 01 Jun 2027 00:00:00 GMT' } },
    { name: 'v0 carries its Deprecation date', request: 'GET /v0/users/u_alice', as: alice, expect: 200, headers: { deprecation: '@1780272000' } },
    { name: 'v0 keeps the v1 ownership rule', request: 'GET /v0/users/u_bob', as: alice, expect: 403, reason: 'authz.denied' },
    { name: 'a signed payment webhook', request: signedWebhook('msg_1', PINNED, PAYMENT), expect: 200 },
    { name: 'an unsigned payment webhook', request: { method: 'POST', path: '/v1/webhooks/payments', headers: { 'content-type': 'application/json' }, body: PAYMENT }, expect: 401, reason: 'authn.required' },
    { name: 'a webhook signed with another secret', request: signedWebhook('msg_2', PINNED, PAYMENT, 'whsec_b3RoZXItc2VjcmV0LW90aGVyLXNlY3JldC1vdGhlcg=='), expect: 401, reason: 'authn.bad_signature' },
    { name: 'a webhook 6 minutes old', request: signedWebhook('msg_3', PINNED - 360, PAYMENT), expect: 401, reason: 'authn.signature_stale' },
    { name: 'a login attempt reaches the origin', request: { method: 'POST', path: '/v1/auth/login', body: { username: 'alice', password: 'correct horse battery staple' } }, expect: 200 },
    { name: 'a login with a NUL in the username', request: { method: 'POST', path: '/v1/auth/login', body: { username: 'alice\u0000', password: 'x' } }, expect: 422, reason: 'validate.invalid' },
    { name: 'a login with a newline in the password', request: { method: 'POST', path: '/v1/auth/login', body: { username: 'alice', password: 'x\ny' } }, expect: 422, reason: 'validate.invalid' },
    { name: 'a login with extra fields', request: { method: 'POST', path: '/v1/auth/login', body: { username: 'alice', password: 'x', role: 'admin' } }, expect: 422, reason: 'validate.invalid' },
    {
      name: 'a preflight from the allowed origin',
      request: { method: 'OPTIONS', path: '/v1/users/u_alice', headers: { origin: 'https://app.example.com', 'access-control-request-method': 'PATCH' } },
      expect: 204,
      reason: 'cors.preflight',
      headers: { 'access-control-allow-origin': 'https://app.example.com', 'access-control-allow-credentials': 'true' },
    },
    {
      name: 'a preflight from a look-alike origin',
      request: { method: 'OPTIONS', path: '/v1/users/u_alice', headers: { origin: 'https://app.example.com.evil.test', 'access-control-request-method': 'GET' } },
      expect: 403,
      headers: { 'access-control-allow-origin': null },
    },
  ],
});
