/**
 * The Worker of docs/scaling.md's Durable Objects example: the Cloudflare gateway with its limits in
 * RateLimitObject, guarding the origin at ORIGIN_URL.
 * @module
 */

import { gateway } from '../../adapters/cloudflare.ts';
import { definePolicy } from '../../src/index.ts';
import { durableObjectStore, type DurableObjectNamespaceLike } from '../../src/stores/durable-object.ts';

export { RateLimitObject } from '../../src/stores/durable-object.ts';

interface Env {
  RATE_LIMITS: DurableObjectNamespaceLike;
}

const policy = definePolicy({
  clientIp: { trustedProxies: ['cloudflare'] },
  rateLimits: {
    api: { limit: 10, window: '1h', by: 'ip' },
    login: { limit: 2, window: '1h', by: 'ip', count: 'failures', failureStatuses: [401] },
  },
  routes: {
    'GET /v1/things': { authn: 'anonymous', rateLimit: ['api'] },
    'POST /v1/login': { authn: 'anonymous', rateLimit: ['login'] },
  },
});

export default gateway(policy, {
  engine: (env: Env) => ({ rateLimitStore: durableObjectStore({ namespace: env.RATE_LIMITS }) }),
});
