// worker.ts
import { gateway } from 'portcullis/cloudflare';
import { durableObjectStore, type DurableObjectNamespaceLike } from 'portcullis/durable-objects';
import policy from './policy.ts';

export { RateLimitObject } from 'portcullis/durable-objects';

interface Env {
  RATE_LIMITS: DurableObjectNamespaceLike;
}

export default gateway(policy, {
  engine: (env: Env) => ({ rateLimitStore: durableObjectStore({ namespace: env.RATE_LIMITS }) }),
});
