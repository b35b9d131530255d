/**
 * How `evaluate()` and compiling scale with the number of routes: policies of 10, 100, 1,000 and
 * 10,000 routes (literal and parameter segments mixed), the bench scenario's route among them,
 * evaluated with a token seen before. Compile is `definePolicy` + `createEngine` (median of a few
 * runs); evaluate is the median µs per request over timed batches. Then the same route behind an
 * API-key map of 1 to 1,000,000 keys (the key presented is in the map), and with 1 to 50 buckets.
 * Prints one JSON line: `{ "evaluate_us": { "10": …, … }, "compile_ms": { "10": …, … },
 * "api_keys": { "evaluate_us": { "1": …, … }, "compile_ms": { … } }, "buckets": { "evaluate_us": { "1": …, … } } }`.
 * @module
 */

import * as v from 'valibot';
import { apiKey, createEngine, definePolicy, hashApiKey, jwt, type ApiKeyRecord, type Policy } from '../src/index.ts';
import { timeEvaluations } from './batch.ts';
import { AUDIENCE, ISSUER, ORIGIN, PATH, RATE_LIMIT } from './scenario.ts';
import { scenarioSigner } from './signer.ts';

const SIZES = [10, 100, 1_000, 10_000];
const BATCHES = 60;
const BATCH = 500;

const { publicJwk, sign } = await scenarioSigner();
const token = await sign('scale');

/** The bench policy with `count` routes: the scenario's, and others of three shapes. */
function policyOf(count: number): Policy {
  const routes: Record<string, object> = {
    'GET /users/:id': { authn: ['user'], allow: [{ roles: ['admin'] }, { owner: { param: 'id' } }], rateLimit: ['api'], query: v.strictObject({ fields: v.optional(v.string()) }) },
  };
  for (let i = 1; i < count; i++) {
    const shape = i % 3;
    const key = shape === 0 ? `GET /svc${i}/items/:id` : shape === 1 ? `POST /svc${i}/items` : `GET /svc${i}/items/:id/parts/:part`;
    routes[key] = { authn: ['user'], allow: 'authenticated', rateLimit: ['api'] };
  }
  return {
    transport: { requireHttps: true, allowLoopbackHttp: true },
    cors: { origins: [ORIGIN], credentials: true, maxAge: 86400 },
    authn: { user: jwt({ jwks: { keys: [publicJwk] }, algorithms: ['ES256'], issuer: ISSUER, audience: AUDIENCE }) },
    rateLimits: { api: { limit: RATE_LIMIT.limit, window: RATE_LIMIT.window, by: 'principal' } },
    routes,
  } as Policy;
}

const median = (samples: number[]) => [...samples].sort((a, b) => a - b)[Math.floor(samples.length / 2)]!;
const context = { peer: { address: '127.0.0.1', scheme: 'http' as const }, rawTarget: PATH };
const request = () => new Request(`http://127.0.0.1${PATH}`, { headers: { authorization: `Bearer ${token}`, origin: ORIGIN, host: '127.0.0.1' } });

interface Subject {
  label: string;
  engine: ReturnType<typeof createEngine>;
  makeRequest: () => Request;
}

/** µs per request of one batch of fresh Requests through `subject`'s engine. */
function timeBatch({ engine, makeRequest, label }: Subject): Promise<number> {
  return timeEvaluations(engine, Array.from({ length: BATCH }, makeRequest), context, label);
}

/**
 * Median µs per request of each subject's `evaluate()`, its batches taken in turn with the others'
 * (the first 10 rounds warm up): a burst of load on this machine falls on every size alike, so
 * their ratios hold where a curve measured one size after another would not.
 */
async function timeEvaluate(subjects: Subject[]): Promise<Record<string, number>> {
  const batches = new Map<string, number[]>(subjects.map(({ label }) => [label, []]));
  for (let round = 0; round < BATCHES + 10; round++) {
    for (const subject of subjects) {
      const us = await timeBatch(subject);
      if (round >= 10) batches.get(subject.label)!.push(us);
    }
  }
  return Object.fromEntries([...batches].map(([label, samples]) => [label, Number(median(samples).toFixed(2))]));
}

const evaluate_us: Record<string, number> = {};

const compile_ms: Record<string, number> = {};
const routeSubjects: Subject[] = [];
for (const count of SIZES) {
  const compiles: number[] = [];
  let engine!: ReturnType<typeof createEngine>;
  for (let i = 0; i < (count >= 10_000 ? 3 : 7); i++) {
    const policy = policyOf(count);
    const start = performance.now();
    engine = createEngine(definePolicy(policy));
    compiles.push(performance.now() - start);
  }
  routeSubjects.push({ label: String(count), engine, makeRequest: request });
  compile_ms[count] = Number(median(compiles).toFixed(2));
}
Object.assign(evaluate_us, await timeEvaluate(routeSubjects));

// API-key maps: the key map is hashed once at compile; a request hashes its key and looks it up.
const KEY_COUNTS = [1, 1_000, 100_000, 1_000_000];
const presented = 'pk_bench_presented_key_0000000000000000';
const presentedHash = await hashApiKey(presented);
const api_keys = { evaluate_us: {} as Record<string, number>, compile_ms: {} as Record<string, number> };
const keySubjects: Subject[] = [];
const keyed = () => new Request(`http://127.0.0.1${PATH}`, { headers: { 'x-api-key': presented, host: '127.0.0.1' } });
for (const count of KEY_COUNTS) {
  const keys: Record<string, ApiKeyRecord> = { [presentedHash]: { principal: 'svc_bench', scopes: ['read'] } };
  // Distinct well-formed SHA-256 hex strings: what a map of hashed keys holds.
  for (let i = 1; i < count; i++) keys[i.toString(16).padStart(64, '0')] = { principal: `svc_${i}`, scopes: ['read'] };
  const start = performance.now();
  const engine = createEngine(
    definePolicy({
      transport: { requireHttps: false },
      authn: { service: apiKey({ keys }) },
      routes: { 'GET /users/:id': { authn: ['service'], allow: [{ scopes: ['read'] }] } },
    }),
  );
  api_keys.compile_ms[count] = Number((performance.now() - start).toFixed(2));
  keySubjects.push({ label: String(count), engine, makeRequest: keyed });
}
api_keys.evaluate_us = await timeEvaluate(keySubjects);

// Buckets on one route: every request takes from each (the memory store).
const BUCKET_COUNTS = [1, 5, 20, 50];
const bucketSubjects: Subject[] = [];
for (const count of BUCKET_COUNTS) {
  const rateLimits = Object.fromEntries(Array.from({ length: count }, (_, i) => [`b${i}`, { limit: 1_000_000_000, window: '1h', by: 'principal' as const }]));
  const engine = createEngine(
    definePolicy({
      transport: { requireHttps: false },
      authn: { user: jwt({ jwks: { keys: [publicJwk] }, algorithms: ['ES256'], issuer: ISSUER, audience: AUDIENCE }) },
      rateLimits,
      routes: { 'GET /users/:id': { authn: ['user'], allow: 'authenticated', rateLimit: Object.keys(rateLimits) } },
    }),
  );
  bucketSubjects.push({ label: String(count), engine, makeRequest: request });
}
const buckets = { evaluate_us: await timeEvaluate(bucketSubjects) };

console.log(JSON.stringify({ evaluate_us, compile_ms, api_keys, buckets }));
