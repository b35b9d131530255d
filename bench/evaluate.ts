/**
 * In-process cost of `engine.evaluate()` for the bench scenario, warm (a token seen before) and
 * cold (a new token every request), against `jose.jwtVerify` with an imported CryptoKey alone —
 * the floor that no verifier of a new ES256 token goes below. Median µs per request over many
 * timed batches; the Requests of a batch are built before its clock starts.
 * Also the same cold comparison with 8 requests in flight (`cold_x8_us`, `jose_x8_us`: wall time
 * per request), as a server has them: there the thread-pool hop of each signature check overlaps
 * other requests' work instead of leaving the CPU idle and its caches cold. `cold_x8_cpu_us` and
 * `jose_x8_cpu_us` are the CPU time the process spent per request meanwhile, on every thread: the
 * signature check's share on the thread pool included.
 * The cold figures are WebCrypto's; `cold_native_us` and `cold_native_x8_us` are the same with the
 * runtime's own crypto in the engine's env (`nodeCrypto()`, as `serve()` passes it), and
 * `apikey_us` / `apikey_native_us` an API-key request (one key in the map) without and with it.
 * Prints one JSON line: `{ "warm_us", "cold_us", "cold_native_us", "jose_us", "cold_x8_us",
 * "cold_native_x8_us", "jose_x8_us", "cold_x8_cpu_us", "jose_x8_cpu_us", "apikey_us",
 * "apikey_native_us" }`.
 * @module
 */

import { jwtVerify } from 'jose';
import { nodeCrypto } from '../adapters/node-crypto.ts';
import { apiKey, createEngine, definePolicy, hashApiKey, type Engine } from '../src/index.ts';
import { timeEvaluations } from './batch.ts';
import { AUDIENCE, ISSUER, ORIGIN, PATH } from './scenario.ts';
import { scenarioSigner } from './signer.ts';
import { benchPolicy } from './stacks/policy.ts';

const WARM_BATCHES = 100;
const WARM_BATCH = 500;
const COLD_BATCHES = 40;
const COLD_BATCH = 100;

const { pair, publicJwk, sign } = await scenarioSigner();

const engine: Engine = createEngine(benchPolicy({ alg: 'ES256', publicJwk }));
const nativeEngine: Engine = createEngine(benchPolicy({ alg: 'ES256', publicJwk }), { crypto: nodeCrypto() });
const context = { peer: { address: '127.0.0.1', scheme: 'http' as const }, rawTarget: PATH };
const request = (token: string) =>
  new Request(`http://127.0.0.1${PATH}`, { headers: { authorization: `Bearer ${token}`, origin: ORIGIN, host: '127.0.0.1' } });

const median = (samples: number[]) => {
  const sorted = [...samples].sort((a, b) => a - b);
  return Number(sorted[Math.floor(sorted.length / 2)]!.toFixed(2));
};

/** µs per request of evaluating one batch of fresh Requests. */
function timeEvaluate(tokens: string[], by = engine): Promise<number> {
  return timeEvaluations(by, tokens.map(request), context);
}

async function timeJose(tokens: string[]): Promise<number> {
  const start = performance.now();
  for (const token of tokens) await jwtVerify(token, pair.publicKey, { issuer: ISSUER, audience: AUDIENCE, algorithms: ['ES256'] });
  return ((performance.now() - start) * 1000) / tokens.length;
}

// Warm: one token, verified once and then served from the engine's verified-token cache.
const warmToken = await sign('warm');
const warmTokens = Array.from({ length: WARM_BATCH }, () => warmToken);
for (let i = 0; i < 20; i++) await timeEvaluate(warmTokens);
const warm: number[] = [];
for (let i = 0; i < WARM_BATCHES; i++) warm.push(await timeEvaluate(warmTokens));

// Cold: every request a token never seen before. The warm-up fills the verified-token cache
// (10,000 by default) so that the timed batches run with LRU eviction, as a server would.
const warmUp: string[] = [];
for (let i = 0; i < 10_000; i++) warmUp.push(await sign(`warm-up-${i}`));
for (let i = 0; i < warmUp.length; i += COLD_BATCH) {
  await timeEvaluate(warmUp.slice(i, i + COLD_BATCH));
  await timeEvaluate(warmUp.slice(i, i + COLD_BATCH), nativeEngine);
}
for (let i = 0; i < 5; i++) await timeJose(warmUp.slice(i * COLD_BATCH, (i + 1) * COLD_BATCH));
const cold: number[] = [];
const coldNative: number[] = [];
const jose: number[] = [];
for (let i = 0; i < COLD_BATCHES; i++) {
  const tokens: string[] = [];
  for (let j = 0; j < COLD_BATCH; j++) tokens.push(await sign(`cold-${i}-${j}`));
  // In turn, so that noise falls on all alike; each engine sees the batch's tokens for the first time.
  jose.push(await timeJose(tokens));
  cold.push(await timeEvaluate(tokens));
  coldNative.push(await timeEvaluate(tokens, nativeEngine));
}

