/**
 * One gateway of the fleet test (fleet.test.ts), as its own Node process: the Node adapter's
 * `serve` with a policy whose buckets live in the Redis at REDIS_URL (redisStore). It reports its
 * port over IPC and stops when the parent says so or goes away.
 *
 * Environment: REDIS_URL, STORE_TIMEOUT_MS.
 * @module
 */

import { createClient } from 'redis';
import { serve } from '../../adapters/node.ts';
import { definePolicy } from '../../src/index.ts';
import { redisStore } from '../../src/stores/redis.ts';

const storeTimeoutMs = Number(process.env.STORE_TIMEOUT_MS ?? 1000);
const store = redisStore({ url: process.env.REDIS_URL!, createClient, commandTimeoutMs: storeTimeoutMs });

const policy = definePolicy({
  transport: { requireHttps: false },
  rateLimits: {
    hammered: { limit: 40, window: '1h', by: 'ip', algorithm: 'sliding-window' },
    counted: { limit: 10, window: '1h', by: 'ip', algorithm: 'token-bucket' },
  },
  rateLimiting: { onStoreError: 'deny', storeTimeoutMs },
  routes: {
    'GET /hammered': { authn: 'anonymous', rateLimit: ['hammered'] },
    'GET /counted': { authn: 'anonymous', rateLimit: ['counted'] },
  },
});

const running = await serve(policy, () => new Response(`served by ${process.pid}`), {
  port: 0,
  handleSignals: false,
  env: { rateLimitStore: store, log: () => {} },
});

const stop = async () => {
  await running.close();
  await store.close();
  process.exit(0);
};
process.on('message', (message) => message === 'stop' && void stop());
process.on('disconnect', () => void stop());
process.send!({ url: running.url, pid: process.pid });
