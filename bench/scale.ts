/**
 * How `evaluate()` and compiling scale with the number of routes: policies of 10, 100, 1,000 and
 * 10,000 routes (literal and parameter segments mixed), the bench scenario's route among them,
 * evaluated with a token seen before. Compile is `definePolicy` + `createEngine` (median of a few
 * runs); evaluate is the median µs per request over timed batches. Prints one JSON line:
 * `{ "evaluate_us": { "10": …, … }, "compile_ms": { "10": …, … } }`.
 * @module
 */

import * as v from 'valibot';
import { createEngine, definePolicy, jwt, type Policy } from '../src/index.ts';
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

const evaluate_us: Record<string, number> = {};
const compile_ms: Record<string, number> = {};
for (const count of SIZES) {
  const compiles: number[] = [];
  let engine!: ReturnType<typeof createEngine>;
  for (let i = 0; i < (count >= 10_000 ? 3 : 7); i++) {
    const policy = policyOf(count);
    const start = performance.now();
    engine = createEngine(definePolicy(policy));
    compiles.push(performance.now() - start);
  }
  const batches: number[] = [];
  for (let b = 0; b < BATCHES + 10; b++) {
    const requests = Array.from({ length: BATCH }, request);
    const start = performance.now();
    for (const each of requests) {
      const decision = await engine.evaluate(each, context);
      if (decision.kind !== 'allow') throw new Error(`${count} routes: evaluate denied: ${decision.reason}`);
    }
    if (b >= 10) batches.push(((performance.now() - start) * 1000) / BATCH); // the first 10 warm up
  }
  evaluate_us[count] = Number(median(batches).toFixed(2));
  compile_ms[count] = Number(median(compiles).toFixed(2));
}

console.log(JSON.stringify({ evaluate_us, compile_ms }));
