import { createClient } from 'redis';
import { createEngine } from 'portcullis';
import { redisStore } from 'portcullis/redis';
import policy from './policy.ts';

const store = redisStore({ url: process.env.REDIS_URL!, createClient });
export const engine = createEngine(policy, { rateLimitStore: store });
// at shutdown, after the server has closed:
export const shutdown = () => store.close();
