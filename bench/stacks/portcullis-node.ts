/**
 * Stack 4: portcullis on its Node adapter (`serve(policy, handler)`), with the memory store, or with
 * redisStore when the runner passes BENCH_REDIS_URL (the store run). With BENCH_CRYPTO=native, every signature
 * is checked by `nodeCrypto()` rather than WebCrypto (the `portcullis-node-native` reference).
 * @module
 */

import { createClient } from 'redis';
import { nodeCrypto, serve } from '../../adapters/node.ts';
import { redisStore } from '../../src/stores/redis.ts';
import { HOST, keyFromEnv, userBody } from '../scenario.ts';
import { announce } from './listen.ts';
import { benchPolicy } from './policy.ts';

// A string body, as Hono's c.json() makes: @hono/node-server writes it without a stream (Response.json()
// would build a full fetch Response whose body stream the server must pump).
const json = { 'content-type': 'application/json' };
const running = await serve(benchPolicy(keyFromEnv()), (_request, decision) => new Response(JSON.stringify(userBody(decision.params.id!)), { headers: json }), {
  port: 0,
  hostname: HOST,
  handleSignals: false,
  env: {
    ...(process.env.BENCH_REDIS_URL && { rateLimitStore: redisStore({ url: process.env.BENCH_REDIS_URL, createClient }) }),
    ...(process.env.BENCH_CRYPTO === 'native' && { crypto: nodeCrypto() }),
  },
});

await announce(running.server);
