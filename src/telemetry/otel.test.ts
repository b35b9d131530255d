/**
 * otelObserver on the real OpenTelemetry SDK: a MeterProvider read by an in-memory exporter, a
 * tracer provider exporting to memory, and Node's AsyncLocalStorage context manager for the
 * active-span case.
 */
import { context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import {
  AggregationTemporality,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
  type DataPoint,
  type Histogram,
} from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiKey, createEngine, definePolicy, hashApiKey, type EngineEnv, type RateLimitStore } from '../index.ts';
import { otelObserver, type OtelObserverOptions } from './otel.ts';

const API_KEY = 'pk_test_0123456789abcdef0123456789';

async function policy() {
  return definePolicy({
    transport: { requireHttps: false },
    authn: { service: apiKey({ header: 'x-api-key', keys: { [await hashApiKey(API_KEY)]: { principal: 'svc', name: 'test' } } }) },
    versions: { '/v0': { deprecation: '2026-01-01T00:00:00Z' } },
    rateLimits: { tight: { limit: 1, window: '1m', by: 'ip' } },
    routes: {
      'GET /v1/health': { authn: 'anonymous' },
      'GET /v1/items/:id': { authn: ['service'], allow: 'authenticated' },
      'GET /v0/items/:id': { authn: ['service'], allow: 'authenticated' },
      'GET /v1/limited': { authn: 'anonymous', rateLimit: ['tight'] },
    },
  });
}

function sdk() {
  const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
  const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3_600_000 });
  const meterProvider = new MeterProvider({ readers: [reader] });
  const spans = new InMemorySpanExporter();
  const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spans)] });
  /** Every data point of `name`, after a collection. */
  async function points(name: string): Promise<DataPoint<unknown>[]> {
    await reader.forceFlush();
    const metrics = exporter.getMetrics().at(-1)?.scopeMetrics.flatMap((scope) => scope.metrics) ?? [];
    return metrics.filter((metric) => metric.descriptor.name === name).flatMap((metric) => metric.dataPoints as DataPoint<unknown>[]);
  }
  const shutdown = async () => {
    await meterProvider.shutdown();
    await tracerProvider.shutdown();
  };
  return { meterProvider, tracerProvider, spans, points, shutdown };
}

async function engineWith(options: Omit<OtelObserverOptions, 'meterProvider' | 'tracerProvider'> = {}, env: EngineEnv = {}) {
  const telemetry = sdk();
  const observer = otelObserver({ meterProvider: telemetry.meterProvider, tracerProvider: telemetry.tracerProvider, ...options });
  const engine = createEngine(await policy(), { log: () => {}, observer, ...env });
  const send = (path: string, init: RequestInit = {}) => engine.evaluate(new Request(`http://api.test${path}`, init), { peer: { address: '203.0.113.7' } });
  return { ...telemetry, engine, send };
}

describe('metrics', () => {
  let t: Awaited<ReturnType<typeof engineWith>>;
  beforeAll(async () => {
    t = await engineWith();
    await t.send('/v1/health');
    await t.send('/v1/items/1');
    await t.send('/v1/items/1', { headers: { 'x-api-key': 'pk_test_wrong_key_0000000000000000' } });
    await t.send('/v1/items/1', { headers: { 'x-api-key': API_KEY } });
    await t.send('/v0/items/1', { headers: { 'x-api-key': API_KEY } });
    await t.send('/v1/limited');
    await t.send('/v1/limited');
    await t.send('/nowhere');
    await t.send('/v1/health', { method: 'BREW' });
  });
  afterAll(() => t.shutdown());

  it('portcullis.decisions counts by outcome, reason, http.route and http.request.method', async () => {
    const points = (await t.points('portcullis.decisions')).map(({ attributes, value }) => ({ ...attributes, value }));
    expect(points).toEqual(
      expect.arrayContaining([
        { outcome: 'allow', 'http.route': 'GET /v1/health', 'http.request.method': 'GET', value: 1 },
        { outcome: 'deny', reason: 'authn.required', 'http.route': 'GET /v1/items/:id', 'http.request.method': 'GET', value: 1 },
        { outcome: 'deny', reason: 'authn.key_unknown', 'http.route': 'GET /v1/items/:id', 'http.request.method': 'GET', value: 1 },
        { outcome: 'allow', 'http.route': 'GET /v1/items/:id', 'http.request.method': 'GET', value: 1 },
        { outcome: 'deny', reason: 'ratelimit.exceeded', 'http.route': 'GET /v1/limited', 'http.request.method': 'GET', value: 1 },
        { outcome: 'deny', reason: 'route.not_found', 'http.request.method': 'GET', value: 1 },
      ]),
    );
    // A method a client made up is one label value, not one per spelling.
    expect(points).toContainEqual({ outcome: 'deny', reason: 'route.method_not_allowed', 'http.request.method': '_OTHER', value: 1 });
    expect(points.reduce((sum, point) => sum + (point.value as number), 0)).toBe(9);
  });

  it('portcullis.authn.failures names the method and the reason; a missing credential has no method', async () => {
    const points = (await t.points('portcullis.authn.failures')).map(({ attributes, value }) => ({ ...attributes, value }));
    expect(points).toEqual(expect.arrayContaining([{ reason: 'authn.required', value: 1 }, { method: 'service', reason: 'authn.key_unknown', value: 1 }]));
  });

  it('portcullis.ratelimit.exceeded counts by bucket; portcullis.deprecated.requests by route and version', async () => {
    expect((await t.points('portcullis.ratelimit.exceeded')).map(({ attributes, value }) => ({ ...attributes, value }))).toEqual([{ bucket: 'tight', value: 1 }]);
    expect((await t.points('portcullis.deprecated.requests')).map(({ attributes, value }) => ({ ...attributes, value }))).toEqual([
      { 'http.route': 'GET /v0/items/:id', version: '/v0', value: 1 },
    ]);
  });

  it('portcullis.evaluate.duration is a histogram in seconds with one sample per request', async () => {
    const points = await t.points('portcullis.evaluate.duration');
    const count = points.reduce((sum, point) => sum + (point.value as Histogram).count, 0);
    expect(count).toBe(9);
    const sum = points.reduce((total, point) => total + ((point.value as Histogram).sum ?? 0), 0);
    expect(sum).toBeGreaterThan(0);
    expect(sum).toBeLessThan(9);
  });
});

