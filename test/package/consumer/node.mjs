// Plain Node ESM, no loader: the core evaluates a request, the Node adapter serves one.
import { createEngine } from 'portcullis';
import { serve } from 'portcullis/node';
import { otelObserver } from 'portcullis/otel';
import { redisStore } from 'portcullis/redis';
import { durableObjectStore } from 'portcullis/durable-objects';
import { hello, policy } from './policy.mjs';
import { checkSealing } from './sealed.mjs';

// The store subpaths resolve to built modules (their optional peers are not installed here).
if (typeof redisStore !== 'function' || typeof durableObjectStore !== 'function') throw new Error('store subpaths: missing exports');

const engine = createEngine(policy, { log: () => {} });
const allowed = await engine.evaluate(new Request('http://127.0.0.1/health'), { peer: { address: '127.0.0.1' } });
const unknown = await engine.evaluate(new Request('http://127.0.0.1/admin'), { peer: { address: '127.0.0.1' } });
if (allowed.kind !== 'allow' || unknown.kind !== 'deny') throw new Error(`evaluate: ${allowed.kind}, ${unknown.kind}`);

// portcullis/otel on @opentelemetry/api with no SDK registered: the decision is the same.
const observed = createEngine(policy, { log: () => {}, observer: otelObserver() });
const observedDenial = await observed.evaluate(new Request('http://127.0.0.1/admin'), { peer: { address: '127.0.0.1' } });
if (observedDenial.kind !== 'deny') throw new Error(`evaluate with otelObserver: ${observedDenial.kind}`);

const gateway = await serve(engine, hello, { port: 0, handleSignals: false });
try {
  const ok = await fetch(`${gateway.url}/health`);
  const denied = await fetch(`${gateway.url}/admin`);
  if (ok.status !== 200 || denied.status !== 404 || !denied.headers.get('content-type')?.includes('problem+json')) {
    throw new Error(`serve: /health ${ok.status}, /admin ${denied.status} ${denied.headers.get('content-type')}`);
  }
} finally {
  await gateway.close();
}
await checkSealing(`node ${process.version}`);
console.log(`node ${process.version}: evaluate, otelObserver, serve and seal ok`);
