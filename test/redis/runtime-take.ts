/**
 * Run by runtimes.test.ts under the real `bun` and `deno` binaries: node-redis connects to the
 * redis-server at REDIS_URL from this runtime, and redisStore takes from one bucket. Prints one JSON
 * line: the answers of three takes (keys under the prefix RUNTIME) from a bucket of two, and of one take after Redis lost the script.
 * @module
 */

import { createClient } from 'redis';
import { redisStore } from '../../src/stores/redis.ts';
import type { BucketSpec } from '../../src/stores/types.ts';

const env = (globalThis as { process?: { env: Record<string, string> } }).process!.env;
const url = env.REDIS_URL!;
const store = redisStore({ url, createClient, prefix: env.RUNTIME });
const bucket: BucketSpec = { name: 'runtime', limit: 2, windowMs: 60_000, algorithm: 'sliding-window' };
const now = Date.UTC(2026, 0, 1);
const takes = [];
for (let i = 0; i < 3; i++) takes.push(await store.consume(bucket, 'k', now));

// The script cache emptied behind the store's back: EVALSHA fails with NOSCRIPT, EVAL follows.
const admin = createClient({ url });
await admin.connect();
await admin.scriptFlush();
admin.destroy();
const afterFlush = await store.consume({ ...bucket, name: 'runtime-2' }, 'k', now);

await store.close();
console.log(JSON.stringify({ takes, afterFlush }));
