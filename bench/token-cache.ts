/**
 * The verified-token cache under many distinct tokens: HS256 tokens (the cache does not care how a
 * token was signed, and HMAC keeps a million signatures cheap), fed to one engine with the default
 * cache of 10,000 entries. After 1,000, 10,000, 100,000 and 1,000,000 distinct tokens: the µs per
 * request of a new token (a miss, evicting the oldest entry once full), of a token seen just before
 * (a hit), and the heap the engine holds (after a full GC) — the bound must hold however many
 * tokens pass.
 * Prints one JSON line: `{ "cache_size", "miss_us": { "1000": … }, "hit_us": { … }, "heap_mb": { … } }`.
 * @module
 */

import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { SignJWT } from 'jose';
import { createEngine, definePolicy, jwt } from '../src/index.ts';
import { AUDIENCE, ISSUER, PATH } from './scenario.ts';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

// BENCH_TOKENS_MAX=100000 stops earlier (a million HS256 tokens take minutes on a busy machine).
const COUNTS = [1_000, 10_000, 100_000, 1_000_000].filter((count) => count <= Number(process.env.BENCH_TOKENS_MAX ?? 1_000_000));
const CACHE_SIZE = 10_000;
const SAMPLE = 2_000;
const secret = new TextEncoder().encode('bench-token-cache-secret-of-32-bytes-or-more');

const engine = createEngine(
  definePolicy({
    transport: { requireHttps: false },
    authn: { user: jwt({ secret, algorithms: ['HS256'], issuer: ISSUER, audience: AUDIENCE, cacheSize: CACHE_SIZE }) },
    routes: { 'GET /users/:id': { authn: ['user'], allow: 'authenticated' } },
  }),
  { log: () => {} },
);
const context = { peer: { address: '127.0.0.1', scheme: 'http' as const }, rawTarget: PATH };
const sign = (n: number) => new SignJWT({ roles: ['user'] }).setProtectedHeader({ alg: 'HS256' }).setSubject(`u${n}`).setIssuer(ISSUER).setAudience(AUDIENCE).setIssuedAt().setExpirationTime('1h').sign(secret);
const send = async (token: string) => {
  const decision = await engine.evaluate(new Request(`http://127.0.0.1${PATH}`, { headers: { authorization: `Bearer ${token}`, host: '127.0.0.1' } }), context);
  if (decision.kind !== 'allow') throw new Error(`token cache bench: denied ${decision.reason}`);
};
const heapMb = () => {
  gc();
  return Number((process.memoryUsage().heapUsed / 2 ** 20).toFixed(1));
};

const baseline = heapMb();
const miss_us: Record<string, number> = {};
const hit_us: Record<string, number> = {};
const heap_mb: Record<string, number> = {};
let fed = 0;
for (const count of COUNTS) {
  // Feed new tokens up to `count`; the last SAMPLE of them are timed (each a miss).
  const timed: string[] = [];
  while (fed < count) {
    const token = await sign(fed++);
    if (count - fed < SAMPLE) timed.push(token);
    else await send(token);
  }
  let start = performance.now();
  for (const token of timed) await send(token);
  miss_us[count] = Number((((performance.now() - start) * 1000) / timed.length).toFixed(2));
  // The same tokens again: all still cached (SAMPLE < CACHE_SIZE).
  start = performance.now();
  for (const token of timed) await send(token);
  hit_us[count] = Number((((performance.now() - start) * 1000) / timed.length).toFixed(2));
  heap_mb[count] = Number((heapMb() - baseline).toFixed(1));
  process.stderr.write(`  ${count} tokens: miss ${miss_us[count]} µs, hit ${hit_us[count]} µs, heap +${heap_mb[count]} MB\n`);
}

console.log(JSON.stringify({ cache_size: CACHE_SIZE, miss_us, hit_us, heap_mb }));
