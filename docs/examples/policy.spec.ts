import { defineSpec } from 'portcullis/testing';
import policy from './policy.ts';

// `as` claims become a token signed by a throwaway key; the kit answers the policy's jwksUrl with
// it, and fills in the policy's issuer and audience. The clock is pinned.
const alice = { sub: 'u_alice', roles: ['user'] };
const bob = { sub: 'u_bob', roles: ['admin'] };

export default defineSpec({
  name: 'users API',
  policy,
  cases: [
    { request: 'GET /v1/health', expect: 200 },
    { request: 'GET /v1/users/u_alice', as: alice, expect: 200 },
    { request: 'GET /v1/users/u_alice', as: bob, expect: 200 },
    { request: 'GET /v1/users/u_bob', as: alice, expect: 403, reason: 'authz.denied' },
    { request: 'GET /v1/users/u_alice', expect: 401, reason: 'authn.required', headers: { 'www-authenticate': 'Bearer realm="api"' } },
    { request: 'GET /v1/users/u_alice', as: { ...alice, aud: 'another-api' }, expect: 401 },
    { request: { method: 'PATCH', path: '/v1/users/u_alice', body: { name: 'Alice' } }, as: alice, expect: 200 },
    { request: { method: 'PATCH', path: '/v1/users/u_alice', body: { role: 'admin' } }, as: alice, expect: 422, reason: 'validate.invalid' },
    { request: 'DELETE /v1/users/u_alice', as: alice, expect: 403 },
    { request: 'DELETE /v1/users/u_alice', as: bob, expect: 200 },
    { name: 'the 101st request in 15 minutes', request: 'GET /v1/users/u_alice', as: alice, repeat: 101, expect: 429, reason: 'ratelimit.exceeded' },
  ],
});
