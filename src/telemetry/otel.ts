/**
 * `portcullis/otel`: an engine observer on OpenTelemetry (`@opentelemetry/api`, an optional peer).
 * Metrics and span attributes name what the engine decided; nothing in them is a token, a key, a
 * cookie or a query string. Until the application registers an SDK, the API's instruments are
 * no-ops: the observer then costs a few empty calls per request.
 * @module
 */

import { metrics, SpanStatusCode, trace, type Attributes, type MeterProvider, type TracerProvider } from '@opentelemetry/api';
import type { EngineObserver, EvaluationRecord } from './observer.ts';

export type { AlertRecord, EngineObserver, EvaluationRecord } from './observer.ts';

/** Options of `otelObserver()`. */
export interface OtelObserverOptions {
  /**
   * Where the metrics go. The API has no stand-in that forwards to an SDK registered later:
   * register the SDK before calling `otelObserver()`, or pass its provider here.
   * @default the global MeterProvider (`metrics.getMeterProvider()`) at the time of the call
   */
  meterProvider?: MeterProvider;
  /** @default the global TracerProvider */
  tracerProvider?: TracerProvider;
  /**
   * `active`: the decision, reason and route go onto the span active while the engine evaluates
   * (the server span an HTTP instrumentation made), and nothing else happens when there is none.
   * `request`: a `portcullis.evaluate` span per request, a child of the active one.
   * `false`: metrics only.
   * @default 'active'
   */
  spans?: 'active' | 'request' | false;
}

/** Methods OpenTelemetry's HTTP conventions name; any other becomes `_OTHER` (a label must not take what a client invents). */
const KNOWN_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH']);

/** Bounds of `portcullis.evaluate.duration`, seconds: a cached-token decision takes tens of microseconds. */
const DURATION_BUCKETS = [0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

/**
 * An engine observer that records on OpenTelemetry:
 * - `portcullis.decisions` (counter) {outcome, reason, http.route, http.request.method};
 * - `portcullis.authn.failures` {method, reason}; `portcullis.ratelimit.exceeded` {bucket};
 * - `portcullis.deprecated.requests` {http.route, version}; `portcullis.store.errors` {store};
 * - `portcullis.alerts` {alert, kind}; `portcullis.evaluate.duration` (histogram, s) {outcome, http.route};
 * - on spans: `portcullis.decision`, `portcullis.reason`, `http.route`.
 *
 * @example
 * ```ts
 * import { otelObserver } from 'portcullis/otel';
 * // after the OpenTelemetry SDK is registered:
 * const engine = createEngine(policy, { observer: otelObserver() });
 * ```
 * @see https://opentelemetry.io/docs/specs/semconv/http/http-metrics/
 */
export function otelObserver(options: OtelObserverOptions = {}): EngineObserver {
  const meter = (options.meterProvider ?? metrics.getMeterProvider()).getMeter('portcullis');
  const tracer = (options.tracerProvider ?? trace.getTracerProvider()).getTracer('portcullis');
  const spans = options.spans ?? 'active';

  const decisions = meter.createCounter('portcullis.decisions', { description: 'Requests evaluated, by outcome and reason' });
  const authnFailures = meter.createCounter('portcullis.authn.failures', { description: 'Requests authentication refused' });
  const rateLimited = meter.createCounter('portcullis.ratelimit.exceeded', { description: 'Requests over a rate-limit bucket' });
  const deprecated = meter.createCounter('portcullis.deprecated.requests', { description: 'Requests to a deprecated API version' });
  const storeErrors = meter.createCounter('portcullis.store.errors', { description: 'Rate-limit store failures and timeouts' });
  const alerts = meter.createCounter('portcullis.alerts', { description: 'Security alerts raised' });
  const duration = meter.createHistogram('portcullis.evaluate.duration', {
    description: 'Time to evaluate a request against the policy',
    unit: 's',
    advice: { explicitBucketBoundaries: DURATION_BUCKETS },
  });

  function onSpan(record: EvaluationRecord, attributes: Attributes) {
    const spanAttributes: Attributes = { 'portcullis.decision': record.outcome };
    if (record.reason !== undefined) spanAttributes['portcullis.reason'] = record.reason;
    if (record.route !== undefined) spanAttributes['http.route'] = record.route;
    if (spans === 'active') {
      trace.getActiveSpan()?.setAttributes(spanAttributes);
      return;
    }
    const span = tracer.startSpan('portcullis.evaluate', { startTime: record.startTime, attributes: { ...attributes, ...spanAttributes } });
    if (record.status !== undefined) span.setAttribute('http.response.status_code', record.status);
    if (record.status !== undefined && record.status >= 500) span.setStatus({ code: SpanStatusCode.ERROR, message: record.reason });
    span.end(record.startTime + record.durationMs);
  }

  return {
    evaluated(record) {
      const attributes: Attributes = {
        outcome: record.outcome,
        'http.request.method': KNOWN_METHODS.has(record.method) ? record.method : '_OTHER',
      };
      if (record.reason !== undefined) attributes.reason = record.reason;
      if (record.route !== undefined) attributes['http.route'] = record.route;
      decisions.add(1, attributes);
      duration.record(record.durationMs / 1000, record.route === undefined ? { outcome: record.outcome } : { outcome: record.outcome, 'http.route': record.route });
      if (spans) onSpan(record, attributes);
    },
    authnFailed(method, reason) {
      authnFailures.add(1, method === undefined ? { reason } : { method, reason });
    },
    rateLimited(bucket) {
      rateLimited.add(1, { bucket });
    },
    deprecated(route, version) {
      deprecated.add(1, { 'http.route': route, version });
    },
    storeFailed(store) {
      storeErrors.add(1, { store });
    },
    alerted({ alert, kind }) {
      alerts.add(1, { alert, kind });
    },
  };
}