it('portcullis.store.errors counts store failures by the store name', async () => {
  const broken: RateLimitStore = {
    name: 'flaky',
    consume: () => Promise.reject(new Error('down')),
    peek: () => Promise.reject(new Error('down')),
  };
  const t = await engineWith({}, { rateLimitStore: broken });
  expect((await t.send('/v1/limited')).kind).toBe('deny');
  const points = await t.points('portcullis.store.errors');
  expect(points.map(({ attributes, value }) => ({ ...attributes, value }))).toEqual([{ store: 'flaky', value: 1 }]);
  expect(points[0]!.value).toBe(1);
  await t.shutdown();
});

describe('spans', () => {
  it("spans: 'request' makes a portcullis.evaluate span per request, with the decision and no credential or query", async () => {
    const t = await engineWith({ spans: 'request' });
    await t.send('/v1/items/1?access_token=secret-in-query', { headers: { 'x-api-key': 'pk_test_wrong_key_0000000000000000', cookie: 'session=s3cret' } });
    const [span] = t.spans.getFinishedSpans();
    expect(span!.name).toBe('portcullis.evaluate');
    expect(span!.attributes).toMatchObject({
      'portcullis.decision': 'deny',
      'portcullis.reason': 'authn.key_unknown',
      'http.route': 'GET /v1/items/:id',
      'http.request.method': 'GET',
      'http.response.status_code': 401,
    });
    expect(JSON.stringify(span!.attributes)).not.toMatch(/secret|s3cret|pk_test|access_token/);
    expect(span!.ended).toBe(true);
    await t.shutdown();
  });

  it("spans: 'active' (the default) puts the decision on the span the application's instrumentation made", async () => {
    const manager = new AsyncLocalStorageContextManager().enable();
    context.setGlobalContextManager(manager);
    try {
      const t = await engineWith();
      const server = t.tracerProvider.getTracer('http-server');
      await server.startActiveSpan('GET', async (span) => {
        await t.send('/v1/items/1');
        span.end();
      });
      const [span] = t.spans.getFinishedSpans();
      expect(span!.name).toBe('GET');
      expect(span!.attributes).toEqual({ 'portcullis.decision': 'deny', 'portcullis.reason': 'authn.required', 'http.route': 'GET /v1/items/:id' });
      await t.shutdown();
    } finally {
      context.disable();
    }
  });
});

it('without an SDK registered, the observer records nothing and the engine decides as before', async () => {
  expect(trace.getActiveSpan()).toBeUndefined();
  const engine = createEngine(await policy(), { log: () => {}, observer: otelObserver() });
  const decision = await engine.evaluate(new Request('http://api.test/v1/items/1'), { peer: { address: '203.0.113.7' } });
  expect(decision.kind === 'deny' && decision.reason).toBe('authn.required');
});

it('an observer that throws changes no decision', async () => {
  const boom = () => {
    throw new Error('observer down');
  };
  const engine = createEngine(await policy(), { log: () => {}, observer: { evaluated: boom, authnFailed: boom } });
  const decision = await engine.evaluate(new Request('http://api.test/v1/items/1'), { peer: { address: '203.0.113.7' } });
  expect(decision.kind === 'deny' && decision.reason).toBe('authn.required');
});
