/**
 * What telemetry costs per request, in one process: `engine.evaluate()` of the bench scenario (warm
 * token) with no observer, with `otelObserver()` and no OpenTelemetry SDK registered (the API's
 * no-op instruments), with the SDK's MeterProvider recording, and with metrics plus a span per
 * request. Median µs per request over interleaved batches, so that noise falls on all alike.
 * Prints one JSON line: `{ "off_us", "api_no_sdk_us", "sdk_metrics_us", "sdk_metrics_spans_us" }`.
 * @module
 */

import { AggregationTemporality, InMemoryMetricExporter, MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { createEngine, type Engine } from '../src/index.ts';
import { otelObserver } from '../src/telemetry/otel.ts';
import { timeEvaluations } from './batch.ts';
import { ORIGIN, PATH } from './scenario.ts';
import { scenarioSigner } from './signer.ts';
import { benchPolicy } from './stacks/policy.ts';

const BATCHES = 60;
const BATCH = 500;

const { publicJwk, sign } = await scenarioSigner();
const policy = benchPolicy({ alg: 'ES256', publicJwk });
const token = await sign('warm');
const context = { peer: { address: '127.0.0.1', scheme: 'http' as const }, rawTarget: PATH };
const request = () => new Request(`http://127.0.0.1${PATH}`, { headers: { authorization: `Bearer ${token}`, origin: ORIGIN, host: '127.0.0.1' } });

const reader = new PeriodicExportingMetricReader({ exporter: new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE), exportIntervalMillis: 3_600_000 });
const meterProvider = new MeterProvider({ readers: [reader] });
const spans = new InMemorySpanExporter();
const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spans)] });

const engines: Record<string, Engine> = {
  off_us: createEngine(policy),
  api_no_sdk_us: createEngine(policy, { observer: otelObserver() }),
  sdk_metrics_us: createEngine(policy, { observer: otelObserver({ meterProvider, spans: false }) }),
  sdk_metrics_spans_us: createEngine(policy, { observer: otelObserver({ meterProvider, tracerProvider, spans: 'request' }) }),
};

/** µs per request of evaluating one batch of fresh Requests. */
function time(engine: Engine): Promise<number> {
  return timeEvaluations(engine, Array.from({ length: BATCH }, request), context);
}

const median = (samples: number[]) => {
  const sorted = [...samples].sort((a, b) => a - b);
  return Number(sorted[Math.floor(sorted.length / 2)]!.toFixed(2));
};

const samples: Record<string, number[]> = Object.fromEntries(Object.keys(engines).map((name) => [name, []]));
for (let round = 0; round < BATCHES + 10; round++) {
  for (const [name, engine] of Object.entries(engines)) {
    const us = await time(engine);
    if (round >= 10) samples[name]!.push(us);
  }
  spans.reset();
}
await meterProvider.shutdown();
await tracerProvider.shutdown();
console.log(JSON.stringify(Object.fromEntries(Object.entries(samples).map(([name, values]) => [name, median(values)]))));