/** µs of wall time and of the process's CPU time per request, with `inFlight` requests at a time. */
async function timeInFlight(count: number, inFlight: number, each: (i: number) => Promise<unknown>): Promise<{ wall: number; cpu: number }> {
  const start = performance.now();
  const cpu = process.cpuUsage();
  for (let i = 0; i < count; i += inFlight) await Promise.all(Array.from({ length: Math.min(inFlight, count - i) }, (_, j) => each(i + j)));
  const used = process.cpuUsage(cpu);
  return { wall: ((performance.now() - start) * 1000) / count, cpu: (used.user + used.system) / count };
}

const IN_FLIGHT = 8;
const coldX8: number[] = [];
const coldNativeX8: number[] = [];
const joseX8: number[] = [];
const coldX8Cpu: number[] = [];
const joseX8Cpu: number[] = [];
for (let i = 0; i < COLD_BATCHES; i++) {
  const tokens: string[] = [];
  for (let j = 0; j < COLD_BATCH; j++) tokens.push(await sign(`x8-${i}-${j}`));
  const requests = tokens.map(request);
  const joseTimes = await timeInFlight(COLD_BATCH, IN_FLIGHT, (k) => jwtVerify(tokens[k]!, pair.publicKey, { issuer: ISSUER, audience: AUDIENCE, algorithms: ['ES256'] }));
  joseX8.push(joseTimes.wall);
  joseX8Cpu.push(joseTimes.cpu);
  for (const [by, samples, batch] of [[engine, coldX8, requests], [nativeEngine, coldNativeX8, tokens.map(request)]] as const) {
    const times = await timeInFlight(COLD_BATCH, IN_FLIGHT, async (k) => {
      const decision = await by.evaluate(batch[k]!, context);
      if (decision.kind !== 'allow') throw new Error(`evaluate denied: ${decision.reason}`);
    });
    samples.push(times.wall);
    if (by === engine) coldX8Cpu.push(times.cpu);
  }
}

// An API-key request: the presented key is hashed on every request (SHA-256), then looked up.
const presented = 'pk_bench_presented_key_0000000000000000';
const keyPolicy = definePolicy({
  transport: { requireHttps: false },
  authn: { service: apiKey({ keys: { [await hashApiKey(presented)]: { principal: '42', scopes: ['read'] } } }) },
  routes: { 'GET /users/:id': { authn: ['service'], allow: [{ scopes: ['read'] }] } },
});
const keyEngines = [createEngine(keyPolicy), createEngine(keyPolicy, { crypto: nodeCrypto() })] as const;
const keyed = () => new Request(`http://127.0.0.1${PATH}`, { headers: { 'x-api-key': presented, host: '127.0.0.1' } });
function timeKeyed(by: Engine): Promise<number> {
  return timeEvaluations(by, Array.from({ length: WARM_BATCH }, keyed), context, 'API key');
}
const apiKeyUs: [number[], number[]] = [[], []];
for (let i = 0; i < 5; i++) for (const by of keyEngines) await timeKeyed(by);
for (let i = 0; i < COLD_BATCHES; i++) {
  apiKeyUs[0].push(await timeKeyed(keyEngines[0]));
  apiKeyUs[1].push(await timeKeyed(keyEngines[1]));
}

console.log(
  JSON.stringify({
    warm_us: median(warm),
    cold_us: median(cold),
    cold_native_us: median(coldNative),
    jose_us: median(jose),
    cold_x8_us: median(coldX8),
    cold_native_x8_us: median(coldNativeX8),
    jose_x8_us: median(joseX8),
    cold_x8_cpu_us: median(coldX8Cpu),
    jose_x8_cpu_us: median(joseX8Cpu),
    apikey_us: median(apiKeyUs[0]),
    apikey_native_us: median(apiKeyUs[1]),
  }),
);
