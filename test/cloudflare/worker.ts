/**
 * Test Worker: a gateway whose rate-limit store leaves writes in flight after each take (as
 * Upstash's do), and a `ctx` that reports to the origin every store write that reached
 * `ctx.waitUntil` — so the test sees that the writes were handed over, not merely started.
 * @module
 */

import { definePolicy, memoryStore, type RateLimitStore } from '../../src/index.ts';
import { gateway, type WorkerContext } from '../../adapters/cloudflare.ts';

interface Env {
  ORIGIN_URL: string;
  PORTCULLIS_IDENTITY_KEY: string;
}

const STORE_WRITE = 'store-write';
const counters = memoryStore();

/** Each take leaves a write in flight that lands when the origin answers `/__hold` — when the test lets it. */
function slowStore(env: Env): RateLimitStore {
  const inFlight = () => fetch(`${env.ORIGIN_URL}/__hold`).then(() => STORE_WRITE);
  return {
    consume: async (bucket, key, now) => ({ ...(await counters.consume(bucket, key, now)), pending: inFlight() }),
    peek: (bucket, key, now) => counters.peek(bucket, key, now),
  };
}

const guard = gateway<Env>(
  definePolicy({
    clientIp: { trustedProxies: ['cloudflare'] },
    rateLimits: {
      api: { limit: 100, window: '1m', by: 'ip' },
      login: { limit: 1, window: '1m', by: 'ip', count: 'failures', failureStatuses: [401] },
    },
    routes: {
      'GET /v1/things': { authn: 'anonymous', rateLimit: ['api'] },
      'POST /v1/login': { authn: 'anonymous', rateLimit: ['login'] },
    },
  }),
  { engine: (env: Env) => ({ rateLimitStore: slowStore(env) }) },
);

export default {
  fetch(request: Request, env: Env, ctx: WorkerContext) {
    const reporting: WorkerContext = {
      waitUntil(promise) {
        ctx.waitUntil(
          promise.then(async (value) => {
            if (value === STORE_WRITE) await fetch(`${env.ORIGIN_URL}/__waited`, { method: 'POST', body: request.url });
          }),
        );
      },
    };
    return guard.fetch(request, env, reporting);
  },
};
