/**
 * A gateway of a fleet on workerd: the Cloudflare gateway with DPoP-bound tokens and Standard
 * Webhooks, whose replay cache is RateLimitObject (bound as RATE_LIMITS) or, with STORE=memory,
 * the default per-isolate memory store. Keys and secrets come from bindings.
 * @module
 */

import { binding, gateway } from '../../adapters/cloudflare.ts';
import { definePolicy, jwt, signature } from '../../src/index.ts';
import { durableObjectStore, type DurableObjectNamespaceLike } from '../../src/stores/durable-object.ts';

export { RateLimitObject } from '../../src/stores/durable-object.ts';

interface Env {
  RATE_LIMITS: DurableObjectNamespaceLike;
  STORE?: string;
}

export default gateway(
  (env: Env) =>
    definePolicy({
      clientIp: { trustedProxies: ['cloudflare'] },
      authn: {
        user: jwt({ jwks: JSON.parse(binding(env, 'JWKS')), algorithms: ['ES256'], issuer: binding(env, 'ISSUER'), audience: 'api', dpop: 'required' }),
        payments: signature({ scheme: 'standard-webhooks', secrets: [binding(env, 'WEBHOOK_SECRET')], principal: 'payments' }),
      },
      routes: {
        'GET /v1/me': { authn: ['user'], allow: 'authenticated' },
        'POST /v1/webhooks': { authn: ['payments'], allow: 'authenticated', contentTypes: ['application/json'] },
      },
    }),
  { engine: (env: Env) => (env.STORE === 'memory' ? {} : { rateLimitStore: durableObjectStore({ namespace: env.RATE_LIMITS }) }) },
);
